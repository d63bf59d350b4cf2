/**
 * The inbox in a real browser against the real stack (workerd, D1, Durable Objects, the Meta
 * simulator). Scenarios that need an issue-5 route the Worker does not serve yet are skipped with
 * that reason, read from the Worker's own OpenAPI document.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Locator, Page } from "playwright-core";
import { mDeleted, mText, waText, type WaAccount } from "../../scripts/meta-simulator/payloads.ts";
import { closeContext, holdAnswers, launch, openPage, screenshot } from "./browser.ts";
import { connectWhatsApp, conversationRows, mainNav, metaWindow, openConnectDialog, signUp } from "./flows.ts";
import { startStack, type Stack } from "./stack.ts";

const WA: WaAccount = { wabaId: "100000000000001", phoneNumberId: "200000000000001", displayPhoneNumber: "15550001111" };
const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "meta");
/** A conversation's summary (a list entry's re-read, the open thread's detail), by its list row. */
const summaryUrl = async (row: Locator) => new RegExp(`/api/workspaces/[^/]+/conversations/${(await row.getAttribute("id"))!.replace(/^conv-/, "")}$`);

let stack: Stack;
let browser: Browser;
let owner: Page;
let ownerRequests: string[];
let ownerCsp: string[];
const ownerEmail = `owner-${Date.now()}@example.com`;
const agentEmail = `agent-${Date.now()}@example.com`;

const issue5 = (...routes: [string, string][]) => {
  const missing = routes.filter(([method, route]) => !stack.has(method, route)).map(([m, r]) => `${m.toUpperCase()} ${r}`);
  return missing.length ? `issue-5 API not served yet: ${missing.join(", ")}` : false;
};

