/**
 * Meta's Data Deletion Request Callback and the operator's entry for requests received by email:
 * verification, idempotent repeats, the answer `{ url, confirmation_code }`, the public status page,
 * and the deletion itself (the grant's channels and the contacts Meta knows by that id).
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { recordMetaDeletion } from "../workers/privacy/meta-deletion.ts";
import messengerText from "./fixtures/meta/messenger-text.json";
import { useGraphSimulator } from "./graph-simulator.ts";
import { OPERATOR_KEY, api, call, BASE, conversationOf, postOk, seedDemoWorkspace, signUp, sql } from "./helpers.ts";
import { dumpConversationObject, dumpD1, postForm, runRetentionCron, signedRequest } from "./privacy-helpers.ts";

const graph = useGraphSimulator();
const REDIRECT = "https://wechatting.test/channels/callback";
const PSID = messengerText.entry[0]!.messaging[0]!.sender.id;

const now = () => Math.floor(Date.now() / 1000);
const deletionRequest = async (payload: object) => postForm("/webhooks/meta/data-deletion", { signed_request: await signedRequest(payload) });
const statusPage = (url: string) => call(new Request(url));

beforeEach(async () => {
  for (const table of ["channels", "channel_secrets", "conversations", "messages", "contacts", "rights_requests"]) await sql(`DELETE FROM ${table}`);
});

describe("Meta data deletion callback", () => {
  it("refuses a missing, tampered, other-algorithm or stale signed_request, and records nothing", async () => {
    const payload = { algorithm: "HMAC-SHA256", issued_at: now(), user_id: "1000000000000001" };
    expect((await postForm("/webhooks/meta/data-deletion", {})).status).toBe(400);
    const tampered = (await signedRequest(payload)).replace(/^./, (ch) => (ch === "A" ? "B" : "A"));
    const refusals = [
      [await postForm("/webhooks/meta/data-deletion", { signed_request: tampered }), 401, "invalid_signature"],
      [await postForm("/webhooks/meta/data-deletion", { signed_request: await signedRequest(payload, "another-secret") }), 401, "invalid_signature"],
      [await deletionRequest({ ...payload, algorithm: "HMAC-SHA1" }), 400, "unsupported_algorithm"],
      [await deletionRequest({ ...payload, issued_at: payload.issued_at - 3 * 24 * 3600 }), 400, "stale"],
      [await deletionRequest({ ...payload, issued_at: payload.issued_at + 3600 }), 400, "stale"],
    ] as const;
    for (const [response, status, code] of refusals) {
      expect(response.status).toBe(status);
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe(code);
    }
    expect(await sql(`SELECT * FROM rights_requests`)).toEqual([]);
  });

  it("answers { url, confirmation_code } with 128+ random bits, once per request however often Meta repeats it", async () => {
    const payload = { algorithm: "HMAC-SHA256", issued_at: now(), user_id: "1000000000000009" };
    const first = await deletionRequest(payload);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("application/json");
    const body = await first.json<{ url: string; confirmation_code: string }>();
    expect(body.confirmation_code).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(body.confirmation_code.length * 6).toBeGreaterThanOrEqual(128);
    expect(body.url).toBe(`${BASE}/privacy/deletion/${body.confirmation_code}`);
    const again = await (await deletionRequest(payload)).json<{ confirmation_code: string }>();
    expect(again.confirmation_code).toBe(body.confirmation_code);
    expect(await sql(`SELECT count(*) AS n FROM rights_requests WHERE kind = 'meta_deletion'`)).toEqual([{ n: 1 }]);
    const other = await (await deletionRequest({ ...payload, user_id: "1000000000000010" })).json<{ confirmation_code: string }>();
    expect(other.confirmation_code).not.toBe(body.confirmation_code);
  });

  it("deletes what the id maps to: the channels that person granted lose token and link, the contact's conversations are erased", async () => {
    const owner = await signUp();
    const { code } = graph.sim.createCode({ kind: "facebook_login", redirectUri: REDIRECT });
    const state = (await api(`/workspaces/${owner.workspaceId}/channels/oauth/state`, { as: owner, body: { kind: "messenger" } })).body.state;
    await api(`/workspaces/${owner.workspaceId}/channels/messenger/connect`, { as: owner, body: { code, state, redirectUri: REDIRECT } });
    const [granted] = await sql<{ meta_user_id: string }>(`SELECT meta_user_id FROM channels WHERE kind = 'messenger'`);
    const grant = await (await deletionRequest({ algorithm: "HMAC-SHA256", issued_at: now(), user_id: granted!.meta_user_id })).json<{ url: string }>();
    expect(await sql(`SELECT DISTINCT status, meta_user_id FROM channels`)).toEqual([{ status: "revoked", meta_user_id: null }]);
    expect(await sql(`SELECT * FROM channel_secrets`)).toEqual([]);
    const page = await (await statusPage(grant.url)).text();
    expect(page).toContain("Completed");
    expect(page).not.toContain(granted!.meta_user_id);

    await sql(`DELETE FROM channels`);
    await seedDemoWorkspace();
    await postOk(messengerText);
    const conversation = conversationOf("messenger", PSID);
    expect(await dumpD1()).toContain("hello, world!");
    const customer = await (await deletionRequest({ algorithm: "HMAC-SHA256", issued_at: now(), user_id: PSID })).json<{ url: string }>();
    expect(await sql(`SELECT * FROM contacts WHERE identity = ?`, PSID)).toEqual([]);
    expect(await sql(`SELECT * FROM conversations WHERE id = ?`, conversation)).toEqual([]);
    expect(await dumpConversationObject(conversation)).not.toContain("hello, world!");
    const [request] = await sql<{ subject_id: string | null; status: string; receipt: string }>(`SELECT subject_id, status, receipt FROM rights_requests WHERE subject_id IS NULL AND receipt LIKE '%"contactsErased":1%'`);
    expect(request).toMatchObject({ subject_id: null, status: "completed" });
    expect(JSON.parse(request!.receipt)).toMatchObject({ contactsErased: 1, messagesErased: 1 });
    expect(await (await statusPage(customer.url)).text()).toContain("Completed");
  });

  it("serves a human-readable status page per code: received, completed with dates, refused with its reason; no personal data", async () => {
    const pending = await recordMetaDeletion(env, { metaUserId: "1000000000000077", source: "meta_callback", dedupeKey: null });
    const url = `${BASE}/privacy/deletion/${pending.confirmationCode}`;
    const received = await statusPage(url);
    expect(received.status).toBe(200);
    expect(received.headers.get("content-type")).toContain("text/html");
    expect(received.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await received.text();
    expect(html).toContain("Received");
    expect(html).toContain(new Date(pending.receivedAt).toUTCString());
    expect(html).not.toContain("1000000000000077");

    await runRetentionCron();
    expect(await (await statusPage(url)).text()).toMatch(/Completed[\s\S]*Completed<\/dt><dd>[A-Z][a-z]{2}, /);

    const refused = await recordMetaDeletion(env, { metaUserId: "1000000000000078", source: "operator", dedupeKey: null });
    await sql(`UPDATE rights_requests SET status = 'refused', outcome = 'Kept for a pending legal claim until 2027-01-01' WHERE id = ?`, refused.id);
    const refusal = await (await statusPage(`${BASE}/privacy/deletion/${refused.confirmationCode}`)).text();
    expect(refusal).toContain("Refused");
    expect(refusal).toContain("Kept for a pending legal claim until 2027-01-01");

    const unknown = await statusPage(`${BASE}/privacy/deletion/${"A".repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("No request has this confirmation code");
  });
});

describe("deletion requests received by email", () => {
  it("are entered by an operator into the same pipeline, with the same code and status page", async () => {
    expect((await api("/operator/deletion-requests", { body: { metaUserId: PSID } })).status).toBe(401);
    const owner = await signUp();
    expect((await api("/operator/deletion-requests", { as: owner, body: { metaUserId: PSID } })).status).toBe(401);
    const invalid = await api("/operator/deletion-requests", { bearer: OPERATOR_KEY, body: { metaUserId: "someone@example.com" } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toContain("metaUserId");

    await seedDemoWorkspace();
    await postOk(messengerText);
    const { status, body } = await api("/operator/deletion-requests", { bearer: OPERATOR_KEY, body: { metaUserId: PSID } });
    expect(status).toBe(201);
    expect(body.confirmation_code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await sql(`SELECT * FROM contacts WHERE identity = ?`, PSID)).toEqual([]);
    expect(await sql(`SELECT source, status FROM rights_requests WHERE confirmation_code = ?`, body.confirmation_code)).toEqual([{ source: "operator", status: "completed" }]);
    expect(await (await statusPage(body.url)).text()).toContain("Completed");
  });
});
