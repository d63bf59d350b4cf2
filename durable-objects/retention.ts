/**
 * @module
 * Message retention inside a conversation Durable Object: the storage side of a workspace's
 * "keep N days" policy (workers/privacy/retention.ts prunes the D1 mirror the same way). Plain
 * functions over the object's SQLite, so the Conversation class only needs a one-line RPC.
 */

export type PruneResult = { messages: number; receipts: number };

/**
 * Deletes the messages whose Meta timestamp is before `before` (epoch ms) and the receipts
 * (statuses, reactions, deletions) that target them. Receipts parked for messages that never
 * arrived are kept: they still belong to a message that may come.
 */
export function pruneBefore(sql: SqlStorage, before: number): PruneResult {
  const receipts = sql.exec(
    `DELETE FROM receipts WHERE target IN (SELECT external_id FROM messages WHERE timestamp < ?)`,
    before,
  ).rowsWritten;
  const messages = sql.exec(`DELETE FROM messages WHERE timestamp < ?`, before).rowsWritten;
  return { messages, receipts };
}
