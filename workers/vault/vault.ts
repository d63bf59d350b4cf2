/**
 * @module
 * The token vault: channel secrets (Meta access and refresh tokens) under envelope encryption, with
 * WebCrypto only. Each workspace has its own random AES-256-GCM data key, stored only wrapped by a
 * master key (master-keys.ts); each secret is sealed by that data key with a fresh random 96-bit IV
 * and additional authenticated data naming its workspace, channel and purpose, so a ciphertext copied
 * to any other row fails its tag check instead of decrypting.
 *
 * Per-workspace data keys make erasure cryptographic: destroyWorkspaceKey leaves nothing that can
 * decrypt the workspace's secrets once the master key that wrapped any backed-up copy is retired.
 * Plaintext leaves this module only as openSecret's success value: errors name ids and reasons, never
 * secrets, and nothing here logs.
 */
import { and, eq, sql } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { channelSecrets, workspaceKeys } from "../db/schema.ts";
import {
  IV_BYTES,
  VaultUnavailable,
  fromBase64,
  isAuthFailure,
  loadMasterKeys,
  randomIv,
  toBase64,
  unwrapDataKey,
  wrapDataKey,
  type MasterKeyEnv,
  type MasterKeyring,
} from "./master-keys.ts";

export { VaultUnavailable } from "./master-keys.ts";

export type VaultEnv = MasterKeyEnv & Pick<Cloudflare.Env, "DB">;

export type SecretRef = { workspaceId: string; channelId: string; purpose: string };

/**
 * `key_destroyed`: the ciphertext exists but the data key that sealed it does not (crypto-shredded,
 * or a restored row from before the workspace's key was re-created).
 */
export type OpenError = "not_found" | "unavailable" | "tampered" | "key_destroyed";

export type OpenResult =
  | { ok: true; plaintext: string; version: number; expiresAt: number | null }
  | { ok: false; error: OpenError };

/**
 * Encryptions allowed per data key: a quarter of NIST SP 800-38D's 2^32 limit for random IVs. Token
 * refreshes come nowhere near it; reaching it means a bug is looping, and sealing then fails closed.
 */
export const ENCRYPTIONS_PER_DATA_KEY = 2 ** 30;

/** Ids never contain ":", so the colon-joined AAD below has exactly one reading. */
const ID = /^[\w.-]{1,128}$/;
const PURPOSE = /^[a-z][a-z0-9_]{0,31}$/;

function checkRef(ref: Partial<SecretRef>, fields: readonly (keyof SecretRef)[]): void {
  for (const field of fields) {
    if (!(field === "purpose" ? PURPOSE : ID).test(ref[field] ?? "")) throw new TypeError(`vault: invalid ${field}`);
  }
}

const ALL_FIELDS = ["workspaceId", "channelId", "purpose"] as const;

const secretAad = (ref: SecretRef) =>
  new TextEncoder().encode(`wechatting:v1:${ref.workspaceId}:${ref.channelId}:${ref.purpose}`);

type Db = DrizzleD1Database;

const readWorkspaceKey = async (db: Db, workspaceId: string) =>
  (await db.select().from(workspaceKeys).where(eq(workspaceKeys.workspaceId, workspaceId)))[0];

async function newWorkspaceKey(ring: MasterKeyring, workspaceId: string) {
  const keyId = crypto.randomUUID();
  // Extractable only so it can be wrapped; what is used afterwards is always the unwrapped copy.
  const dataKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"])) as CryptoKey;
  return { workspaceId, keyId, ...(await wrapDataKey(ring, dataKey, { workspaceId, keyId })) };
}

/** The workspace's data key, created on first use. */
async function workspaceDataKey(db: Db, ring: MasterKeyring, workspaceId: string) {
  let row = await readWorkspaceKey(db, workspaceId);
  if (!row) {
    await db.insert(workspaceKeys).values(await newWorkspaceKey(ring, workspaceId)).onConflictDoNothing();
    // A concurrent first use may have won the insert: the stored key is the workspace's key.
    row = await readWorkspaceKey(db, workspaceId);
  }
  if (!row) throw new VaultUnavailable(`workspace ${workspaceId}: its key was destroyed while being created`);
  if (row.encryptions >= ENCRYPTIONS_PER_DATA_KEY) {
    throw new VaultUnavailable(`workspace ${workspaceId}: data key reached its encryption budget`);
  }
  const unwrapped = await unwrapDataKey(ring, row);
  if (!unwrapped.ok) {
    throw new VaultUnavailable(
      unwrapped.error === "unavailable"
        ? `workspace ${workspaceId}: its key is wrapped by master key "${row.masterKeyId}", which is not configured`
        : `workspace ${workspaceId}: its wrapped key failed authentication`,
    );
  }
  return { keyId: row.keyId, key: unwrapped.key };
}

/**
 * Encrypts and stores a channel secret, replacing (version + 1) any earlier one for the same
 * channel and purpose. Throws VaultUnavailable, before anything is written, when no master key is
 * usable. A channel's secrets stay in the workspace that first sealed them: another workspace's seal
 * is refused rather than overwriting them.
 */
