/**
 * The token vault, in workerd against real D1: channel secrets under per-workspace data keys, bound
 * to their row, failing closed, surviving master-key rotation, crypto-shredded on request — and no
 * token anywhere in the database in any common encoding.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { fromBase64, toBase64 } from "../workers/vault/master-keys.ts";
import { rewrapWorkspaceKeys } from "../workers/vault/rotate.ts";
import {
  ENCRYPTIONS_PER_DATA_KEY,
  VaultUnavailable,
  destroySecret,
  destroyWorkspaceKey,
  openSecret,
  sealSecret,
  type SecretRef,
  type VaultEnv,
} from "../workers/vault/vault.ts";

const masterKeys = JSON.parse(env.VAULT_MASTER_KEYS) as { k2025: string; k2026: string };
/** Before the rotation: both keys configured, k2025 still the active one. */
const before2026: VaultEnv = { ...env, VAULT_ACTIVE_KEY_ID: "k2025" };
/** After it: k2025 removed. */
const only2026: VaultEnv = { ...env, VAULT_MASTER_KEYS: JSON.stringify({ k2026: masterKeys.k2026 }) };

const newId = (prefix: string) => `${prefix}_${crypto.randomUUID()}`;
const newToken = () => `EAAG${crypto.randomUUID().replaceAll("-", "")}ZD`;
const secretRef = (workspaceId = newId("ws"), purpose = "access_token"): SecretRef => ({
  workspaceId,
  channelId: newId("ch"),
  purpose,
});

/** Seals a fresh token at `ref` and returns it. */
async function seal(ref: SecretRef, bindings: VaultEnv = env): Promise<string> {
  const plaintext = newToken();
  await sealSecret(bindings, { ...ref, plaintext });
  return plaintext;
}

async function expectOpens(ref: SecretRef, plaintext: string, bindings: VaultEnv = env) {
  expect(await openSecret(bindings, ref)).toMatchObject({ ok: true, plaintext });
}

type SecretRow = { workspace_id: string; key_id: string; ciphertext: string; iv: string; version: number };
type KeyRow = { workspace_id: string; key_id: string; wrapped_key: string; master_key_id: string; encryptions: number; rotated_at: number | null };

const secretRow = (ref: SecretRef) =>
  env.DB.prepare("SELECT * FROM channel_secrets WHERE channel_id = ? AND purpose = ?").bind(ref.channelId, ref.purpose).first<SecretRow>();
const keyRow = (workspaceId: string) =>
  env.DB.prepare("SELECT * FROM workspace_keys WHERE workspace_id = ?").bind(workspaceId).first<KeyRow>();

const setSecretColumns = (ref: SecretRef, columns: Partial<SecretRow>) =>
  env.DB.prepare(
    `UPDATE channel_secrets SET ${Object.keys(columns).map((c) => `${c} = ?`).join(", ")} WHERE channel_id = ? AND purpose = ?`,
  )
    .bind(...Object.values(columns), ref.channelId, ref.purpose)
    .run();

/** Puts a row back as it was, as a restore from a D1 backup would. */
async function insertRow(table: string, row: object) {
  const columns = Object.keys(row);
  await env.DB.prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
    .bind(...Object.values(row))
    .run();
}

function flipBit(base64: string, byte: number): string {
  const bytes = fromBase64(base64)!;
  bytes[byte]! ^= 0x01;
  return toBase64(bytes);
}

