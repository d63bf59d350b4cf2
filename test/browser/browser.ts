/**
 * @module
 * Debian's Chromium driven by playwright-core (never a downloaded browser), with every request the
 * page makes recorded, so a test can prove that nothing it loads comes from elsewhere.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type APIResponse, type Browser, type BrowserContext, type Page, type Route } from "playwright-core";

export const ARTIFACTS = path.join(import.meta.dirname, "artifacts");

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export async function openPage(browser: Browser, origin: string, viewport = { width: 1280, height: 800 }) {
  const context: BrowserContext = await browser.newContext({ baseURL: origin, viewport });
  const requests: string[] = [];
  const cspViolations: string[] = [];
  const page: Page = await context.newPage();
  // The inbox's own requests; Meta's login window is another page, Meta's by design.
  page.on("request", (request) => requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return { context, page, requests, cspViolations };
}

/** Closes a context after its pages have left the app, so their sockets close with a close frame on unload rather than being cut. */
export async function closeContext(context: BrowserContext): Promise<void> {
  await Promise.all(context.pages().map((page) => page.goto("about:blank").catch(() => undefined)));
  await context.close();
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/**
 * Late answers are tagged, and the page records each tagged answer once the app has read its body: a
 * test can then wait until the app has had a late answer instead of waiting a fixed time. The
 * record is made before the app's own `await` resumes; `heldAnswersParsed` also lets a frame pass.
 */
const HELD_ANSWER = "x-test-held-answer";
let heldAnswers = 0;

/** Passes the route's answer on to the page, tagged; returns the tag. */
async function fulfillHeld(page: Page, route: Route, response: APIResponse): Promise<string> {
  await page.evaluate((header) => {
    const w = globalThis as unknown as { heldParsed?: string[] };
    if (w.heldParsed) return;
    w.heldParsed = [];
    // openapi-fetch reads a body of unknown length as text, any other as JSON.
    for (const read of ["json", "text"] as const) {
      const original = Response.prototype[read] as (this: Response) => Promise<unknown>;
      Object.assign(Response.prototype, {
        [read](this: Response) {
          const tag = this.headers.get(header);
          return original.call(this).then((value) => {
            if (tag) w.heldParsed!.push(tag);
            return value;
          });
        },
      });
    }
  }, HELD_ANSWER);
  const tag = String(++heldAnswers);
  await route.fulfill({ response, headers: { ...response.headers(), [HELD_ANSWER]: tag } });
  return tag;
}

/** Resolves once the app has parsed every tagged answer, and a frame has passed since. */
async function heldAnswersParsed(page: Page, tags: readonly string[]): Promise<void> {
  await page.waitForFunction((expected) => expected.every((tag) => (globalThis as unknown as { heldParsed?: string[] }).heldParsed?.includes(tag)), tags);
  await page.evaluate(`new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))`);
}

/**
 * Holds back the answers to requests (GETs unless told) whose address matches `url` until released:
 * each is fetched at once, so it says what the server held at that moment, but reaches the page only
 * later. This is how a test makes an earlier read answer after a later one.
 */
export async function holdAnswers(page: Page, url: RegExp, method = "GET") {
  let letGo!: () => void;
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let holding = true;
  let fetched = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const delivered: Promise<string>[] = [];
  const handler = async (route: Route) => {
    if (route.request().method() !== method || !holding) return route.fallback();
    const delivery = (async () => {
      const response = await route.fetch();
      fetched++;
      for (const w of waiting) if (fetched >= w.count) w.resolve();
      await held;
      return fulfillHeld(page, route, response);
    })();
    delivered.push(delivery);
    await delivery;
  };
  await page.route(url, handler);
  return {
    /** Resolves once `count` held answers have come from the server. */
    fetched: (count: number) => new Promise<void>((resolve) => (fetched >= count ? resolve() : waiting.push({ count, resolve }))),
    /** Later requests go through. */
    passAll: () => void (holding = false),
    /** Lets the held answers reach the page, and resolves once the app has had them. */
    async release(): Promise<void> {
      holding = false;
      letGo();
      await heldAnswersParsed(page, await Promise.all(delivered));
    },
    async stop(): Promise<void> {
      holding = false;
      letGo();
      await page.unroute(url, handler);
    },
  };
}