export async function sealSecret(
  env: VaultEnv,
  input: SecretRef & { plaintext: string; expiresAt?: number | null },
): Promise<{ version: number; keyId: string }> {
  checkRef(input, ALL_FIELDS);
  if (typeof input.plaintext !== "string" || input.plaintext === "") throw new TypeError("vault: nothing to seal");
  const ring = await loadMasterKeys(env);
  const db = drizzle(env.DB);
  const { workspaceId, channelId, purpose } = input;
  const dataKey = await workspaceDataKey(db, ring, workspaceId);
  const iv = randomIv();
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: secretAad(input) },
    dataKey.key,
    new TextEncoder().encode(input.plaintext),
  );
  const sealed = {
    workspaceId,
    keyId: dataKey.keyId,
    ciphertext: toBase64(ciphertext),
    iv: toBase64(iv),
    expiresAt: input.expiresAt ?? null,
    updatedAt: Date.now(),
  };
  const [saved] = await db.batch([
    db
      .insert(channelSecrets)
      .values({ channelId, purpose, version: 1, ...sealed })
      .onConflictDoUpdate({
        target: [channelSecrets.channelId, channelSecrets.purpose],
        set: { ...sealed, version: sql`${channelSecrets.version} + 1` },
        setWhere: eq(channelSecrets.workspaceId, workspaceId),
      })
      .returning({ version: channelSecrets.version }),
    // Counted whether or not the row was accepted: the encryption happened either way.
    db
      .update(workspaceKeys)
      .set({ encryptions: sql`${workspaceKeys.encryptions} + 1` })
      .where(eq(workspaceKeys.workspaceId, workspaceId)),
  ]);
  if (!saved[0]) throw new Error(`vault: channel ${channelId} has secrets in another workspace`);
  return { version: saved[0].version, keyId: dataKey.keyId };
}

/** The plaintext of a channel secret, or why it cannot be had. Never throws for a stored-data problem. */
export async function openSecret(env: VaultEnv, ref: SecretRef): Promise<OpenResult> {
  checkRef(ref, ALL_FIELDS);
  const [row] = await drizzle(env.DB)
    .select({ secret: channelSecrets, key: workspaceKeys })
    .from(channelSecrets)
    .leftJoin(workspaceKeys, eq(workspaceKeys.workspaceId, channelSecrets.workspaceId))
    .where(
      and(
        eq(channelSecrets.channelId, ref.channelId),
        eq(channelSecrets.purpose, ref.purpose),
        eq(channelSecrets.workspaceId, ref.workspaceId),
      ),
    );
  if (!row) return { ok: false, error: "not_found" };
  if (!row.key || row.key.keyId !== row.secret.keyId) return { ok: false, error: "key_destroyed" };
  let ring: MasterKeyring;
  try {
    ring = await loadMasterKeys(env);
  } catch (e) {
    if (e instanceof VaultUnavailable) return { ok: false, error: "unavailable" };
    throw e;
  }
  const dataKey = await unwrapDataKey(ring, row.key);
  if (!dataKey.ok) return { ok: false, error: dataKey.error };
  const iv = fromBase64(row.secret.iv);
  const ciphertext = fromBase64(row.secret.ciphertext);
  if (iv?.length !== IV_BYTES || !ciphertext) return { ok: false, error: "tampered" };
  try {
    const plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: secretAad(ref) }, dataKey.key, ciphertext);
    return { ok: true, plaintext: new TextDecoder().decode(plaintext), version: row.secret.version, expiresAt: row.secret.expiresAt };
  } catch (e) {
    if (isAuthFailure(e)) return { ok: false, error: "tampered" };
    throw e;
  }
}

/** Withdrawal of consent: deletes a channel's secret for one purpose, or all of them. Returns how many. */
export async function destroySecret(env: VaultEnv, ref: { channelId: string; purpose?: string }): Promise<number> {
  checkRef(ref, ref.purpose === undefined ? ["channelId"] : ["channelId", "purpose"]);
  const deleted = await drizzle(env.DB)
    .delete(channelSecrets)
    .where(
      and(
        eq(channelSecrets.channelId, ref.channelId),
        ref.purpose === undefined ? undefined : eq(channelSecrets.purpose, ref.purpose),
      ),
    )
    .returning({ purpose: channelSecrets.purpose });
  return deleted.length;
}

/**
 * Crypto-shredding: deletes the workspace's wrapped data key, and its ciphertexts with it (they could
 * never be opened again). Copies in D1 Time Travel backups hold the wrapped key too, so they become
 * undecryptable once the master key that wrapped them is rotated out and removed (rotate.ts).
 * A later seal for the workspace starts a new data key under a new key id.
 */
export async function destroyWorkspaceKey(
  env: VaultEnv,
  workspaceId: string,
): Promise<{ keyDestroyed: boolean; secretsDeleted: number }> {
  checkRef({ workspaceId }, ["workspaceId"]);
  const db = drizzle(env.DB);
  const [secrets, keys] = await db.batch([
    db.delete(channelSecrets).where(eq(channelSecrets.workspaceId, workspaceId)).returning({ id: channelSecrets.channelId }),
    db.delete(workspaceKeys).where(eq(workspaceKeys.workspaceId, workspaceId)).returning({ id: workspaceKeys.workspaceId }),
  ]);
  return { keyDestroyed: keys.length > 0, secretsDeleted: secrets.length };
}