describe("sealing and opening channel secrets", () => {
  it("opens what it sealed, and the stored row holds only ciphertext", async () => {
    const ref = secretRef();
    const plaintext = newToken();
    const expiresAt = Date.UTC(2027, 0, 1);
    expect(await sealSecret(env, { ...ref, plaintext, expiresAt })).toMatchObject({ version: 1 });
    expect(await openSecret(env, ref)).toEqual({ ok: true, plaintext, version: 1, expiresAt });
    const row = (await secretRow(ref))!;
    expect(JSON.stringify(row)).not.toContain(plaintext);
    expect(fromBase64(row.iv)).toHaveLength(12);
    expect(row.key_id).toBe((await keyRow(ref.workspaceId))!.key_id);
  });

  it("increments the version when a secret is replaced", async () => {
    const ref = secretRef();
    await seal(ref);
    const replacement = await seal(ref);
    expect(await openSecret(env, ref)).toMatchObject({ ok: true, plaintext: replacement, version: 2 });
  });

  it("uses a fresh random IV every time: the same plaintext twice gives different ciphertexts", async () => {
    const ref = secretRef();
    const seen = { ivs: new Set<string>(), ciphertexts: new Set<string>() };
    for (let i = 0; i < 20; i++) {
      await sealSecret(env, { ...ref, plaintext: "the same token" });
      const row = (await secretRow(ref))!;
      seen.ivs.add(row.iv);
      seen.ciphertexts.add(row.ciphertext);
    }
    expect(seen.ivs.size).toBe(20);
    expect(seen.ciphertexts.size).toBe(20);
  });

  it("creates one data key per workspace on first use, even when first uses race, and counts its encryptions", async () => {
    const workspaceId = newId("ws");
    const refs = Array.from({ length: 8 }, () => secretRef(workspaceId));
    const tokens = await Promise.all(refs.map((ref) => seal(ref)));
    const keys = await env.DB.prepare("SELECT count(*) AS n FROM workspace_keys WHERE workspace_id = ?").bind(workspaceId).first<{ n: number }>();
    expect(keys?.n).toBe(1);
    expect((await keyRow(workspaceId))!.encryptions).toBe(8);
    for (const [i, ref] of refs.entries()) await expectOpens(ref, tokens[i]!);
    const other = secretRef();
    await seal(other);
    expect((await keyRow(other.workspaceId))!.key_id).not.toBe((await keyRow(workspaceId))!.key_id);
  });

  it("refuses to replace a channel's secret from another workspace", async () => {
    const ref = secretRef();
    const original = await seal(ref);
    await expect(seal({ ...ref, workspaceId: newId("ws") })).rejects.toThrow(/another workspace/);
    await expectOpens(ref, original);
  });

  it("refuses malformed references and empty secrets", async () => {
    const ref = secretRef();
    await expect(sealSecret(env, { ...ref, channelId: "a:b", plaintext: "x" })).rejects.toThrow(TypeError);
    await expect(sealSecret(env, { ...ref, purpose: "Access Token", plaintext: "x" })).rejects.toThrow(TypeError);
    await expect(sealSecret(env, { ...ref, plaintext: "" })).rejects.toThrow(TypeError);
    await expect(openSecret(env, { ...ref, workspaceId: "" })).rejects.toThrow(TypeError);
  });
});

