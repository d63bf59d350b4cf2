import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mailerFor, type Mail } from "../workers/mail.ts";

const MAIL: Mail = { to: "ana@example.com", subject: "Reset your WeChatting password", text: "Open https://wechatting.test/reset?token=abc" };
const HTTP = {
  DB: env.DB,
  MAIL_MODE: "http" as const,
  MAIL_FROM: "WeChatting <no-reply@wechatting.example>",
  MAIL_API_URL: "https://mail.example/v1/send",
  MAIL_API_KEY: "mail-api-key-SECRET-123",
};

/** A fetch that records requests and answers with `status`. */
function recordingFetch(status = 202, body = "") {
  const requests: Request[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push(new Request(input, init));
    return new Response(body, { status });
  }) as typeof fetch;
  return { fetcher, requests };
}

describe("dev mail mode", () => {
  it("stores every mail in the dev mailbox table instead of sending it", async () => {
    const to = `dev-${crypto.randomUUID()}@example.com`;
    await mailerFor({ ...env, MAIL_MODE: "dev" }).send({ ...MAIL, to });
    const row = await env.DB.prepare(`SELECT * FROM dev_mailbox WHERE "to" = ?1`).bind(to).first();
    expect(row).toMatchObject({ to, subject: MAIL.subject, text: MAIL.text, sent_at: expect.any(Number) });
  });
});

describe("http mail mode", () => {
  it("POSTs {from, to, subject, text} as JSON to MAIL_API_URL with the API key as a bearer token", async () => {
    const { fetcher, requests } = recordingFetch();
    await mailerFor(HTTP, fetcher).send(MAIL);
    expect(requests).toHaveLength(1);
    const [request] = requests as [Request];
    expect([request.method, request.url]).toEqual(["POST", HTTP.MAIL_API_URL]);
    expect(request.headers.get("authorization")).toBe(`Bearer ${HTTP.MAIL_API_KEY}`);
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(await request.json()).toEqual({ from: HTTP.MAIL_FROM, ...MAIL });
  });

  it("throws on a non-2xx answer with a message that names neither the key nor the provider's body", async () => {
    const { fetcher } = recordingFetch(401, `{"error":"bad key mail-api-key-SECRET-123 for ana@example.com"}`);
    const error = await mailerFor(HTTP, fetcher).send(MAIL).then(() => null, (e: Error) => e);
    expect(error?.message).toBe("mail provider at mail.example answered 401");
    expect(error?.message).not.toContain(HTTP.MAIL_API_KEY);
  });

  it("fails closed when a setting is missing, the URL is not https, or MAIL_MODE is unknown", () => {
    for (const missing of ["MAIL_FROM", "MAIL_API_URL", "MAIL_API_KEY"] as const) {
      expect(() => mailerFor({ ...HTTP, [missing]: undefined })).toThrow(/missing/);
      expect(() => mailerFor({ ...HTTP, [missing]: "" })).toThrow(/missing/);
    }
    expect(() => mailerFor({ ...HTTP, MAIL_API_URL: "http://mail.example/v1/send" })).toThrow(/https/);
    expect(() => mailerFor({ ...HTTP, MAIL_API_URL: "http://127.0.0.1:9000/send" })).not.toThrow();
    for (const mode of [undefined, "", "smtp", "DEV"]) {
      expect(() => mailerFor({ ...HTTP, MAIL_MODE: mode as never })).toThrow(/MAIL_MODE/);
    }
  });

  it("refuses a recipient or subject with a line break before anything is sent", async () => {
    const { fetcher, requests } = recordingFetch();
    const mailer = mailerFor(HTTP, fetcher);
    await expect(mailer.send({ ...MAIL, subject: "Hi\r\nBcc: eve@example.com" })).rejects.toThrow(/one line/);
    await expect(mailer.send({ ...MAIL, to: "ana@example.com\nbob@example.com" })).rejects.toThrow(/one line/);
    expect(requests).toHaveLength(0);
  });
});
