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

/** Settings → Channels → connect a WhatsApp number with a token the Graph simulator mints. */
export async function connectWhatsApp(page: Page, stack: Stack, account: WaAccount) {
  const { token } = await stack.simulator<{ token: string }>("tokens", { type: "SYSTEM_USER" });
  await mainNav(page, "Settings").click();
  await page.getByRole("button", { name: "Connect a channel" }).click();
  const dialog = page.getByRole("dialog", { name: "Connect a channel" });
  await dialog.getByLabel("Phone number ID").fill(account.phoneNumberId);
  await dialog.getByLabel("WhatsApp Business Account ID").fill(account.wabaId);
  await dialog.getByLabel("System-user access token").fill(token);
  await dialog.getByRole("button", { name: "Connect WhatsApp" }).click();
  await dialog.waitFor({ state: "detached" });
  await page.getByRole("listitem").filter({ hasText: "Connected" }).first().waitFor();
}