describe("AAD binding: a ciphertext copied to another row does not decrypt", () => {
  const cases: [string, (from: SecretRef) => SecretRef][] = [
    ["another channel of the same workspace", (from) => secretRef(from.workspaceId)],
    ["another purpose of the same channel", (from) => ({ ...from, purpose: "refresh_token" })],
    ["a channel of another workspace", () => secretRef()],
  ];

  it.each(cases)("copied to %s → tampered", async (_, target) => {
    const from = secretRef();
    const to = target(from);
    const original = await seal(from);
    await seal(to);
    const { ciphertext, iv } = (await secretRow(from))!;
    await setSecretColumns(to, { ciphertext, iv });
    expect(await openSecret(env, to)).toEqual({ ok: false, error: "tampered" });
    await expectOpens(from, original);
  });

  it("a flipped bit in the ciphertext, its tag, the IV or the wrapped data key → tampered", async () => {
    const ref = secretRef();
    await seal(ref);
    const row = (await secretRow(ref))!;
    const tagStart = fromBase64(row.ciphertext)!.length - 16;
    for (const change of [
      { ciphertext: flipBit(row.ciphertext, 0) },
      { ciphertext: flipBit(row.ciphertext, tagStart) },
      { iv: flipBit(row.iv, 11) },
      { iv: "not base64!" },
    ]) {
      await setSecretColumns(ref, { ...row, ...change });
      expect(await openSecret(env, ref), JSON.stringify(change)).toEqual({ ok: false, error: "tampered" });
    }
    await setSecretColumns(ref, row);
    const { wrapped_key } = (await keyRow(ref.workspaceId))!;
    await env.DB.prepare("UPDATE workspace_keys SET wrapped_key = ? WHERE workspace_id = ?")
      .bind(flipBit(wrapped_key, 20), ref.workspaceId)
      .run();
    expect(await openSecret(env, ref)).toEqual({ ok: false, error: "tampered" });
    await expect(seal(secretRef(ref.workspaceId))).rejects.toThrow(VaultUnavailable);
  });

  it("answers not_found to a workspace asking for another workspace's channel", async () => {
    const ref = secretRef();
    await seal(ref);
    expect(await openSecret(env, { ...ref, workspaceId: newId("ws") })).toEqual({ ok: false, error: "not_found" });
  });
});

describe("fail closed: without usable master keys nothing is written", () => {
  const { k2025, k2026 } = masterKeys;
  const short = toBase64(crypto.getRandomValues(new Uint8Array(31)));
  const long = toBase64(crypto.getRandomValues(new Uint8Array(33)));
  const misconfigurations: [string, Partial<VaultEnv>][] = [
    ["no VAULT_MASTER_KEYS", { VAULT_MASTER_KEYS: undefined }],
    ["an empty VAULT_MASTER_KEYS", { VAULT_MASTER_KEYS: "" }],
    ["VAULT_MASTER_KEYS that is not JSON", { VAULT_MASTER_KEYS: `{k2026: "${k2026}"}` }],
    ["VAULT_MASTER_KEYS that is an array", { VAULT_MASTER_KEYS: JSON.stringify([k2026]) }],
    ["a key id outside [a-z0-9-]{1,32}", { VAULT_MASTER_KEYS: JSON.stringify({ K2026: k2026 }), VAULT_ACTIVE_KEY_ID: "K2026" }],
    ["a 31-byte key", { VAULT_MASTER_KEYS: JSON.stringify({ k2026: short }) }],
    ["a 33-byte key", { VAULT_MASTER_KEYS: JSON.stringify({ k2026: long }) }],
    ["a key that is not base64", { VAULT_MASTER_KEYS: JSON.stringify({ k2026: `${k2026.slice(0, 42)}!=` }) }],
    ["a key that is not a string", { VAULT_MASTER_KEYS: JSON.stringify({ k2026: 42 }) }],
    ["the same key under two ids", { VAULT_MASTER_KEYS: JSON.stringify({ k2025: k2026, k2026 }) }],
    ["no VAULT_ACTIVE_KEY_ID", { VAULT_ACTIVE_KEY_ID: undefined }],
    ["an active id that is not configured", { VAULT_ACTIVE_KEY_ID: "k2027" }],
  ];

  it.each(misconfigurations)("%s → VaultUnavailable, no row written, and no secret in the error", async (_, change) => {
    const broken = { ...env, ...change } as VaultEnv;
    const ref = secretRef();
    const plaintext = newToken();
    const error = await sealSecret(broken, { ...ref, plaintext }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultUnavailable);
    const message = String((error as Error).message);
    for (const secret of [plaintext, k2025, k2026, short, long]) expect(message).not.toContain(secret);
    expect(await secretRow(ref)).toBeNull();
    expect(await keyRow(ref.workspaceId)).toBeNull();

    const stored = secretRef();
    await seal(stored);
    expect(await openSecret(broken, stored)).toEqual({ ok: false, error: "unavailable" });
  });

  it("a workspace key wrapped by a master key no longer configured → unavailable, and sealing is refused", async () => {
    const ref = secretRef();
    await seal(ref, before2026);
    expect(await openSecret(only2026, ref)).toEqual({ ok: false, error: "unavailable" });
    await expect(seal(ref, only2026)).rejects.toThrow(VaultUnavailable);
    expect((await secretRow(ref))!.version).toBe(1);
    await destroyWorkspaceKey(env, ref.workspaceId); // leaves no k2025 row behind for the rotation tests
  });

  it("refuses to seal once a data key reaches its encryption budget (NIST SP 800-38D: 2^32 with random IVs)", async () => {
    expect(ENCRYPTIONS_PER_DATA_KEY).toBeLessThan(2 ** 32);
    const ref = secretRef();
    const original = await seal(ref);
    await env.DB.prepare("UPDATE workspace_keys SET encryptions = ? WHERE workspace_id = ?").bind(ENCRYPTIONS_PER_DATA_KEY, ref.workspaceId).run();
    await expect(seal(ref)).rejects.toThrow(VaultUnavailable);
    await expectOpens(ref, original);
  });
});

