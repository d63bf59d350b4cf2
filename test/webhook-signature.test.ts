import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signWebhookBody, verifyWebhookSignature } from "../workers/webhook-signature.ts";
import unicodeFixture from "./fixtures/meta/whatsapp-text-unicode-rtl-emoji.json?raw";
import { call, countRows, postOk, seedDemoWorkspace, webhookRequest } from "./helpers.ts";

// Vectors from test/fixtures/meta/README.md (fake app secret).
const FIXTURE_SECRET = "fake_app_secret_do_not_use_0001";
const RAW_SIGNATURE = "sha256=d1bb41b4565ca201cd7a06737e116b22e99cd45a5bc5c0f0ec850b47d81b4fd2";
const RESERIALISED_SIGNATURE = "sha256=16a4c40e6d22c412b65b261cd97bc9f8e5d95ff50fc6bf5f45d9f71fd60102a9";
const bytes = (s: string) => new TextEncoder().encode(s).buffer as ArrayBuffer;

describe("X-Hub-Signature-256 over the exact raw bytes", () => {
  it("verifies Meta's escaped wire form of a unicode body (RTL, emoji, accents, \\/)", async () => {
    expect(unicodeFixture).toContain("\\u00e4\\u00f6\\u00e5");
    expect(await signWebhookBody(bytes(unicodeFixture), FIXTURE_SECRET)).toBe(RAW_SIGNATURE);
    expect(await verifyWebhookSignature(RAW_SIGNATURE, bytes(unicodeFixture), [FIXTURE_SECRET])).toEqual({
      ok: true,
      secretIndex: 0,
    });
  });

  it("does not verify the same JSON re-serialised, which is why the body is never re-serialised", async () => {
    const reserialised = JSON.stringify(JSON.parse(unicodeFixture));
    expect(await signWebhookBody(bytes(reserialised), FIXTURE_SECRET)).toBe(RESERIALISED_SIGNATURE);
    expect(await verifyWebhookSignature(RAW_SIGNATURE, bytes(reserialised), [FIXTURE_SECRET])).toEqual({
      ok: false,
      problem: "invalid_signature",
    });
  });

  it("accepts the previous app secret during a rotation and says which one matched", async () => {
    const signature = await signWebhookBody(bytes("{}"), "old-secret");
    expect(await verifyWebhookSignature(signature, bytes("{}"), ["new-secret", "old-secret"])).toEqual({
      ok: true,
      secretIndex: 1,
    });
  });

  it("tells a missing, a malformed and a wrong signature apart", async () => {
    const body = bytes("{}");
    expect(await verifyWebhookSignature(null, body, ["s"])).toEqual({ ok: false, problem: "missing_signature" });
    for (const header of ["sha1=abc", "sha256=", "sha256=xyz", `sha256=${"a".repeat(63)}`, "d1bb41b4"]) {
      expect(await verifyWebhookSignature(header, body, ["s"])).toEqual({ ok: false, problem: "malformed_signature" });
    }
    expect(await verifyWebhookSignature(`sha256=${"0".repeat(64)}`, body, ["s"])).toEqual({
      ok: false,
      problem: "invalid_signature",
    });
  });
});

describe("POST /webhooks/meta signature checks", () => {
  beforeAll(seedDemoWorkspace);

  it("stores the unicode fixture byte for byte when it is signed over its raw bytes", async () => {
    const report = await postOk(unicodeFixture);
    expect(report).toMatchObject({ received: 1, stored: 1 });
  });

  it("accepts a body signed with the previous app secret (rotation)", async () => {
    const response = await call(
      await webhookRequest(unicodeFixture.replace("FAKE_IN_000002", "FAKE_IN_ROTATED"), {
        secret: env.META_APP_SECRET_PREVIOUS!,
      }),
    );
    expect(response.status).toBe(200);
  });

  it.each([
    ["missing", null, "missing_signature"],
    ["malformed", "sha256=not-hex", "malformed_signature"],
    ["wrong", `sha256=${"ab".repeat(32)}`, "invalid_signature"],
  ] as const)("answers 401 to a %s signature and stores nothing", async (_, signature, code) => {
    const before = await Promise.all(["messages", "conversations", "quarantine", "channel_events"].map(countRows));
    const body = unicodeFixture.replace("FAKE_IN_000002", `FAKE_IN_UNSIGNED_${code}`);
    const response = await call(await webhookRequest(body, { signature }));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
    const after = await Promise.all(["messages", "conversations", "quarantine", "channel_events"].map(countRows));
    expect(after).toEqual(before);
  });

  it("answers 401 to a body signed with some other secret", async () => {
    const response = await call(await webhookRequest(unicodeFixture, { secret: "someone-else" }));
    expect(response.status).toBe(401);
  });
});