describe("the inbox in Chromium", { timeout: 600_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launch();
    ({ page: owner, requests: ownerRequests, cspViolations: ownerCsp } = await openPage(browser, stack.origin));
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test("the cookie banner offers equal choices, and without consent no cookie but the session and no analytics request exist", async () => {
    await owner.goto("/signup");
    const banner = owner.getByRole("region", { name: "Cookies on WeChatting" });
    await banner.waitFor();
    const buttons = await banner.getByRole("button").all();
    assert.deepEqual(await Promise.all(buttons.map((b) => b.textContent())), ["Accept all", "Reject all", "Customise"]);
    // Equal weight: the three choices are the same size.
    const sizes = await Promise.all(buttons.map(async (b) => (await b.boundingBox())!.height));
    assert.equal(new Set(sizes).size, 1);
    await screenshot(owner, "01-sign-up-with-cookie-banner");
    assert.deepEqual(await owner.context().cookies(), []);
    await owner.getByRole("button", { name: "Reject all" }).click();
    await banner.waitFor({ state: "detached" });
    // The choice made before signing up becomes the new account's (a PUT right after sign-up).
    const carriedOver = owner.waitForResponse((r) => r.url().endsWith("/api/consent") && r.request().method() === "PUT");
    await signUp(owner, "Ana Owner", ownerEmail);
    await carriedOver;
    // The refusal itself is remembered by an essential cookie; nothing else is set.
    assert.deepEqual((await owner.context().cookies()).map((c) => c.name).sort(), ["__Host-wc_consent", "__Host-wc_session"]);
    assert.ok(!ownerRequests.some((url) => /analytics/i.test(url)), "no analytics request without consent");
  });

  test("verifies the email address through the link in the dev mailbox", async () => {
    await owner.getByText(/Confirm your email address/).waitFor();
    const link = await stack.mailedLink(ownerEmail, "/verify-email");
    await owner.goto(new URL(link).pathname + new URL(link).search);
    await owner.getByText(`${ownerEmail} is confirmed`).waitFor();
    await owner.getByRole("link", { name: "Go to your inbox" }).click();
    await owner.getByRole("heading", { name: "No conversations here" }).waitFor();
    assert.equal(await owner.getByText(/Confirm your email address/).count(), 0);
    await screenshot(owner, "02-empty-inbox");
  });

  test("connects a simulated WhatsApp number through Embedded Signup in Meta's window", async () => {
    await connectWhatsApp(owner, stack, WA);
    await screenshot(owner, "03-channels");
  });

  test("a customer's WhatsApp message appears in the list without a reload", async () => {
    await mainNav(owner, "Inbox").click();
    await owner.getByRole("heading", { name: "No conversations here" }).waitFor();
    await stack.webhook("whatsapp", [
      waText({ account: WA, customer: { waId: "4915112345678", name: "Clara Customer" }, id: `wamid.browser-${Date.now()}`, ts: Date.now() }, "Hello, is my order shipped?"),
    ]);
    const row = conversationRows(owner).filter({ hasText: "Clara Customer" });
    await row.waitFor({ timeout: 15_000 });
    assert.match((await row.textContent()) ?? "", /Hello, is my order shipped\?/);
    await screenshot(owner, "04-inbox-live-message");
  });

  test("the list and the composer are usable with the keyboard alone", async (t) => {
    await owner.getByRole("link", { name: "Skip to content" }).focus();
    await owner.keyboard.press("Enter");
    const list = owner.getByRole("listbox", { name: /Conversations/ });
    while (!(await list.evaluate((el) => el === el.ownerDocument.activeElement))) await owner.keyboard.press("Tab");
    await owner.keyboard.press("Home");
    await owner.keyboard.press("Enter");
    await owner.getByRole("log", { name: "Messages" }).getByText("Hello, is my order shipped?").waitFor();
    const skip = issue5(["post", "/workspaces/{workspaceId}/conversations/{id}/messages"]);
    if (skip) return t.skip(`composer part: ${skip}`);
    await owner.getByLabel("Message to the customer").focus();
    await owner.keyboard.type("Typed with the keyboard only");
    await owner.keyboard.press("Enter");
    await owner.getByRole("log", { name: "Messages" }).getByText("Typed with the keyboard only").waitFor();
  });

  test("the agent's reply goes sent → delivered → read", async (t) => {
    const skip = issue5(["get", "/workspaces/{workspaceId}/conversations/{id}"], ["post", "/workspaces/{workspaceId}/conversations/{id}/messages"]);
    if (skip) return t.skip(skip);
    await conversationRows(owner).filter({ hasText: "Clara Customer" }).click();
    await owner.getByLabel("Message to the customer").fill("Yes, it left our warehouse this morning.");
    await owner.getByRole("button", { name: "Send" }).click();
    const bubble = owner.getByRole("article").filter({ hasText: "it left our warehouse" });
    for (const status of ["sent", "delivered", "read"]) await bubble.locator(`[data-status="${status}"]`).waitFor({ timeout: 20_000 });
    await screenshot(owner, "05-thread-read-ticks");
  });

  test("a closed WhatsApp window allows only a template", async (t) => {
    const skip = issue5(["get", "/workspaces/{workspaceId}/conversations/{id}"]);
    if (skip) return t.skip(skip);
    await stack.webhook("whatsapp", [
      waText({ account: WA, customer: { waId: "4915100000002", name: "Old Customer" }, id: `wamid.old-${Date.now()}`, ts: Date.now() - 26 * 3600_000 }, "Are you open on Sunday?"),
    ]);
    await owner.getByRole("form", { name: "Filter conversations" }).getByLabel("Status").selectOption("");
    await conversationRows(owner).filter({ hasText: "Old Customer" }).click();
    await owner.getByText(/only allows an approved template/).waitFor();
    assert.equal(await owner.getByLabel("Message to the customer").count(), 0);
    await owner.getByRole("button", { name: "Choose a template" }).click();
    const picker = owner.getByRole("dialog", { name: "Send a template" });
    await picker.waitFor();
    await screenshot(owner, "06-template-picker");
    const templates = issue5(["get", "/workspaces/{workspaceId}/channels/{channelId}/templates"]);
    if (templates) {
      await owner.keyboard.press("Escape");
      return t.skip(`choosing and sending a template: ${templates}`);
    }
    await picker.getByRole("radio").first().check();
    await picker.getByRole("button", { name: "Send template" }).click();
    // Meta took it: sent, or already further along when its status webhooks arrived in the same moment.
    const template = owner.getByRole("article").filter({ hasText: "Template" });
    await template
      .locator('[data-status="sent"], [data-status="delivered"], [data-status="read"]')
      .waitFor({ timeout: 20_000 })
      .catch(async (error: Error) => {
        throw new Error(`${error.message}\nthe template's bubble reads: ${await template.innerText()}`);
      });
  });

  test("a failed send says why and what to do", async (t) => {
    const skip = issue5(["get", "/workspaces/{workspaceId}/conversations/{id}"], ["post", "/workspaces/{workspaceId}/conversations/{id}/messages"]);
    if (skip) return t.skip(skip);
    await conversationRows(owner).filter({ hasText: "Clara Customer" }).click();
    await owner.getByRole("log", { name: "Messages" }).getByText("Hello, is my order shipped?").waitFor();
    // Meta: 131026 "Message undeliverable" for the next send (the read receipt that opening sends passes).
    await stack.simulator("send-faults", { code: 131026, times: 1 });
    // The send's own answer (the message as it was queued: pending) can reach the page after the
    // live failure; hold it back until the failure shows, so the thread must keep the newer state.
    const sendUrl = /\/conversations\/[^/]+\/messages$/;
    const send = await holdAnswers(owner, sendUrl, "POST");
    const answered = owner.waitForResponse((r) => r.request().method() === "POST" && sendUrl.test(r.url()));
    try {
      await owner.getByLabel("Message to the customer").fill("This one will fail");
      await owner.getByRole("button", { name: "Send" }).click();
      const failure = owner.getByRole("alert").filter({ hasText: /could not deliver/ });
      await failure.waitFor({ timeout: 20_000 });
      await send.release();
      assert.equal((await answered).status(), 202);
      const bubble = owner.getByRole("article").filter({ hasText: "This one will fail" });
      assert.equal(await bubble.locator("[data-status]").getAttribute("data-status"), "failed");
      await failure.waitFor({ timeout: 1_000 });
    } finally {
      await send.stop();
    }
    await screenshot(owner, "07-failed-send");
  });

  test("a list entry re-read earlier but answered later does not turn the entry back", async () => {
    const clara = conversationRows(owner).filter({ hasText: "Clara Customer" });
    const customer = { waId: "4915112345678", name: "Clara Customer" };
    // The first live change's re-read is answered (as D1 had it then) only after the second's.
    const reread = await holdAnswers(owner, await summaryUrl(clara));
    // Meta's timestamps are whole seconds: in the second of the agent's last send (the test before)
    // they would sort before it, and the entry would rightly go on showing the send.
    const at = Date.now() + 2_000;
    try {
      await stack.webhook("whatsapp", [waText({ account: WA, customer, id: `wamid.reread-1-${at}`, ts: at }, "Is it still in stock?")]);
      await reread.fetched(1);
      reread.passAll();
      await stack.webhook("whatsapp", [waText({ account: WA, customer, id: `wamid.reread-2-${at}`, ts: at + 1_000 }, "Never mind, found it")]);
      await clara.filter({ hasText: "Never mind, found it" }).waitFor({ timeout: 15_000 });
      await reread.release();
      assert.match((await clara.textContent()) ?? "", /Never mind, found it/);
    } finally {
      await reread.stop();
    }
  });

  test("a list page read before a new conversation arrived does not drop it from the list", async () => {
    const status = owner.getByRole("form", { name: "Filter conversations" }).getByLabel("Status");
    // The page a filter change asks for is answered (without the new conversation) only after the
    // conversation's own re-read has put it in the list.
    const pageRead = await holdAnswers(owner, /\/api\/workspaces\/[^/]+\/conversations\?/);
    const row = conversationRows(owner).filter({ hasText: "Newer Customer" });
    try {
      await status.selectOption("open");
      await pageRead.fetched(1);
      pageRead.passAll();
      await stack.webhook("whatsapp", [waText({ account: WA, customer: { waId: "4915100000004", name: "Newer Customer" }, id: `wamid.newer-${Date.now()}`, ts: Date.now() + 2_000 }, "Hello there")]);
      await row.waitFor({ timeout: 15_000 });
      await pageRead.release();
      assert.equal(await row.count(), 1, "the page read before it removed the new conversation");
    } finally {
      await pageRead.stop();
    }
    await status.selectOption("");
  });

  test("a conversation's summary read before a live change does not turn the open thread back", async () => {
    const customer = { waId: "4915100000003", name: "Late Customer" };
    await stack.webhook("whatsapp", [waText({ account: WA, customer, id: `wamid.late-1-${Date.now()}`, ts: Date.now() - 30 * 3600_000 }, "Do you ship abroad?")]);
    const row = conversationRows(owner).filter({ hasText: "Late Customer" });
    // Shown once its re-read has answered, so the reads held below are the open thread's own.
    await row.waitFor();
    // The detail asked for on opening and the one re-read when its socket opens both answer as D1
    // had it (window closed), but only after the customer's new message has reopened it live.
    const reads = await holdAnswers(owner, await summaryUrl(row));
    const socket = owner.waitForEvent("websocket", (ws) => /\/conversations\/[^/]+\/live/.test(ws.url()));
    try {
      await row.click();
      // Its socket's greeting comes after the re-read the socket's opening asks for.
      await (await socket).waitForEvent("framereceived", (frame) => String(frame.payload).includes('"hello"'));
      await reads.fetched(2);
      await owner.getByText(/only allows an approved template/).waitFor();
      await stack.webhook("whatsapp", [waText({ account: WA, customer, id: `wamid.late-2-${Date.now()}`, ts: Date.now() }, "Never mind, I'm in town now")]);
      const composer = owner.getByLabel("Message to the customer");
      await composer.waitFor({ timeout: 15_000 });
      await reads.release();
      assert.equal(await composer.count(), 1, "the composer is gone: the window shows closed again");
    } finally {
      await reads.stop();
    }
  });

  test("Instagram and Messenger conversations open from the list", async () => {
    const dialog = await openConnectDialog(owner);
    // Cancelling in Meta's window connects nothing and says so.
    const instagram = await metaWindow(owner, () => dialog.getByRole("button", { name: "Instagram account" }).click());
    const closed = instagram.waitForEvent("close");
    await instagram.getByRole("button", { name: "Cancel" }).click();
    await dialog.getByRole("alert").filter({ hasText: "You cancelled in Meta's window, so nothing was connected." }).waitFor();
    await closed;
    // Facebook Login for Business: the Page ticked in Meta's window comes with its linked Instagram account.
    const facebook = await metaWindow(owner, () => dialog.getByRole("button", { name: "Facebook Pages" }).click());
    await facebook.getByLabel(/with Instagram/).first().waitFor();
    await screenshot(facebook, "08a-meta-login-window");
    await facebook.getByRole("button", { name: "Continue" }).click();
    await dialog.waitFor({ state: "detached" });
    await owner.getByRole("listitem", { name: /\(instagram\)/ }).first().waitFor();
    const now = Date.now();
    await stack.webhook("messenger", [mText({ product: "messenger", accountId: "300000000000001", customerId: "7100000000000001", ts: now }, `m_fb_${now}`, "Hi from Messenger")]);
    await stack.webhook("instagram", [mText({ product: "instagram", accountId: "17840000000000001", customerId: "8100000000000001", ts: now }, `m_ig_${now}`, "Hi from Instagram")]);
    await mainNav(owner, "Inbox").click();
    for (const text of ["Hi from Messenger", "Hi from Instagram"]) {
      await conversationRows(owner).filter({ hasText: text }).click();
      await owner.getByRole("log", { name: "Messages" }).getByText(text).waitFor();
    }
    await screenshot(owner, "08-instagram-thread");
  });

  test("a disconnected Page comes back through Meta's window, its conversations kept", async () => {
    await mainNav(owner, "Settings").click();
    const name = (await owner.getByRole("listitem", { name: /\(messenger\)$/ }).first().getAttribute("aria-label"))!;
    const card = owner.getByRole("listitem", { name, exact: true });
    await card.getByRole("button", { name: "Disconnect…" }).click();
    await owner.getByRole("button", { name: "Disconnect, keep the history" }).click();
    await card.getByText("Disconnected", { exact: true }).waitFor();
    await card.getByRole("button", { name: /^Reconnect/ }).click();
    const dialog = owner.getByRole("dialog", { name: "Connect a channel" });
    await dialog.getByRole("note").filter({ hasText: `To reconnect ${name.replace(/ \(messenger\)$/, "")}, choose Facebook Pages` }).waitFor();
    const facebook = await metaWindow(owner, () => dialog.getByRole("button", { name: "Facebook Pages" }).click());
    await facebook.getByRole("button", { name: "Continue" }).click();
    await dialog.waitFor({ state: "detached" });
    await card.getByText("Connected", { exact: true }).waitFor();
    await mainNav(owner, "Inbox").click();
    await conversationRows(owner).filter({ hasText: "Hi from Messenger" }).waitFor();
  });

  test("connecting can be stopped, and a login no tab picks up shows its code to paste", async () => {
    const dialog = await openConnectDialog(owner);
    const meta = await metaWindow(owner, () => dialog.getByRole("button", { name: "WhatsApp Business" }).click());
    // The flow buttons are disabled while Meta's window is open; the keyboard lands on Stop.
    await dialog.getByRole("button", { name: "Stop" }).waitFor();
    assert.equal(await owner.evaluate("document.activeElement?.textContent"), "Stop");
    await owner.keyboard.press("Enter");
    await dialog.getByRole("alert").filter({ hasText: "Connecting was stopped, so nothing was connected. Close Meta's window if it is still open." }).waitFor();
    await meta.close();
    await owner.keyboard.press("Escape");

    const orphan = await owner.context().newPage();
    await orphan.goto("/oauth/callback?code=AQD-orphan-code&state=nobody-is-listening");
    await orphan.getByText(/paste this code under Settings → Channels → Connect a channel → Other ways to connect, soon: AQD-orphan-code/).waitFor();
    assert.equal(new URL(orphan.url()).search, "", "the code does not stay in the address or the history");
    await orphan.close();
  });

  test("every message kind of the recorded Meta webhooks renders in its thread", async () => {
    // Conversation events only: an account_update fixture would revoke the channel the next tests use.
    const conversational = readdirSync(FIXTURES).filter((f) => /^(whatsapp|instagram|messenger)-.*\.json$/.test(f) && !/account-update|template-status/.test(f));
    for (const file of conversational.sort()) await stack.replay(path.join(FIXTURES, file));
    const ig = { product: "instagram", accountId: "17840000000000001", customerId: "8100000000000001", ts: Date.now() } as const;
    await stack.webhook("instagram", [mText(ig, "m_ig_unsent", "Oops, wrong chat")]);
    await stack.webhook("instagram", [mDeleted({ ...ig, ts: ig.ts + 1000 }, "m_ig_unsent")]);
    // From the bare list, so every thread below is opened afresh, once the last change has arrived.
    await mainNav(owner, "Inbox").click();
    await owner.getByRole("form", { name: "Filter conversations" }).getByLabel("Status").selectOption("");
    await conversationRows(owner).filter({ hasText: "Message deleted" }).waitFor();
    const rows = conversationRows(owner);
    const log = owner.getByRole("log", { name: "Messages" });
    const seen: string[] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      await rows.nth(i).click();
      await log.getByRole("article").first().waitFor();
      // The thread is virtualised: read it screen by screen from the newest message up.
      for (let top = Infinity; top > 0; ) {
        seen.push(await log.innerText());
        top = await log.evaluate((el) => (el.scrollTop = Math.max(0, el.scrollTop - el.clientHeight / 2)));
        await owner.waitForTimeout(50);
      }
      seen.push(await log.innerText());
    }
    const all = seen.join("\n");
    for (const marker of ["Forwarded", "Tapped:", "Chose:", "📍", "🛒 Order", "📄", "cannot be shown", "story", "deleted", "👤", "Came from", "without its content", "Meta reported a problem"]) {
      assert.ok(all.includes(marker), `some thread shows "${marker}"`);
    }
    assert.equal(await owner.getByText(/could not be shown/).count(), 0);
    await screenshot(owner, "09-message-kinds");
  });

  test("a second member sees the same conversation update live", async () => {
    await mainNav(owner, "Settings").click();
    await owner.getByRole("link", { name: "Team" }).click();
    await owner.getByLabel("Email").fill(agentEmail);
    await owner.getByRole("button", { name: "Send invitation" }).click();
    await owner.getByText(`${agentEmail} as agent`).waitFor();
    await screenshot(owner, "10-team");

    const { page: agent, context } = await openPage(browser, stack.origin);
    await signUp(agent, "Ben Agent", agentEmail);
    const invitation = await stack.mailedLink(agentEmail, "/invitations/accept");
    await agent.goto(new URL(invitation).pathname + new URL(invitation).search);
    await agent.getByRole("button", { name: "Accept and open the inbox" }).click();
    await conversationRows(agent).filter({ hasText: "Clara Customer" }).waitFor();

    await stack.webhook("whatsapp", [
      waText({ account: WA, customer: { waId: "4915112345678", name: "Clara Customer" }, id: `wamid.second-${Date.now()}`, ts: Date.now() }, "One more question for the team"),
    ]);
    await conversationRows(agent).filter({ hasText: "One more question for the team" }).waitFor({ timeout: 15_000 });
    await mainNav(owner, "Inbox").click();
    await conversationRows(owner).filter({ hasText: "One more question for the team" }).waitFor({ timeout: 15_000 });
    await closeContext(context);
  });

  test("works at 375 px wide", async () => {
    const { page, context } = await openPage(browser, stack.origin, { width: 375, height: 740 });
    await context.addCookies(await owner.context().cookies());
    await page.goto("/");
    await conversationRows(page).filter({ hasText: "Clara Customer" }).waitFor();
    // The owner refused analytics at sign-up; changing the choice is what lets the first count through.
    await mainNav(page, "Settings").click();
    await page.getByRole("link", { name: "Privacy" }).click();
    await page.getByRole("button", { name: "Change my cookie choices" }).click();
    const analytics = page.waitForRequest((request) => request.url().endsWith("/api/analytics"));
    await page.getByRole("button", { name: "Accept all" }).click();
    await mainNav(page, "Inbox").click();
    await conversationRows(page).filter({ hasText: "Clara Customer" }).click();
    await analytics;
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"));
    assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
    await screenshot(page, "11-inbox-375px");
    await closeContext(context);
  });

  test("a forgotten password is reset through the mailed link", async () => {
    const { page, context } = await openPage(browser, stack.origin);
    await page.goto("/signin");
    await page.getByRole("button", { name: "Reject all" }).click();
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.getByLabel("Email").fill(agentEmail);
    await page.getByRole("button", { name: "Mail me a reset link" }).click();
    await page.getByText(/a reset link is on its way/).waitFor();
    const link = new URL(await stack.mailedLink(agentEmail, "/reset-password"));
    await page.goto(link.pathname + link.search);
    await page.getByLabel("New password", { exact: true }).fill("another long passphrase for Ben");
    await page.getByRole("button", { name: "Save the new password" }).click();
    await page.getByText(/Your password is changed/).waitFor();
    await page.getByRole("link", { name: "Sign in", exact: true }).click();
    await page.getByLabel("Email").fill(agentEmail);
    await page.getByLabel("Password").fill("another long passphrase for Ben");
    await page.getByRole("button", { name: "Sign in" }).click();
    await mainNav(page, "Inbox").waitFor();
    await closeContext(context);
  });

  test("no request left our origin and the CSP was never violated", () => {
    const foreign = ownerRequests.filter((url) => !url.startsWith(stack.origin) && !url.startsWith("data:"));
    assert.deepEqual(foreign, []);
    assert.deepEqual(ownerCsp, []);
  });
});
