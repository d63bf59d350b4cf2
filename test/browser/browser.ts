/**
 * @module
 * Debian's Chromium driven by playwright-core (never a downloaded browser), with every request the
 * page makes recorded, so a test can prove that nothing it loads comes from elsewhere.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

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