/** Seals two secrets in each of `count` new workspaces; returns them with their plaintexts. */
async function liveData(count: number, bindings: VaultEnv) {
  const secrets: { ref: SecretRef; plaintext: string }[] = [];
  for (let i = 0; i < count; i++) {
    const workspaceId = newId("ws");
    for (const purpose of ["access_token", "refresh_token"]) {
      const ref = secretRef(workspaceId, purpose);
      secrets.push({ ref, plaintext: await seal(ref, bindings) });
    }
  }
  const workspaces = [...new Set(secrets.map((s) => s.ref.workspaceId))];
  return { secrets, workspaces };
}

const masterKeyOf = async (workspaces: string[]) => Promise.all(workspaces.map(async (w) => (await keyRow(w))!.master_key_id));

describe("master-key rotation", () => {
  it("re-wraps live data under k2026 without re-encrypting it; everything opens during, after, and without k2025", async () => {
    const { secrets, workspaces } = await liveData(3, before2026);
    expect(await masterKeyOf(workspaces)).toEqual(["k2025", "k2025", "k2025"]);
    const ciphertexts = await Promise.all(secrets.map(async ({ ref }) => (await secretRow(ref))!.ciphertext));
    const dataKeyIds = await Promise.all(workspaces.map(async (w) => (await keyRow(w))!.key_id));

    // k2026 active, nothing re-wrapped yet: old keys still unwrap and seal.
    const during = secretRef(workspaces[0]);
    secrets.push({ ref: during, plaintext: await seal(during) });
    for (const { ref, plaintext } of secrets) await expectOpens(ref, plaintext);

    const report = await rewrapWorkspaceKeys(env, { batchSize: 100 });
    expect(report).toMatchObject({ failed: [], orphaned: 0, remaining: 0, next: null });
    expect(report.rewrapped).toBeGreaterThanOrEqual(3);
    expect(await masterKeyOf(workspaces)).toEqual(["k2026", "k2026", "k2026"]);
    const everyRow = await env.DB.prepare("SELECT DISTINCT master_key_id FROM workspace_keys").all<{ master_key_id: string }>();
    expect(everyRow.results.map((r) => r.master_key_id)).toEqual(["k2026"]);
    expect(await Promise.all(workspaces.map(async (w) => (await keyRow(w))!.key_id))).toEqual(dataKeyIds);
    expect(await Promise.all(secrets.slice(0, 6).map(async ({ ref }) => (await secretRow(ref))!.ciphertext))).toEqual(ciphertexts);

    for (const { ref, plaintext } of secrets) await expectOpens(ref, plaintext, only2026);
  });

  it("is idempotent and resumable: batch size 1, interrupted midway, continued, restarted", async () => {
    await rewrapWorkspaceKeys(env, { batchSize: 100 }); // start from a finished rotation
    const { secrets, workspaces } = await liveData(3, before2026);
    const step = (after?: string) => rewrapWorkspaceKeys(env, { batchSize: 1, maxBatches: 1, after });

    const first = await step();
    expect(first).toMatchObject({ rewrapped: 1, remaining: 2 });
    expect(first.next).not.toBeNull();
    // Interrupted mid-rotation: some keys under each master key, every secret opens.
    expect((await masterKeyOf(workspaces)).sort()).toEqual(["k2025", "k2025", "k2026"]);
    for (const { ref, plaintext } of secrets) await expectOpens(ref, plaintext);

    expect(await step(first.next!)).toMatchObject({ rewrapped: 1, remaining: 1 });
    // Lost the cursor: starting over finds only what is left.
    expect(await rewrapWorkspaceKeys(env, { batchSize: 1 })).toMatchObject({ rewrapped: 1, remaining: 0, next: null });
    expect(await rewrapWorkspaceKeys(env, { batchSize: 1 })).toMatchObject({ rewrapped: 0, remaining: 0, next: null });
    expect(await masterKeyOf(workspaces)).toEqual(["k2026", "k2026", "k2026"]);
    for (const { ref, plaintext } of secrets) await expectOpens(ref, plaintext, only2026);
  });

  it("reports a wrapped key that fails authentication, and re-wraps the others", async () => {
    const { workspaces } = await liveData(2, before2026);
    const [broken, fine] = workspaces as [string, string];
    await env.DB.prepare("UPDATE workspace_keys SET wrapped_key = ? WHERE workspace_id = ?")
      .bind(flipBit((await keyRow(broken))!.wrapped_key, 30), broken)
      .run();
    const report = await rewrapWorkspaceKeys(env, { batchSize: 100 });
    expect(report).toMatchObject({ failed: [broken], remaining: 1, next: null });
    expect(await masterKeyOf([broken, fine])).toEqual(["k2025", "k2026"]);
    await destroyWorkspaceKey(env, broken);
  });
});

