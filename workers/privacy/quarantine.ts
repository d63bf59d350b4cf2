/**
 * @module
 * Erasing a person must reach the webhook quarantine too: items we could not route (for example
 * after their channel was disconnected) keep Meta's payload for 30 days, and it may name them.
 */

/** Deletes quarantined payloads that carry any of these ids as a JSON string value. */
export async function purgeQuarantineMentioning(db: D1Database, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  for (const id of new Set(ids)) {
    const result = await db.prepare(`DELETE FROM quarantine WHERE instr(payload, ?1) > 0`).bind(JSON.stringify(id)).run();
    deleted += result.meta.changes;
  }
  return deleted;
}
