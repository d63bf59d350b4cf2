/**
 * @module
 * Master-key rotation: re-wraps every workspace data key that is not yet under the active master key.
 * The data keys themselves do not change, so no secret is re-encrypted and nothing stops working:
 * during a rotation both master keys are configured and each wrapped key names the one that wrapped
 * it. Progress lives in the rows (`master_key_id`), so a run can stop anywhere and simply be run
 * again; a keyset cursor (`after`/`next`) lets one run span several requests, within a Worker's
 * per-invocation query limit. The old master key may be removed once `remaining` is 0 — and removing
 * it is what makes older D1 backups, and workspaces shredded since, undecryptable.
 *
 * Meant to be mounted as the operator route `POST /api/operator/vault/rotate` (RewrapRequest →
 * RewrapReport); scripts/rotate-master-key.ts drives it.
 */
import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray, ne, notInArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { workspaceKeys } from "../db/schema.ts";
import { loadMasterKeys, unwrapDataKey, wrapDataKey } from "./master-keys.ts";
import type { VaultEnv } from "./vault.ts";

const MAX_BATCH = 100;

export const RewrapRequest = z
  .object({
    batchSize: z.number().int().min(1).max(MAX_BATCH).default(MAX_BATCH),
    after: z.string().max(200).optional().openapi({ description: "`next` of the previous call, to continue a run" }),
  })
  .openapi("VaultRewrapRequest");

export const RewrapReport = z
  .object({
    rewrapped: z.number().int().openapi({ description: "Workspace keys re-wrapped by this call" }),
    failed: z.array(z.string()).openapi({ description: "Workspaces whose wrapped key failed authentication (left as is)" }),
    orphaned: z.number().int().openapi({ description: "Keys wrapped by a master key that is not configured: unreadable" }),
    remaining: z.number().int().openapi({ description: "Keys not yet under the active master key" }),
    next: z.string().nullable().openapi({ description: "Pass as `after` to continue; null when the scan is complete" }),
  })
  .openapi("VaultRewrapReport");
export type RewrapReport = z.infer<typeof RewrapReport>;

/**
 * Re-wraps, in batches of `batchSize` ordered by workspace id, the keys wrapped by a configured
 * non-active master key, starting after `after`, for at most `maxBatches` batches. Throws
 * VaultUnavailable when the master keys are misconfigured.
 */
export async function rewrapWorkspaceKeys(
  env: VaultEnv,
  options: { batchSize: number; after?: string; maxBatches?: number },
): Promise<RewrapReport> {
  const { batchSize, maxBatches = 50 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw new RangeError(`batchSize must be 1–${MAX_BATCH}`);
  if (!Number.isInteger(maxBatches) || maxBatches < 1) throw new RangeError("maxBatches must be a positive integer");
  const ring = await loadMasterKeys(env);
  const db = drizzle(env.DB);
  // Keys under a master key that is not configured cannot be unwrapped: counted as orphaned, not fetched.
  const previous = [...ring.keys.keys()].filter((id) => id !== ring.activeId);
  const report: RewrapReport = { rewrapped: 0, failed: [], orphaned: 0, remaining: 0, next: null };
  let cursor = options.after ?? "";
  for (let batch = 0; previous.length > 0; batch++) {
    if (batch === maxBatches) {
      report.next = cursor;
      break;
    }
    const rows = await db
      .select()
      .from(workspaceKeys)
      .where(and(inArray(workspaceKeys.masterKeyId, previous), gt(workspaceKeys.workspaceId, cursor)))
      .orderBy(asc(workspaceKeys.workspaceId))
      .limit(batchSize);
    const updates = [];
    for (const row of rows) {
      const unwrapped = await unwrapDataKey(ring, row, true);
      if (!unwrapped.ok) {
        report.failed.push(row.workspaceId);
        continue;
      }
      const rewrapped = await wrapDataKey(ring, unwrapped.key, row);
      updates.push(
        db
          .update(workspaceKeys)
          .set({ ...rewrapped, rotatedAt: Date.now() })
          // Only the version read above: a key destroyed or re-wrapped meanwhile is left alone.
          .where(and(eq(workspaceKeys.workspaceId, row.workspaceId), eq(workspaceKeys.wrappedKey, row.wrappedKey)))
          .returning({ id: workspaceKeys.workspaceId }),
      );
    }
    const [first, ...rest] = updates;
    if (first) report.rewrapped += (await db.batch([first, ...rest])).filter((changed) => changed.length > 0).length;
    cursor = rows.at(-1)?.workspaceId ?? cursor;
    if (rows.length < batchSize) break;
  }
  const [counts] = await db
    .select({
      // SQLite comparisons are 0 or 1, so total() counts the rows where they hold.
      remaining: sql<number>`total(${ne(workspaceKeys.masterKeyId, ring.activeId)})`,
      orphaned: sql<number>`total(${notInArray(workspaceKeys.masterKeyId, [...ring.keys.keys()])})`,
    })
    .from(workspaceKeys);
  report.remaining = Number(counts?.remaining ?? 0);
  report.orphaned = Number(counts?.orphaned ?? 0);
  return report;
}
