import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import whatsappText from "./fixtures/meta/whatsapp-text.json";
import { OPERATOR_KEY, api, call, countRows, postOk, postWebhook, seedDemoWorkspace, webhookRequest } from "./helpers.ts";

const TABLES = ["messages", "conversations", "contacts", "quarantine", "channel_events"];
const snapshot = () => Promise.all(TABLES.map(countRows));

function withMessageId(id: string, phoneNumberId = "200000000000001") {
  const body = structuredClone(whatsappText);
  const value = body.entry[0]!.changes[0]!.value;
  value.messages[0]!.id = id;
  value.metadata.phone_number_id = phoneNumberId;
  return body;
}

describe("bad webhook input", () => {
  beforeAll(seedDemoWorkspace);

  it("refuses a body over the documented limit with 413 before verifying or storing anything", async () => {
    const limit = Number(env.WEBHOOK_MAX_BYTES);
    const before = await snapshot();
    const oversized = JSON.stringify({ ...withMessageId("wamid.OVERSIZED"), padding: "x".repeat(limit) });
    const response = await postWebhook(oversized);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: { code: "payload_too_large", message: expect.stringContaining(String(limit)) } });
    expect(await snapshot()).toEqual(before);
  });

  it("refuses an oversized body streamed without a Content-Length", async () => {
    const limit = Number(env.WEBHOOK_MAX_BYTES);
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > limit * 2) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request("https://wechatting.test/webhooks/meta", {
      method: "POST",
      headers: { "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body,
      duplex: "half",
    } as RequestInit);
    expect((await call(request)).status).toBe(413);
  });

  it("answers 400 to a body that breaks off before its end (the sender went away), and stores nothing", async () => {
    const before = await snapshot();
    const bytes = new TextEncoder().encode(JSON.stringify(withMessageId("wamid.BROKEN_OFF")));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 100));
        controller.error(new Error("connection lost"));
      },
    });
    const request = new Request("https://wechatting.test/webhooks/meta", {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body,
      duplex: "half",
    } as RequestInit);
    const response = await call(request);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: "unreadable_body", message: expect.any(String) } });
    expect(await snapshot()).toEqual(before);
  });

  it("answers 400 to a signed body that is not JSON, and stores nothing", async () => {
    const before = await snapshot();
    for (const body of ["not json", "{\"object\":", ""]) {
      const response = await postWebhook(body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: { code: "invalid_json", message: expect.any(String) } });
    }
    expect(await snapshot()).toEqual(before);
  });

  it("acknowledges a signed body of the wrong shape and quarantines it with its reason", async () => {
    const report = await postOk({ hello: "world" });
    expect(report).toMatchObject({ received: 1, stored: 0, quarantined: 1 });
    const { body } = await api("/quarantine?reason=invalid_envelope", { bearer: OPERATOR_KEY });
    expect(body.items[0]).toMatchObject({ reason: "invalid_envelope", payload: { hello: "world" } });
  });

  it("quarantines an unknown object instead of dropping it", async () => {
    await postOk({ object: "permissions", entry: [{ id: "1", time: 1, changes: [] }] });
    const { body } = await api("/quarantine?reason=unknown_object", { bearer: OPERATOR_KEY });
    expect(body.items[0]).toMatchObject({ reason: "unknown_object", object: "permissions" });
  });

  it("quarantines events for an account no workspace has connected, and still stores the rest of the batch", async () => {
    const batch = withMessageId("wamid.KNOWN_NEXT_TO_UNKNOWN");
    const stranger = withMessageId("wamid.FOR_A_STRANGER", "299999999999999");
    batch.entry.push(stranger.entry[0]!);
    const report = await postOk(batch);
    expect(report).toMatchObject({ received: 2, stored: 1, quarantined: 1 });
    const { body } = await api("/quarantine?reason=unknown_account", { bearer: OPERATOR_KEY });
    expect(body.items[0]).toMatchObject({ reason: "unknown_account", accountId: "299999999999999", object: "whatsapp" });
    expect(JSON.stringify(body.items[0].payload)).toContain("wamid.FOR_A_STRANGER");
  });

  it("quarantines a malformed item once even when Meta retries the POST", async () => {
    const body = withMessageId("wamid.MALFORMED_TIMESTAMP");
    (body.entry[0]!.changes[0]!.value.messages[0] as { timestamp: unknown }).timestamp = { not: "a timestamp" };
    const before = await countRows("quarantine");
    for (let i = 0; i < 3; i++) expect(await postOk(body)).toMatchObject({ quarantined: 1, stored: 0 });
    expect(await countRows("quarantine")).toBe(before + 1);
  });

  it("stores nothing for a request whose signature was computed over other bytes", async () => {
    const before = await snapshot();
    const signed = await webhookRequest(withMessageId("wamid.TAMPERED"));
    const tampered = new Request(signed, { body: JSON.stringify(withMessageId("wamid.TAMPERED_2")) });
    expect((await call(tampered)).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });
});