describe("withdrawal of consent and crypto-shredding", () => {
  it("destroySecret deletes one purpose of a channel, or all of its secrets", async () => {
    const access = secretRef();
    const refresh = { ...access, purpose: "refresh_token" };
    const token = await seal(access);
    await seal(refresh);
    expect(await destroySecret(env, { channelId: access.channelId, purpose: "refresh_token" })).toBe(1);
    expect(await openSecret(env, refresh)).toEqual({ ok: false, error: "not_found" });
    await expectOpens(access, token);
    expect(await destroySecret(env, { channelId: access.channelId })).toBe(1);
    expect(await openSecret(env, access)).toEqual({ ok: false, error: "not_found" });
  });

  it("destroyWorkspaceKey makes the workspace's secrets unreadable, also from a backup once k2025 is retired", async () => {
    const { secrets, workspaces } = await liveData(2, before2026);
    const [shredded, kept] = workspaces as [string, string];
    const ofShredded = secrets.filter((s) => s.ref.workspaceId === shredded);
    const backup = {
      key: (await keyRow(shredded))!,
      secrets: (await env.DB.prepare("SELECT * FROM channel_secrets WHERE workspace_id = ?").bind(shredded).all()).results,
    };
    const expectAll = async (bindings: VaultEnv, shreddedResult: object) => {
      for (const { ref, plaintext } of secrets) {
        if (ref.workspaceId === shredded) expect(await openSecret(bindings, ref)).toEqual(shreddedResult);
        else await expectOpens(ref, plaintext, bindings);
      }
    };

    expect(await destroyWorkspaceKey(env, shredded)).toEqual({ keyDestroyed: true, secretsDeleted: 2 });
    await expectAll(env, { ok: false, error: "not_found" });

    // Ciphertexts restored without their data key: nothing can open them.
    for (const row of backup.secrets) await insertRow("channel_secrets", row);
    await expectAll(env, { ok: false, error: "key_destroyed" });
    // A whole backup holds the wrapped key too, readable while k2025 is configured…
    await insertRow("workspace_keys", backup.key);
    for (const { ref, plaintext } of ofShredded) await expectOpens(ref, plaintext);
    await destroyWorkspaceKey(env, shredded);

    // …so rotate and retire k2025: then the same backup, restored, is unreadable.
    await rewrapWorkspaceKeys(env, { batchSize: 100 });
    expect((await keyRow(kept))!.master_key_id).toBe("k2026");
    await insertRow("workspace_keys", backup.key);
    for (const row of backup.secrets) await insertRow("channel_secrets", row);
    await expectAll(only2026, { ok: false, error: "unavailable" });
    await destroyWorkspaceKey(env, shredded);
  });
});

