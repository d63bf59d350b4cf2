/**
 * @module
 * The D1 mirror of the conversation Durable Objects.
 *
 * A DO returns the rows its ingest changed (a {@link MirrorBatch}); the Worker hands them to the
 * isolate's {@link MirrorQueue}, which writes everything queued by concurrent requests in one D1
 * batch, so D1 pays one commit for many conversations instead of one per message. Nothing waits
 * for D1: the DO already holds the data, and its alarm re-sends whatever D1 does not confirm
 * (see durable-objects/conversation.ts), so a failed or lost flush only delays the mirror.
 *
 * Every row carries the DO's revision; upserts never let an older revision overwrite a newer one,
 * so flushes may land in any order and any number of times.
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { contacts, conversations, messages } from "./db/schema.ts";
import { announce } from "./live.ts";

export type MirrorMessage = typeof messages.$inferSelect;
export type MirrorContact = typeof contacts.$inferSelect;
/** `fromRev`: the revision D1 must already hold for this batch to make its `rev` contiguous. */
export type MirrorConversation = Omit<typeof conversations.$inferSelect, "contentRev"> & { fromRev: number };

export type MirrorBatch = {
  conversation: MirrorConversation;
  /** Null when the customer's profile did not change in these revisions (D1 already holds it). */
  contact: MirrorContact | null;
  messages: MirrorMessage[];
};

/** D1 binds one JSON parameter per statement; stay well under its 2 MB value limit. */
const MAX_JSON_BYTES = 1_000_000;

type UpsertSpec = { conflict: string[]; set: string; where: string };

/**
 * `INSERT … SELECT … FROM json_each(?)`: one bound parameter carries any number of rows, so
 * D1's limit of 100 bound parameters per statement never splits a flush. Column names come from
 * the drizzle table, JSON keys from its property names.
 */
function jsonUpsert(table: SQLiteTable, spec: UpsertSpec, computed: Record<string, string> = {}): string {
  const columns = Object.entries(getTableColumns(table));
  const names = columns.map(([, column]) => `"${column.name}"`).join(", ");
  const values = columns
    .map(([key, column]) => computed[column.name] ?? `json_extract(value, '$.${key}')`)
    .join(", ");
  return (
    `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${values} FROM json_each(?1) WHERE true ` +
    `ON CONFLICT(${spec.conflict.join(", ")}) DO UPDATE SET ${spec.set} WHERE ${spec.where}`
  );
}

function setAll(table: SQLiteTable, except: string[]): string {
  return Object.values(getTableColumns(table))
    .filter((column) => !except.includes(column.name))
    .map((column) => `"${column.name}" = excluded."${column.name}"`)
    .join(", ");
}

const UPSERT_CONTACTS = jsonUpsert(contacts, {
  conflict: ["id"],
  set: setAll(contacts, ["id"]),
  where: "excluded.rev > contacts.rev",
});

const UPSERT_MESSAGES = jsonUpsert(messages, {
  conflict: ["conversation_id", "seq"],
  set: setAll(messages, ["conversation_id", "seq"]),
  where: "excluded.rev > messages.rev",
});

/**
 * The summary fields follow the newest revision seen (`content_rev`); `rev`, the watermark the DO's
 * alarm trusts, only advances when a batch starts where D1 stands, so a lost batch is never
 * skipped over. The condition reads D1's state before the statement, which is why
 * {@link mergeConversationRows} first joins the contiguous batches of one conversation.
 */
const summaryColumns = [
  "last_message_at",
  "last_message_preview",
  "last_direction",
  "message_count",
  "inbound_count",
  "last_inbound_at",
  "free_entry_until",
  "status",
  "snoozed_until",
  "assignee_id",
  "labels",
  "updated_at",
];
const currentRev = `(SELECT c.rev FROM conversations AS c WHERE c.id = json_extract(value, '$.id'))`;
const UPSERT_CONVERSATIONS = jsonUpsert(
  conversations,
  {
    conflict: ["id"],
    set: [
      ...summaryColumns.map(
        (c) =>
          `"${c}" = CASE WHEN excluded.content_rev > conversations.content_rev THEN excluded."${c}" ELSE conversations."${c}" END`,
      ),
      `"content_rev" = max(conversations.content_rev, excluded.content_rev)`,
      `"rev" = max(conversations.rev, excluded.rev)`,
    ].join(", "),
    where: "excluded.content_rev > conversations.content_rev OR excluded.rev > conversations.rev",
  },
  {
    rev: `CASE WHEN json_extract(value, '$.fromRev') <= coalesce(${currentRev}, 0) THEN json_extract(value, '$.rev') ELSE coalesce(${currentRev}, 0) END`,
    content_rev: `json_extract(value, '$.rev')`,
  },
);

/** Joins batches of one conversation whose revisions follow on from each other. */
function mergeConversationRows(rows: readonly MirrorConversation[]): MirrorConversation[] {
  const sorted = [...rows].sort((a, b) => (a.id === b.id ? a.fromRev - b.fromRev : a.id < b.id ? -1 : 1));
  const merged: MirrorConversation[] = [];
  for (const row of sorted) {
    const last = merged.at(-1);
    if (last && last.id === row.id && row.fromRev <= last.rev) {
      merged[merged.length - 1] = row.rev > last.rev ? { ...row, fromRev: last.fromRev } : last;
    } else {
      merged.push(row);
    }
  }
  return merged;
}

