/**
 * Connecting through Meta's login dialogs as the inbox's pop-up does: the API starts the login with a
 * session-bound state and the dialog's address, the Meta simulator plays the dialog (choose, allow or
 * cancel) and redirects to /oauth/callback, and the code it hands back finishes the connection.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { loginDialogUrl } from "../workers/meta/login-dialog.ts";
import { useGraphSimulator } from "./graph-simulator.ts";
import { BASE, api, signUp, sql, type Agent } from "./helpers.ts";

const graph = useGraphSimulator();
const CALLBACK = `${BASE}/oauth/callback`;

type Kind = "whatsapp" | "messenger" | "instagram";

async function startLogin(as: Agent, kind: Kind) {
  const { status, body } = await api<{ state: string; redirectUri: string; dialogUrl: string | null; problem: string | null }>(`/workspaces/${as.workspaceId}/channels/oauth/state`, {
    as,
    body: { kind },
  });
  expect(status).toBe(200);
  return body;
}

/** What the browser does in the pop-up: open the dialog, submit its form, follow it to our callback. */
async function answerDialog(dialogUrl: string, form: Record<string, string | string[]>) {
  const shown = await fetch(dialogUrl);
  expect(shown.status).toBe(200);
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const one of [value].flat()) body.append(name, one);
  const sent = await fetch(dialogUrl, { method: "POST", body, redirect: "manual" });
  expect(sent.status).toBe(303);
  const location = new URL(sent.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
  return { page: await shown.text(), back: location.searchParams };
}

/** Embedded Signup refused with `message`, before anything was subscribed or registered at Meta or saved here. */
async function expectRefusedBeforeChanges(finished: { status: number; body: { error: { message: string } } }, message: string) {
  expect(finished.status).toBe(502);
  expect(finished.body.error.message).toContain(message);
  expect(graph.requests.filter((r) => r.method === "POST" && /subscribed_apps|register/.test(r.url))).toEqual([]);
  expect(await sql(`SELECT id FROM channels`)).toEqual([]);
}

const finish = (as: Agent, path: string, back: URLSearchParams, redirectUri = CALLBACK) =>
  api(`/workspaces/${as.workspaceId}/channels/${path}`, { as, body: { code: back.get("code"), state: back.get("state"), redirectUri } });

