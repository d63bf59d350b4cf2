/**
 * @module
 * Debian's Chromium driven by playwright-core (never a downloaded browser), with every request the
 * page makes recorded, so a test can prove that nothing it loads comes from elsewhere.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Route } from "playwright-core";

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
 * Holds back the answers to GETs whose address matches `url` until released: each is fetched at
 * once, so it says what the server held at that moment, but reaches the page only later. This is
 * how a test makes an earlier read answer after a later one.
 */
export async function holdGets(page: Page, url: RegExp) {
  let letGo!: () => void;
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let holding = true;
  let fetched = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const delivered: Promise<void>[] = [];
  const handler = async (route: Route) => {
    if (route.request().method() !== "GET" || !holding) return route.fallback();
    const delivery = (async () => {
      const response = await route.fetch();
      fetched++;
      for (const w of waiting) if (fetched >= w.count) w.resolve();
      await held;
      await route.fulfill({ response });
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
    /** Lets the held answers reach the page, then gives the page a moment to apply them. */
    async release(): Promise<void> {
      holding = false;
      letGo();
      await Promise.all(delivered);
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 250)));
    },
    async stop(): Promise<void> {
      holding = false;
      letGo();
      await page.unroute(url, handler);
    },
  };
}
