/**
 * WCAG 2.1 AA in a real browser: axe-core's rules, contrast included, on every main screen at a
 * desktop width and at 375 px, with real data (every recorded Meta webhook replayed); and focus
 * stays visible on everything the keyboard reaches.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { waText, type WaAccount } from "../../scripts/meta-simulator/payloads.ts";
import { accessibilityViolations, focusIsVisible, sidewaysOverflow } from "./accessibility.ts";
import { closeContext, launch, openPage, screenshot } from "./browser.ts";
import { connectWhatsApp, conversationRows, signUp } from "./flows.ts";
import { startStack, type Stack } from "./stack.ts";

const WA: WaAccount = { wabaId: "100000000000001", phoneNumberId: "200000000000001", displayPhoneNumber: "15550001111" };
const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "meta");
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, "375px": { width: 375, height: 740 } };

let stack: Stack;
let browser: Browser;
let owner: Page;
let workspace: string;
let closedWindow: string;

/** Connects the fixtures' Page (and its linked Instagram account) through the API, as the settings screen would. */
async function connectMessenger(page: Page) {
  const { code } = await stack.simulator<{ code: string }>("codes", { kind: "facebook_login" });
  const status = await page.evaluate(`(async () => {
    const { csrfToken } = await (await fetch("/api/auth/session")).json();
    const headers = { "content-type": "application/json", "x-csrf-token": csrfToken };
    const post = (p, body) => fetch("/api/workspaces/${workspace}/channels/" + p, { method: "POST", headers, body: JSON.stringify(body) });
    const { state } = await (await post("oauth/state", { kind: "messenger" })).json();
    const r = await post("messenger/connect", { code: ${JSON.stringify(code)}, state, redirectUri: location.origin + "/oauth/callback" });
    return r.ok ? "connected" : r.status + " " + (await r.text());
  })()`);
  assert.equal(status, "connected");
}

async function conversationId(page: Page, name: string) {
  await page.goto(`/w/${workspace}/inbox`);
  await page.getByRole("form", { name: "Filter conversations" }).getByLabel("Status").selectOption("");
  await conversationRows(page).filter({ hasText: name }).first().click();
  await page.waitForURL(/\/inbox\/[^/]+$/);
  return new URL(page.url()).pathname.split("/").at(-1)!;
}

/** The screens an agent lives in; each ends with the screen ready to audit. */
const SIGNED_OUT: Record<string, (page: Page) => Promise<unknown>> = {
  "sign-up with the cookie banner": (page) => page.goto("/signup").then(() => page.getByRole("region", { name: "Cookies on WeChatting" }).waitFor()),
  "cookie choices": async (page) => {
    await page.getByRole("button", { name: "Customise" }).click();
    await page.getByRole("group", { name: "Choose what you allow" }).waitFor();
  },
  "sign-in": (page) => page.goto("/signin").then(() => page.getByRole("button", { name: "Sign in" }).waitFor()),
  "forgot password": (page) => page.goto("/forgot-password").then(() => page.getByRole("button", { name: "Mail me a reset link" }).waitFor()),
};
const SIGNED_IN: Record<string, (page: Page) => Promise<unknown>> = {
  inbox: (page) => page.goto(`/w/${workspace}/inbox`).then(() => conversationRows(page).first().waitFor()),
  "a WhatsApp thread with every kind": async (page) => {
    await page.goto(`/w/${workspace}/inbox/${await conversationId(page, "Test User")}`);
    await page.getByRole("log", { name: "Messages" }).getByRole("article").first().waitFor();
  },
  "an Instagram thread": async (page) => {
    await page.goto(`/w/${workspace}/inbox/${await conversationId(page, "5000000000000001")}`);
    await page.getByRole("log", { name: "Messages" }).getByRole("article").first().waitFor();
  },
  "the template picker of a closed window": async (page) => {
    await page.goto(`/w/${workspace}/inbox/${closedWindow}`);
    await page.getByRole("button", { name: "Choose a template" }).click();
    await page.getByRole("dialog", { name: "Send a template" }).waitFor();
  },
  channels: (page) => page.goto(`/w/${workspace}/settings/channels`).then(() => page.getByRole("listitem").filter({ hasText: "Connected" }).first().waitFor()),
  "connect a channel": async (page) => {
    await page.getByRole("button", { name: "Connect a channel" }).click();
    await page.getByRole("dialog", { name: "Connect a channel" }).waitFor();
  },
  team: (page) => page.goto(`/w/${workspace}/settings/team`).then(() => page.getByRole("button", { name: "Send invitation" }).waitFor()),
  sessions: (page) => page.goto(`/w/${workspace}/settings/sessions`).then(() => page.getByRole("heading", { level: 1 }).waitFor()),
  "audit log": (page) => page.goto(`/w/${workspace}/settings/audit`).then(() => page.getByRole("heading", { level: 1 }).waitFor()),
  "privacy centre": (page) => page.goto(`/w/${workspace}/settings/privacy`).then(() => page.getByRole("button", { name: "Change my cookie choices" }).waitFor()),
};