describe("connecting through Meta's login dialog", () => {
  let owner: Agent;
  beforeEach(async () => {
    for (const table of ["channels", "channel_secrets"]) await sql(`DELETE FROM ${table}`);
    owner = await signUp();
  });

  it("starts each login with a session-bound state and the dialog address Meta documents", async () => {
    const wa = await startLogin(owner, "whatsapp");
    const es = new URL(wa.dialogUrl!);
    expect(`${es.origin}${es.pathname}`).toBe("http://graph.simulator/www.facebook.com/v25.0/dialog/oauth");
    expect(Object.fromEntries(es.searchParams)).toMatchObject({
      client_id: "600000000000001",
      redirect_uri: CALLBACK,
      state: wa.state,
      response_type: "code",
      config_id: "700000000000001",
      override_default_response_type: "true",
    });
    expect(JSON.parse(es.searchParams.get("extras")!)).toMatchObject({ setup: {}, version: "v4" });
    expect(wa.redirectUri).toBe(CALLBACK);

    const fb = new URL((await startLogin(owner, "messenger")).dialogUrl!);
    expect(fb.searchParams.get("scope")!.split(",")).toEqual(expect.arrayContaining(["pages_messaging", "pages_manage_metadata", "instagram_manage_messages"]));
    expect(fb.searchParams.has("config_id")).toBe(false);

    const ig = new URL((await startLogin(owner, "instagram")).dialogUrl!);
    expect(`${ig.origin}${ig.pathname}`).toBe("http://graph.simulator/www.instagram.com/oauth/authorize");
    expect(ig.searchParams.get("client_id")).toBe("610000000000001");
    expect(ig.searchParams.get("scope")).toBe("instagram_business_basic,instagram_business_manage_messages");
  });

  it("says which setting is missing when a login is not configured, instead of opening a broken dialog", () => {
    const env = { META_APP_ID: "1", FACEBOOK_DIALOG_BASE: "https://www.facebook.com/v25.0", INSTAGRAM_AUTHORIZE_BASE: "https://www.instagram.com" };
    const login = { state: "s", redirectUri: CALLBACK };
    expect(loginDialogUrl(env, "whatsapp", login)).toEqual({ ok: false, missing: "WA_EMBEDDED_SIGNUP_CONFIG_ID" });
    expect(loginDialogUrl(env, "instagram", login)).toEqual({ ok: false, missing: "INSTAGRAM_APP_ID" });
    const pages = loginDialogUrl({ ...env, FACEBOOK_LOGIN_CONFIG_ID: "42" }, "messenger", login);
    expect(pages.ok && new URL(pages.url).searchParams.get("config_id")).toBe("42");
  });

  it("connects WhatsApp from the dialog's redirect alone: the WABA and number come from the business token", async () => {
    const { dialogUrl } = await startLogin(owner, "whatsapp");
    const { page, back } = await answerDialog(dialogUrl!, { number: "100000000000002:200000000000002", action: "allow", outcome: "ok" });
    expect(page).toContain("wants to connect a WhatsApp Business account");
    const { status, body } = await finish(owner, "whatsapp/embedded-signup", back);
    expect(status).toBe(201);
    expect(body.channels).toEqual([expect.objectContaining({ kind: "whatsapp", externalId: "200000000000002", status: "active" })]);
    const snapshot = graph.sim.snapshot();
    expect(snapshot.subscriptions.whatsapp.map((s) => s.wabaId)).toEqual(["100000000000002"]);
  });

  it("refuses to guess which number was onboarded when the WABA holds several, before changing anything at Meta", async () => {
    graph.sim.state.phoneNumbers.set("200000000000009", { id: "200000000000009", wabaId: "100000000000001", displayPhoneNumber: "+1 555-000-9999", verifiedName: "Second line", qualityRating: "GREEN" });
    const { dialogUrl } = await startLogin(owner, "whatsapp");
    const { back } = await answerDialog(dialogUrl!, { number: "100000000000001:200000000000009", action: "allow", outcome: "ok" });
    await expectRefusedBeforeChanges(await finish(owner, "whatsapp/embedded-signup", back), "several numbers (+1 555-000-1111, +1 555-000-9999)");
  });

  it("refuses to guess which WhatsApp Business account was meant when the business shared several, before changing anything at Meta", async () => {
    const { dialogUrl } = await startLogin(owner, "whatsapp");
    const { page, back } = await answerDialog(dialogUrl!, { number: "100000000000001:200000000000001", share_waba: "100000000000002", action: "allow", outcome: "ok" });
    expect(page).toContain("Also share");
    await expectRefusedBeforeChanges(await finish(owner, "whatsapp/embedded-signup", back), "Meta shared 2 WhatsApp Business accounts (100000000000001, 100000000000002)");
  });

  it("finishes one login per state: the same answer handed back again connects nothing and asks Meta nothing", async () => {
    const { dialogUrl } = await startLogin(owner, "instagram");
    const { back } = await answerDialog(dialogUrl!, { account: "17840000000000001", action: "allow" });
    expect((await finish(owner, "instagram/connect", back)).status).toBe(201);
    const asked = graph.requests.length;
    const again = await finish(owner, "instagram/connect", back);
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: "invalid_state", message: "This login was already finished: start connecting again" });
    expect(graph.requests).toHaveLength(asked);
    expect(await sql(`SELECT kind, external_id FROM channels`)).toEqual([{ kind: "instagram", external_id: "17840000000000001" }]);
  });

  it("connects the Pages ticked in the dialog, with the Instagram account linked to them", async () => {
    const { dialogUrl } = await startLogin(owner, "messenger");
    const { page, back } = await answerDialog(dialogUrl!, { page: "300000000000001", action: "allow", outcome: "ok" });
    expect(page).toContain("300000000000002");
    const { status, body } = await finish(owner, "messenger/connect", back);
    expect(status).toBe(201);
    expect(body.channels.map((c: { kind: string; externalId: string }) => `${c.kind}:${c.externalId}`).sort()).toEqual(["instagram:17840000000000001", "messenger:300000000000001"]);
  });

  it("connects an Instagram account through Instagram Login, ignoring the #_ Instagram appends", async () => {
    const { dialogUrl } = await startLogin(owner, "instagram");
    const shown = await fetch(dialogUrl!, { method: "POST", body: new URLSearchParams({ account: "17840000000000001", action: "allow" }), redirect: "manual" });
    expect(shown.headers.get("location")).toMatch(/#_$/);
    const back = new URL(shown.headers.get("location")!).searchParams;
    const { status, body } = await finish(owner, "instagram/connect", back);
    expect(status).toBe(201);
    expect(body.channels[0]).toMatchObject({ kind: "instagram", externalId: "17840000000000001", tokenExpiresAt: expect.any(Number) });
  });

  it("hands back Meta's access_denied when the person cancels, and nothing is connected", async () => {
    for (const kind of ["whatsapp", "messenger", "instagram"] as const) {
      const { dialogUrl, state } = await startLogin(owner, kind);
      const { back } = await answerDialog(dialogUrl!, { action: "cancel" });
      expect(back.get("error")).toBe("access_denied");
      expect(back.get("error_reason")).toBe("user_denied");
      expect(back.get("state")).toBe(state);
      expect(back.has("code")).toBe(false);
    }
    expect(await sql(`SELECT id FROM channels`)).toEqual([]);
  });

  it("explains a code Meta no longer accepts, and saves nothing", async () => {
    const { dialogUrl } = await startLogin(owner, "whatsapp");
    const { back } = await answerDialog(dialogUrl!, { number: "100000000000001:200000000000001", action: "allow", outcome: "expired" });
    const { status, body } = await finish(owner, "whatsapp/embedded-signup", back);
    expect(status).toBe(502);
    expect(body.error.message).toBe("The Meta login took too long and its code expired. Start connecting again.");
    expect(await sql(`SELECT id FROM channels`)).toEqual([]);
  });

  it("refuses Embedded Signup without this session's WhatsApp state, before asking Meta anything", async () => {
    const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
    const path = `/workspaces/${owner.workspaceId}/channels/whatsapp/embedded-signup`;
    const missing = await api(path, { as: owner, body: { code } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain("state");
    const messengerState = (await startLogin(owner, "messenger")).state;
    const wrongFlow = await api(path, { as: owner, body: { code, state: messengerState } });
    expect(wrongFlow.status).toBe(400);
    expect(wrongFlow.body.error.code).toBe("invalid_state");
    const half = await api(path, { as: owner, body: { code, state: (await startLogin(owner, "whatsapp")).state, wabaId: "100000000000001" } });
    expect(half.status).toBe(400);
    expect(half.body.error.message).toContain("wabaId and phoneNumberId");
    expect(graph.requests).toEqual([]);
    expect(await sql(`SELECT id FROM channels`)).toEqual([]);
  });

  it("shows Meta's error page, not a redirect, for a wrong app id or redirect address", async () => {
    const { dialogUrl } = await startLogin(owner, "messenger");
    const wrongApp = new URL(dialogUrl!);
    wrongApp.searchParams.set("client_id", "999");
    const refused = await fetch(wrongApp, { redirect: "manual" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("Invalid App ID");
    const elsewhere = new URL(dialogUrl!);
    elsewhere.searchParams.set("redirect_uri", "https://attacker.example/oauth/callback");
    const notListed = await fetch(elsewhere, { redirect: "manual" });
    expect(notListed.status).toBe(400);
    expect(await notListed.text()).toContain("URL blocked");
    const noRedirect = new URL(dialogUrl!);
    noRedirect.searchParams.delete("redirect_uri");
    const blocked = await fetch(noRedirect, { method: "POST", body: new URLSearchParams({ action: "allow" }), redirect: "manual" });
    expect(blocked.status).toBe(400);
    expect(await blocked.text()).toContain("URL blocked");
  });
});
