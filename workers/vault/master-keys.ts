/**
 * @module
 * Vault master keys (key-encryption keys). They exist only in Worker secrets, never in D1:
 * `VAULT_MASTER_KEYS` (JSON `{ "<id>": "<base64 of 32 bytes>", … }`) and `VAULT_ACTIVE_KEY_ID`. They do
 * one thing: wrap and unwrap the per-workspace data keys. Every configuration problem throws
 * VaultUnavailable, so the vault fails closed: with no usable key nothing is stored at all, never
 * plaintext instead (the fail-open guard Chatwoot shipped is the mistake this avoids).
 *
 * Wrapping is AES-256-GCM rather than AES-KW (RFC 3394) because GCM authenticates additional data: a
 * wrapped key is bound to its workspace and data-key id, so one copied into another workspace's row
 * does not unwrap there, and a workspace cannot be pointed at a neighbour's data key. AES-KW has no
 * AAD. GCM's price is a random 96-bit IV per wrap; wraps per master key (one per workspace plus one
 * per rotation) stay far below NIST SP 800-38D's limit of 2^32 invocations with random IVs.
 */

export class VaultUnavailable extends Error {
  override readonly name = "VaultUnavailable";
}

export type MasterKeyEnv = Pick<Cloudflare.Env, "VAULT_MASTER_KEYS" | "VAULT_ACTIVE_KEY_ID">;

export type MasterKeyring = { activeId: string; keys: ReadonlyMap<string, CryptoKey> };

/** A stored wrapped data key: the row of `workspace_keys` it is bound to, and how it was wrapped. */
export type WrappedDataKey = { workspaceId: string; keyId: string; wrappedKey: string; masterKeyId: string };

export type Unwrapped = { ok: true; key: CryptoKey } | { ok: false; error: "unavailable" | "tampered" };

export const IV_BYTES = 12;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const KEY_ID = /^[a-z0-9-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function toBase64(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Strict (padded, standard alphabet) base64, or null: stored values are never "repaired". */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null; // e.g. "A===": the right shape, but not base64
  }
}

export const randomIv = () => crypto.getRandomValues(new Uint8Array(IV_BYTES));

/** A failed GCM tag check (wrong key, AAD, IV or bytes); anything else is a bug and is rethrown. */
export const isAuthFailure = (e: unknown) => e instanceof DOMException && e.name === "OperationError";

const imported = new Map<string, Promise<CryptoKey>>();

/** Imported once per isolate and key; not extractable, usable only to wrap and unwrap. */
function importMasterKey(material: Uint8Array<ArrayBuffer>, base64: string): Promise<CryptoKey> {
  let key = imported.get(base64);
  if (!key) {
    key = crypto.subtle.importKey("raw", material, { name: "AES-GCM" }, false, ["wrapKey", "unwrapKey"]);
    imported.set(base64, key);
  }
  return key;
}

function parseKeyMap(json: string | undefined): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json ?? "");
  } catch {
    // JSON.parse quotes the input in its message: never let key material reach an error or a log.
    throw new VaultUnavailable("VAULT_MASTER_KEYS is missing or is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new VaultUnavailable("VAULT_MASTER_KEYS must be a JSON object of key id → base64 key");
  }
  return parsed as Record<string, unknown>;
}

/** Parses and validates the configured keys; throws VaultUnavailable naming the problem (never a key). */
export async function loadMasterKeys(env: MasterKeyEnv): Promise<MasterKeyring> {
  const keys = new Map<string, CryptoKey>();
  const seen = new Set<string>();
  for (const [id, value] of Object.entries(parseKeyMap(env.VAULT_MASTER_KEYS))) {
    // Not quoted: a key pasted where its id belongs must not end up in an error message.
    if (!KEY_ID.test(id)) throw new VaultUnavailable("a master key id does not match [a-z0-9-]{1,32}");
    const base64 = typeof value === "string" ? value : "";
    const material = fromBase64(base64);
    if (material?.length !== KEY_BYTES) throw new VaultUnavailable(`master key "${id}" is not base64 of exactly 32 bytes`);
    // The same key under two ids would make a rotation a no-op while it looks done.
    if (seen.has(base64)) throw new VaultUnavailable(`master key "${id}" repeats another configured key`);
    seen.add(base64);
    keys.set(id, await importMasterKey(material, base64));
  }
  const activeId = env.VAULT_ACTIVE_KEY_ID;
  if (!activeId || !keys.has(activeId)) throw new VaultUnavailable("VAULT_ACTIVE_KEY_ID does not name a configured master key");
  return { activeId, keys };
}

/** The wrapped key is bound to the row it belongs to: its workspace and the data key's own id. */
const dataKeyAad = (owner: { workspaceId: string; keyId: string }) =>
  new TextEncoder().encode(`wechatting:v1:workspace-key:${owner.workspaceId}:${owner.keyId}`);

/** Wraps a data key under the active master key: base64(IV ‖ ciphertext ‖ tag). */
export async function wrapDataKey(
  ring: MasterKeyring,
  dataKey: CryptoKey,
  owner: { workspaceId: string; keyId: string },
): Promise<{ wrappedKey: string; masterKeyId: string }> {
  const iv = randomIv();
  const masterKey = ring.keys.get(ring.activeId)!;
  const wrapped = new Uint8Array(
    await crypto.subtle.wrapKey("raw", dataKey, masterKey, { name: "AES-GCM", iv, additionalData: dataKeyAad(owner) }),
  );
  const out = new Uint8Array(IV_BYTES + wrapped.length);
  out.set(iv);
  out.set(wrapped, IV_BYTES);
  return { wrappedKey: toBase64(out), masterKeyId: ring.activeId };
}

/**
 * Unwraps a stored data key with the master key it names. Only a re-wrap needs it `extractable`;
 * everywhere else the key cannot leave WebCrypto.
 */
export async function unwrapDataKey(ring: MasterKeyring, row: WrappedDataKey, extractable = false): Promise<Unwrapped> {
  const masterKey = ring.keys.get(row.masterKeyId);
  if (!masterKey) return { ok: false, error: "unavailable" };
  const bytes = fromBase64(row.wrappedKey);
  if (bytes?.length !== IV_BYTES + KEY_BYTES + TAG_BYTES) return { ok: false, error: "tampered" };
  try {
    const key = await crypto.subtle.unwrapKey(
      "raw",
      bytes.subarray(IV_BYTES),
      masterKey,
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: dataKeyAad(row) },
      { name: "AES-GCM" },
      extractable,
      ["encrypt", "decrypt"],
    );
    return { ok: true, key };
  } catch (e) {
    if (isAuthFailure(e)) return { ok: false, error: "tampered" };
    throw e;
  }
}
