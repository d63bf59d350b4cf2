import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { devMailbox } from "../workers/routes/dev-mailbox.ts";

const app = new Hono<{ Bindings: Cloudflare.Env }>().route("/dev/mailbox", devMailbox);
const get = (path: string, bindings: Partial<Cloudflare.Env> = {}) => app.request(`https://wechatting.test${path}`, {}, { ...env, ...bindings });

const TO = `mailbox-${crypto.randomUUID()}@example.com`;
const T0 = Date.UTC(2026, 10, 25, 9, 30);

beforeAll(async () => {
  const insert = env.DB.prepare(`INSERT INTO dev_mailbox (id, "to", subject, text, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)`);
  await env.DB.batch([
    insert.bind("m-old", TO, "Welcome", "Hello.\nConfirm: https://wechatting.test/verify-email?token=aa.bb&x=1.", T0),
    insert.bind("m-new", TO, `<script>alert("x")</script> & "quotes"`, `Click javascript:alert(1) or <img src=x onerror=alert(1)>\nhttps://wechatting.test/reset?token=cc.dd`, T0 + 60_000),
    insert.bind("m-other", "someone-else@example.com", "Other", "Not for you", T0 + 120_000),
  ]);
});

describe("dev mailbox JSON", () => {
  it("lists the mails to one recipient, newest first", async () => {
    const response = await get(`/dev/mailbox/messages.json?to=${encodeURIComponent(TO)}`);
    expect(response.status).toBe(200);
    const { messages } = await response.json<{ messages: { id: string; to: string; subject: string; text: string; sentAt: number }[] }>();
    expect(messages.map((m) => m.id)).toEqual(["m-new", "m-old"]);
    expect(messages[1]).toMatchObject({ to: TO, subject: "Welcome", sentAt: T0 });
  });

  it("is never cached: the mails hold live links", async () => {
    expect((await get("/dev/mailbox/messages.json")).headers.get("cache-control")).toBe("no-store");
  });
});

describe("dev mailbox page", () => {
  it("is an accessible HTML page with the mails newest first and their links clickable", async () => {
    const response = await get(`/dev/mailbox?to=${encodeURIComponent(TO)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).toMatch(/<html lang="en">/);
    expect(page).toContain("<title>Dev mailbox · WeChatting</title>");
    expect(page).toContain('<label for="to">Recipient</label>');
    expect(page.indexOf('id="mail-m-new"')).toBeLessThan(page.indexOf('id="mail-m-old"'));
    expect(page).not.toContain("mail-m-other");
    // The link ends before the sentence's full stop, and its & is escaped in the attribute and the text.
    expect(page).toContain(
      '<a href="https://wechatting.test/verify-email?token=aa.bb&amp;x=1">https://wechatting.test/verify-email?token=aa.bb&amp;x=1</a>.',
    );
    expect(page).toContain('<time datetime="2026-11-25T09:30:00.000Z">2026-11-25 09:30:00 UTC</time>');
  });

  it("escapes everything a mail contains and links only http(s) URLs", async () => {
    const page = await (await get(`/dev/mailbox?to=${encodeURIComponent(TO)}`)).text();
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;");
    expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(page).not.toContain('href="javascript:');
  });

  it("loads nothing from elsewhere and has no script or inline style (it runs under the strict CSP)", async () => {
    const page = await (await get("/dev/mailbox")).text();
    const tags = page.match(/<[a-z][^>]*>/gi) ?? [];
    expect(tags.filter((tag) => /^<(script|style|link|img|iframe|object|embed)\b|\s(on[a-z]+|style|src)=/i.test(tag))).toEqual([]);
    const links = tags.filter((tag) => /\shref=/.test(tag));
    expect(links.length).toBeGreaterThan(0);
    expect(links.every((tag) => tag.startsWith('<a href="https://wechatting.test/'))).toBe(true);
  });

  it("says so when a recipient has no mail", async () => {
    const page = await (await get("/dev/mailbox?to=nobody%40example.com")).text();
    expect(page).toContain("<p>No mail to nobody@example.com yet.</p>");
  });
});

describe("outside dev mode", () => {
  it("answers 404 for the page and the JSON, whatever MAIL_MODE is otherwise", async () => {
    for (const MAIL_MODE of ["http", undefined] as const) {
      for (const path of ["/dev/mailbox", "/dev/mailbox/messages.json"]) {
        const response = await get(path, { MAIL_MODE: MAIL_MODE as never });
        expect(response.status, `${MAIL_MODE} ${path}`).toBe(404);
        expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
      }
    }
  });
});
