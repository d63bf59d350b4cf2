/**
 * @module
 * What a person does in the inbox again and again, as steps the browser tests share.
 */
import type { Page } from "playwright-core";
import type { WaAccount } from "../../scripts/meta-simulator/payloads.ts";
import type { Stack } from "./stack.ts";

export const PASSWORD = "a long browser test passphrase";

export const mainNav = (page: Page, name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });

/** The rows of the conversation list (not the options of its filters' selects). */
export const conversationRows = (page: Page) => page.getByRole("listbox", { name: /Conversations/ }).getByRole("option");

/** Signs up (with the 18+ and policy boxes) and waits for the inbox. */
export async function signUp(page: Page, name: string, email: string) {
  await page.goto("/signup");
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("I am 18 or older").check();
  await page.getByLabel(/I accept the/).check();
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("listbox", { name: /Conversations/ }).or(page.getByRole("heading", { name: "No conversations here" })).first().waitFor();
}

/** Settings → Channels → "Connect a channel". */
export async function openConnectDialog(page: Page) {
  await mainNav(page, "Settings").click();
  await page.getByRole("button", { name: "Connect a channel" }).click();
  return page.getByRole("dialog", { name: "Connect a channel" });
}

/** Clicks what opens Meta's window and returns that window (the simulator's login dialog). */
export async function metaWindow(page: Page, open: () => Promise<void>): Promise<Page> {
  const [popup] = await Promise.all([page.context().waitForEvent("page"), open()]);
  await popup.waitForLoadState();
  return popup;
}

/**
 * Settings → Channels → connect a WhatsApp number: through Embedded Signup in Meta's window (the
 * simulator's dialog, choosing `account`'s number), or with a system-user token the simulator mints.
 */
export async function connectWhatsApp(page: Page, stack: Stack, account: WaAccount, how: "signup" | "token" = "signup") {
  const dialog = await openConnectDialog(page);
  if (how === "signup") {
    const popup = await metaWindow(page, () => dialog.getByRole("button", { name: "WhatsApp Business" }).click());
    await popup.locator(`input[name="number"][value="${account.wabaId}:${account.phoneNumberId}"]`).check();
    await popup.getByRole("button", { name: "Continue" }).click();
  } else {
    const { token } = await stack.simulator<{ token: string }>("tokens", { type: "SYSTEM_USER" });
    await dialog.getByText("Other ways to connect").click();
    await dialog.getByLabel("Phone number ID").fill(account.phoneNumberId);
    await dialog.getByLabel("WhatsApp Business Account ID").fill(account.wabaId);
    await dialog.getByLabel("System-user access token").fill(token);
    await dialog.getByRole("button", { name: "Connect WhatsApp" }).click();
  }
  await dialog.waitFor({ state: "detached" });
  await page.getByRole("listitem").filter({ hasText: "Connected" }).first().waitFor();
}