function chunkByBytes<T>(rows: T[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (current.length > 0 && size + json.length + 1 > MAX_JSON_BYTES) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}

/** Writes batches from any number of conversations in one D1 transaction. */
export async function writeMirror(db: D1Database, batches: readonly MirrorBatch[]): Promise<void> {
  if (batches.length === 0) return;
  const contactRows = new Map<string, MirrorContact>();
  for (const { contact } of batches) {
    if (!contact) continue;
    const seen = contactRows.get(contact.id);
    if (!seen || seen.rev < contact.rev) contactRows.set(contact.id, contact);
  }
  const statements = [
    ...chunkByBytes([...contactRows.values()]).map((json) => db.prepare(UPSERT_CONTACTS).bind(json)),
    ...chunkByBytes(batches.flatMap((b) => b.messages)).map((json) => db.prepare(UPSERT_MESSAGES).bind(json)),
    // Conversation rows go last: their watermark must only commit together with the messages.
    ...chunkByBytes(mergeConversationRows(batches.map((b) => b.conversation))).map((json) =>
      db.prepare(UPSERT_CONVERSATIONS).bind(json),
    ),
  ];
  await db.batch(statements);
}

/** The contiguous revision D1 holds for a conversation (0 when it has none). */
export async function mirroredRevision(db: D1Database, conversationId: string): Promise<number> {
  const row = await db.prepare(`SELECT rev FROM conversations WHERE id = ?1`).bind(conversationId).first<{ rev: number }>();
  return row?.rev ?? 0;
}

/**
 * Collects the batches of concurrent requests in this isolate and writes them together.
 * Only the request that starts a drain keeps it alive (`waitUntil`); batches queued meanwhile are
 * picked up by the running drain, so no promise crosses request contexts. A drain stops after a
 * bounded time — the runtime cancels `waitUntil` work some seconds after the response, and a
 * cancelled drain must never leave the queue stuck — handing over to the next request first.
 */
export class MirrorQueue {
  #pending: MirrorBatch[] = [];
  #drainStartedAt: number | null = null;
  #lastFlushAt = 0;

  constructor(
    private readonly maxBatches = 400,
    /**
     * How long one request's `waitUntil` keeps draining: long enough to catch D1 up after a burst
     * ends (no later request comes to take over), short of the ~30 s after which the runtime
     * cancels `waitUntil` work.
     */
    private readonly drainBudgetMs = 15_000,
    /** Memory bound: beyond it the oldest batches are left to the DOs' alarms. */
    private readonly maxPending = 20_000,
    /**
     * A drain writes at most once per interval; what is queued meanwhile goes in the next write.
     * A D1 transaction and its live announcement (an Inbox object commit) cost far more than the
     * rows in them, so when requests came one after another (one sender, a hot conversation) and
     * each had its own write, those writes cost more than the requests (BENCHMARKS.md, "D1 mirror:
     * one write per interval"). A lone request after a quiet interval is still written at once,
     * and only the inbox list waits: an open conversation's socket hears from its object directly.
     * Longer intervals saved no more CPU there, and added more to the list's live updates.
     */
    private readonly flushIntervalMs = 50,
  ) {}

  /** Queues a batch; returns the drain promise if this call started one, for `waitUntil`. */
  enqueue(env: Cloudflare.Env, batch: MirrorBatch, now = Date.now()): Promise<void> | undefined {
    this.#pending.push(batch);
    if (this.#pending.length > this.maxPending) this.#pending.splice(0, this.#pending.length - this.maxPending);
    // A drain older than twice its budget was cancelled with its request: take over.
    if (this.#drainStartedAt !== null && now - this.#drainStartedAt < 2 * this.drainBudgetMs) return undefined;
    this.#drainStartedAt = now;
    return this.#drain(env, now);
  }

  async #drain(env: Cloudflare.Env, startedAt: number): Promise<void> {
    const announcements: Promise<void>[] = [];
    const pastBudget = () => Date.now() - startedAt >= this.drainBudgetMs;
    try {
      for (;;) {
        const spent = pastBudget();
        const wait = this.#lastFlushAt + this.flushIntervalMs - Date.now();
        if (this.#pending.length === 0) {
          if (wait <= 0 || spent) break;
          await scheduler.wait(wait);
          continue;
        }
        if (wait > 0 && !spent && this.#pending.length < this.maxBatches) await scheduler.wait(wait);
        // Past its budget a drain hands over before its last write: what is queued meanwhile starts
        // a fresh drain in its own request instead of waiting here for a write that will not come.
        const last = pastBudget();
        if (last && this.#drainStartedAt === startedAt) this.#drainStartedAt = null;
        this.#lastFlushAt = Date.now();
        const take = this.#pending.splice(0, this.maxBatches);
        try {
          await writeMirror(env.DB, take);
          // Browsers hear of a change once D1 holds it, so what they refetch is what was announced.
          // Not awaited here: the next D1 write must not wait for the live inbox.
          announcements.push(announce(env, take));
        } catch (error) {
          // The DOs' alarms re-send what did not land; losing a flush costs only latency.
          console.warn(`D1 mirror flush of ${take.length} batches failed; DO alarms will retry`, error);
        }
        if (last) break;
      }
    } finally {
      if (this.#drainStartedAt === startedAt) this.#drainStartedAt = null;
      await Promise.all(announcements);
    }
  }
}
