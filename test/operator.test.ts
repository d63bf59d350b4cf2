import { describe, expect, it } from "vitest";
import { sealSecret } from "../workers/vault/vault.ts";
import { env } from "cloudflare:workers";
import { OPERATOR_KEY, api, signUp } from "./helpers.ts";

describe("operator routes", () => {
  it("re-wraps workspace keys through POST /api/operator/vault/rotate, audited", async () => {
    await sealSecret(env, { workspaceId: "ws_operator_test", channelId: "ch_operator_test", purpose: "access_token", plaintext: "EAAG-operator-test" });
    const { status, body } = await api("/operator/vault/rotate", { bearer: OPERATOR_KEY, body: { batchSize: 10 } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ failed: [], remaining: 0 });
    const entry = await env.DB.prepare(`SELECT action FROM audit_log WHERE action = 'vault.master_key_rotation'`).first();
    expect(entry).toEqual({ action: "vault.master_key_rotation" });
  });

  it("refuses anyone without the operator key, signed-in owners included", async () => {
    const owner = await signUp();
    expect((await api("/operator/vault/rotate", { body: {} })).status).toBe(401);
    expect((await api("/operator/vault/rotate", { as: owner, body: {} })).status).toBe(401);
    expect((await api("/operator/vault/rotate", { bearer: "wrong", body: {} })).status).toBe(401);
    expect((await api("/operator/vault/rotate", { bearer: OPERATOR_KEY, body: { batchSize: 0 } })).status).toBe(400);
  });
});
