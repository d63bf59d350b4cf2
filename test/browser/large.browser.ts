/**
 * Big inboxes in a real browser: 5,000 conversations and one conversation of 10,000 messages,
 * ingested through signed webhooks like any other. The lists are virtualised and paged by keyset,
 * so the DOM stays the size of a screenful however far the agent scrolls, and a conversation opens
 * on its newest page. Frame times and the time to open are printed, not asserted: they measure the
 * machine as much as the app (BENCHMARKS.md keeps them).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { waMessageObject, waMessagesItem, type WaAccount, type WaCustomer } from "../../scripts/meta-simulator/payloads.ts";
import { launch, openPage, screenshot } from "./browser.ts";
import { connectWhatsApp, conversationRows, mainNav, signUp } from "./flows.ts";
import { startStack, type Stack } from "./stack.ts";

const WA: WaAccount = { wabaId: "100000000000002", phoneNumberId: "200000000000002", displayPhoneNumber: "15550003333" };
const CONVERSATIONS = 5_000;
const MESSAGES = 10_000;
const HEAVY: WaCustomer = { waId: "4917000000000", name: "Heavy Hannah" };

let stack: Stack;
let browser: Browser;
let page: Page;

/**
 * Sends messages in signed POSTs of `perPost`, `senders` at a time (like Meta's parallel deliveries),
 * each waiting while the runtime is near its open-file limit (every new conversation is a Durable
 * Object holding three files for a while: scripts/open-files.ts). Returns how long the senders waited.
 */