describe("the plaintext scan", () => {
  const bytesOf = (text: string) => new TextEncoder().encode(text);
  const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const base64url = (text: string) => text.replaceAll("+", "-").replaceAll("/", "_");

  /** The token in base64 at each of the three byte alignments it can have inside a longer value. */
  function base64Forms(token: string): string[] {
    return [0, 1, 2].map((offset) => {
      // Characters whose 6 bits all come from the token: whatever surrounds it cannot change them.
      const encoded = toBase64(new Uint8Array([...new Uint8Array(offset), ...bytesOf(token)]));
      return encoded.slice(Math.ceil((offset * 4) / 3), Math.floor(((offset + token.length) * 4) / 3));
    });
  }

  const forms = (token: string) => [token, hex(bytesOf(token)), ...base64Forms(token), ...base64Forms(token).map(base64url)];
  const found = (haystack: string, token: string) => forms(token).filter((form) => haystack.toLowerCase().includes(form.toLowerCase()));

  async function dumpEveryTable(): Promise<{ tables: string[]; text: string }> {
    // D1's own `_cf_*` tables refuse to be read by the Worker; sqlite_* are SQLite's catalogue.
    const { results } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    ).all<{ name: string }>();
    const tables = results.map((r) => r.name);
    const cells: string[] = [];
    for (const table of tables) {
      const rows = await env.DB.prepare(`SELECT * FROM "${table}"`).all<Record<string, unknown>>();
      for (const row of rows.results) {
        for (const value of Object.values(row)) {
          cells.push(value instanceof ArrayBuffer || Array.isArray(value) ? hex(new Uint8Array(value as ArrayBuffer)) : String(value));
        }
      }
    }
    return { tables, text: cells.join("\n") };
  }

  it("the detector finds a token stored in the clear, as hex, base64 or base64url, at any alignment", () => {
    const token = newToken();
    for (const prefix of ["", "a", "ab", "abc"]) {
      const b64 = toBase64(bytesOf(`${prefix}${token}`));
      for (const haystack of [`x${token}y`, hex(bytesOf(`${prefix}${token}`)).toUpperCase(), b64, base64url(b64)]) {
        expect(found(haystack, token), haystack).not.toEqual([]);
      }
    }
  });

  it("finds no sealed token in any D1 table, in raw, base64, base64url or hex form", async () => {
    const canary = `EAAGcanary${crypto.randomUUID().replaceAll("-", "")}`;
    const workspaceId = newId("ws");
    const ref = secretRef(workspaceId);
    await sealSecret(env, { ...ref, plaintext: canary, expiresAt: Date.now() + 60_000 });
    await sealSecret(env, { ...secretRef(workspaceId, "refresh_token"), plaintext: canary });
    await expectOpens(ref, canary);

    const dump = await dumpEveryTable();
    expect(dump.tables).toEqual(expect.arrayContaining(["channel_secrets", "workspace_keys"]));
    expect(dump.text).toContain((await secretRow(ref))!.ciphertext); // the dump does see the vault's rows
    expect(found(dump.text, canary)).toEqual([]);
  });
});