async function audit(page: Page, name: string, narrow: boolean) {
  // Let transitions and late data settle: axe reads colours as painted.
  await page.waitForTimeout(300);
  const violations = await accessibilityViolations(page);
  await screenshot(page, `a11y-${name.replace(/\W+/g, "-")}`);
  assert.deepEqual(violations, [], `${name}: WCAG 2.1 AA violations:\n${violations.join("\n")}`);
  if (narrow) assert.deepEqual(await sidewaysOverflow(page), [], `${name}: nothing reaches past the right edge`);
}

describe("accessibility in Chromium", { timeout: 600_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launch();
    ({ page: owner } = await openPage(browser, stack.origin));
    await owner.goto("/signup");
    await owner.getByRole("button", { name: "Reject all" }).click();
    await signUp(owner, "Alex Access", `access-${Date.now()}@example.com`);
    workspace = new URL(owner.url()).pathname.split("/")[2]!;
    await connectWhatsApp(owner, stack, WA);
    await connectMessenger(owner);
    const conversational = readdirSync(FIXTURES).filter((f) => /^(whatsapp|instagram|messenger)-.*\.json$/.test(f) && !/account-update|template-status/.test(f));
    for (const file of conversational.sort()) await stack.replay(path.join(FIXTURES, file));
    await stack.webhook("whatsapp", [
      waText({ account: WA, customer: { waId: "4915100000009", name: "Wanda Waiting" }, id: `wamid.closed-${Date.now()}`, ts: Date.now() - 26 * 3600_000 }, "Are you open on Sunday?"),
    ]);
    closedWindow = await conversationId(owner, "Wanda Waiting");
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  for (const [label, viewport] of Object.entries(VIEWPORTS)) {
    describe(`at ${label}`, () => {
      let signedOut: Page;
      let signedIn: Page;
      let contexts: BrowserContext[] = [];
      before(async () => {
        const out = await openPage(browser, stack.origin, viewport);
        const inside = await openPage(browser, stack.origin, viewport);
        await inside.context.addCookies(await owner.context().cookies());
        [signedOut, signedIn, contexts] = [out.page, inside.page, [out.context, inside.context]];
      });
      after(() => Promise.all(contexts.map(closeContext)));
      const narrow = viewport.width < 400;
      for (const [name, open] of Object.entries(SIGNED_OUT)) test(`${name} meets WCAG 2.1 AA`, () => open(signedOut).then(() => audit(signedOut, `${name} ${label}`, narrow)));
      for (const [name, open] of Object.entries(SIGNED_IN)) test(`${name} meets WCAG 2.1 AA`, () => open(signedIn).then(() => audit(signedIn, `${name} ${label}`, narrow)));
    });
  }

  test("the checks catch low contrast, a missing label and an invisible focus", async () => {
    const { page, context } = await openPage(browser, stack.origin);
    await SIGNED_OUT["sign-in"]!(page);
    await page.evaluate(`(() => {
      // Styles through the CSSOM: the CSP drops inline style attributes.
      const faint = Object.assign(document.createElement("p"), { textContent: "Faint text" });
      Object.assign(faint.style, { color: "#aaa", background: "#fff" });
      const plain = Object.assign(document.createElement("button"), { textContent: "Plain" });
      Object.assign(plain.style, { outline: "none", boxShadow: "none" });
      document.querySelector("main").append(faint, document.createElement("input"), plain);
      plain.focus();
    })()`);
    const rules = (await accessibilityViolations(page)).map((line) => line.split(" ")[0]);
    assert.ok(rules.includes("color-contrast") && rules.includes("label"), `axe reports both (reported ${rules.join(", ")})`);
    assert.equal((await focusIsVisible(page)).visible, false);
    await closeContext(context);
  });

  test("focus is visible on everything the keyboard reaches in the inbox and a thread", async () => {
    await owner.goto(`/w/${workspace}/inbox/${closedWindow}`);
    await owner.getByRole("button", { name: "Choose a template" }).waitFor();
    const hidden: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await owner.keyboard.press("Tab");
      const { element, visible } = await focusIsVisible(owner);
      // Past the last stop focus leaves the page for the browser's own UI, and comes back round.
      if (element === "body") continue;
      seen.add(element);
      if (!visible) hidden.push(element);
    }
    assert.ok(seen.size >= 10, `Tab reaches the navigation, the list and the thread (reached ${[...seen].join(", ")})`);
    assert.deepEqual([...new Set(hidden)], [], "every focused element shows a focus ring");
  });
});