async function ingest(messages: { customer: WaCustomer; id: string; ts: number; text: string }[], perPost: number, senders: number) {
  const posts: (typeof messages)[] = [];
  for (let i = 0; i < messages.length; i += perPost) posts.push(messages.slice(i, i + perPost));
  let waited = 0;
  const worker = async () => {
    for (let batch = posts.shift(); batch; batch = posts.shift()) {
      const item = waMessagesItem(
        WA,
        batch.map((m) => ({ customer: m.customer, message: waMessageObject({ account: WA, customer: m.customer, id: m.id, ts: m.ts }, "text", { body: m.text }) })),
      );
      // Like Meta, deliver again after a 5xx or a dropped connection, for up to a minute (the Worker
      // deduplicates by Meta's ids).
      for (let attempt = 1; ; attempt++) {
        try {
          waited += await stack.roomForFiles();
          await stack.webhook("whatsapp", [item]);
          break;
        } catch (error) {
          if (attempt === 30) throw error;
          await new Promise((r) => setTimeout(r, Math.min(2_000, 250 * attempt)));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: senders }, worker));
  return Math.round(waited);
}

const domCount = (selector: string) => page.locator(selector).count();

// 30 minutes: about 2 normally, about 11 where the open-file limit is 1,024 (the ingest then waits
// for workerd to close idle objects' files, which no faster machine speeds up).
describe("large inboxes in Chromium", { timeout: 1_800_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launch();
    ({ page } = await openPage(browser, stack.origin));
    await page.goto("/signup");
    await page.getByRole("button", { name: "Reject all" }).click();
    await signUp(page, "Lara Large", `large-${Date.now()}@example.com`);
    await connectWhatsApp(page, stack, WA, "token");
    const now = Date.now();
    const started = performance.now();
    const waited = await ingest(
      Array.from({ length: CONVERSATIONS }, (_, i) => ({
        customer: { waId: `4916${String(i).padStart(9, "0")}`, name: `Customer ${i}` },
        id: `wamid.many-${i}`,
        ts: now - 86_400_000 + i * 1000,
        text: `Hello from customer ${i}`,
      })),
      5,
      4,
    );
    console.log(`# ${CONVERSATIONS} conversations ingested after ${Math.round(performance.now() - started)} ms (its senders waited ${waited} ms in all for the runtime to free files)`);
    // One a minute for a week: several day separators, the newest last.
    await ingest(Array.from({ length: MESSAGES }, (_, i) => ({ customer: HEAVY, id: `wamid.heavy-${i}`, ts: now - (MESSAGES - i) * 60_000, text: `Message number ${i}` })), 50, 3);
    console.log(`# ingested ${CONVERSATIONS} conversations and ${MESSAGES} messages in ${Math.round(performance.now() - started)} ms`);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test(`${CONVERSATIONS.toLocaleString("en")} conversations scroll to the end with a DOM of a screenful`, async () => {
    await mainNav(page, "Inbox").click();
    // The live socket opens late, as when workerd is busy: its "read what changed" refresh must
    // merge into the pages already scrolled through, not throw the agent back to the first one.
    let openSocket!: () => void;
    const socketHeld = new Promise<void>((resolve) => (openSocket = resolve));
    await page.route("**/live-ticket", async (route) => {
      await socketHeld;
      await route.continue();
    });
    await page.reload();
    await page.getByRole("form", { name: "Filter conversations" }).getByLabel("Status").selectOption("");
    const list = page.getByRole("listbox", { name: /Conversations/ });
    await list.getByRole("option").first().waitFor();
    await list.focus();
    const pages: string[] = [];
    page.on("request", (request) => {
      if (/\/conversations\?/.test(request.url())) pages.push(new URL(request.url()).searchParams.get("cursor") ?? "first");
    });
    const total = `Conversations, ${CONVERSATIONS + 1}`;
    let mostRows = 0;
    let socketOpened = false;
    // "Conversations, 300 loaded" while more pages remain, "Conversations, 5001" at the end.
    const loaded = async () => Number((await list.getAttribute("aria-label"))?.match(/, (\d+)/)?.[1]);
    const started = performance.now();
    for (const deadline = Date.now() + 180_000; Date.now() < deadline && (await list.getAttribute("aria-label")) !== total; ) {
      await page.keyboard.press("End");
      await page.waitForTimeout(50);
      mostRows = Math.max(mostRows, await domCount('[role="option"]'));
      if (!socketOpened && (await loaded()) > 300) {
        socketOpened = true;
        const before = await loaded();
        const refreshed = page.waitForResponse((r) => /\/conversations\?/.test(r.url()) && !new URL(r.url()).searchParams.has("cursor"));
        openSocket();
        await refreshed;
        await page.waitForTimeout(100);
        assert.ok((await loaded()) >= before, `the refresh kept the ${before} conversations already loaded (now ${await loaded()})`);
      }
    }
    await page.unroute("**/live-ticket");
    assert.ok(socketOpened, "the socket opened once the list was longer than three pages");
    console.log(`# End pressed until all ${CONVERSATIONS + 1} conversations were loaded: ${Math.round(performance.now() - started)} ms, ${pages.length} pages`);
    assert.equal(await list.getAttribute("aria-label"), total, "every conversation was reached by scrolling");
    assert.ok(mostRows <= 60, `at most 60 rows in the DOM (saw ${mostRows})`);
    assert.ok(pages.length >= Math.ceil(CONVERSATIONS / 100), `the list arrived page by page (${pages.length} requests)`);
    const repeated = pages.filter((cursor, i) => cursor !== "first" && pages.indexOf(cursor) !== i);
    assert.deepEqual(repeated, [], "each page was asked for once, by the previous page's cursor");
    await list.getByRole("option", { name: /Customer 0\b/ }).waitFor();
    const frames = (await list.evaluate(
      (el) =>
        new Promise<number[]>((resolve) => {
          // Runs in the page; Node's types know no requestAnimationFrame.
          const frame = (globalThis as unknown as { requestAnimationFrame(callback: () => void): void }).requestAnimationFrame;
          const gaps: number[] = [];
          let last = performance.now();
          el.scrollTop = 0;
          const step = () => {
            const t = performance.now();
            gaps.push(t - last);
            last = t;
            el.scrollTop += 900;
            if (el.scrollTop + el.clientHeight < el.scrollHeight && gaps.length < 300) frame(step);
            else resolve(gaps.slice(1));
          };
          frame(step);
        }),
    )) as number[];
    const p95 = frames.sort((a, b) => a - b)[Math.floor(frames.length * 0.95)]!;
    const p50 = frames[Math.floor(frames.length * 0.5)]!;
    console.log(`# list scroll over ${CONVERSATIONS + 1} rows: ${frames.length} frames, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);
  });

  test(`a conversation of ${MESSAGES.toLocaleString("en")} messages opens on its newest page and pages back with a bounded DOM`, async () => {
    await page.keyboard.press("Home");
    const row = conversationRows(page).filter({ hasText: "Heavy Hannah" });
    await row.waitFor();
    // Timed in the page, from the click to the newest message in the DOM (no driver round trips).
    const openMs = Number(
      await row.evaluate(
        (el, text) =>
          new Promise<number>((resolve) => {
            const started = performance.now();
            const seen = () => el.ownerDocument.querySelector('[role="log"]')?.textContent?.includes(text);
            // Runs in the page; Node's types know no MutationObserver.
            type Observer = { observe(node: unknown, options: object): void; disconnect(): void };
            const Observer = (globalThis as unknown as { MutationObserver: new (callback: () => void) => Observer }).MutationObserver;
            const observer = new Observer(() => {
              if (seen()) {
                observer.disconnect();
                resolve(performance.now() - started);
              }
            });
            observer.observe(el.ownerDocument.body, { childList: true, subtree: true, characterData: true });
            (el as unknown as { click(): void }).click();
          }),
        `Message number ${MESSAGES - 1}`,
      ),
    );
    const log = page.getByRole("log", { name: "Messages" });
    const [, , workspaceId, , conversationId] = new URL(page.url()).pathname.split("/");
    const apiMs = Number(
      await page.evaluate(`(async () => { const t = performance.now(); await fetch("/api/workspaces/${workspaceId}/conversations/${conversationId}/messages?limit=50"); return performance.now() - t; })()`),
    );
    console.log(`# newest page of ${MESSAGES} messages shown ${Math.round(openMs)} ms after the click (the API answers that page in ${Math.round(apiMs)} ms)`);
    await screenshot(page, "20-thread-10000-messages");
    let mostArticles = 0;
    for (let i = 0; i < 10; i++) {
      await log.evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(300);
      mostArticles = Math.max(mostArticles, await domCount('[role="log"] article'));
    }
    const shown = (await log.innerText()).match(/Message number (\d+)/g)!.map((m) => Number(m.split(" ").at(-1)));
    assert.ok(Math.min(...shown) < MESSAGES - 200, `older pages load while scrolling up (oldest shown: ${Math.min(...shown)})`);
    assert.ok(mostArticles <= 80, `at most 80 messages in the DOM (saw ${mostArticles})`);
  });
});
