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

export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/**
 * Holds back the answer to the first GET whose address matches `url`: it is fetched at once, so it
 * says what the server held at that moment, but reaches the page only when released. This is how
 * a test makes an earlier read answer after a later one.
 */
export async function holdFirstGet(page: Page, url: RegExp) {
  let letGo!: () => void;
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let fetched!: () => void;
  const answerFetched = new Promise<void>((resolve) => (fetched = resolve));
  let holding = true;
  const handler = async (route: Route) => {
    if (route.request().method() !== "GET" || !holding) return route.fallback();
    holding = false;
    const response = await route.fetch();
    fetched();
    await held;
    await route.fulfill({ response });
  };
  await page.route(url, handler);
  return {
    /** Resolves once the held answer has come from the server. */
    fetched: answerFetched,
    /** Lets the answer reach the page, then gives the page a moment to apply it. */
    async release(): Promise<void> {
      const arrived = page.waitForResponse((r) => r.request().method() === "GET" && url.test(r.url()));
      letGo();
      await arrived;
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 250)));
    },
    async stop(): Promise<void> {
      letGo();
      await page.unroute(url, handler);
    },
  };
}
