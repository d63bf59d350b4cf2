/**
 * @module
 * One Durable Object per conversation (connected channel account × customer identity) orders its
 * messages. Everything happens in synchronous SQLite calls inside one RPC, so the DO's single
 * thread and its input/output gates make each ingest atomic and durable before the Worker acks
 * Meta — no locks. The D1 mirror is fed from here (see workers/mirror.ts); the alarm is the
 * backstop that re-sends whatever D1 has not confirmed.
 */
import { DurableObject } from "cloudflare:workers";
import type { ConversationChange, Customer, DeliveryStatus, Direction, MessageContent, MetaError } from "../workers/events.ts";
import { mirroredRevision, writeMirror, type MirrorBatch, type MirrorMessage } from "../workers/mirror.ts";
import {
  STATUS_RANK,
  deriveReactions,
  deriveStatus,
  preview,
  tombstone,
  type Reaction,
  type ReactionReceipt,
  type StatusReceipt,
} from "./message-state.ts";
import { pruneBefore, type PruneResult } from "./retention.ts";

export type ConversationHeader = {
  conversationId: string;
  workspaceId: string;
  channelId: string;
  customer: Customer;
};

export type StoredMessage = {
  seq: number;
  content: MessageContent;
  arrivedAt: number;
  status: DeliveryStatus | null;
  error: MetaError | null;
  reactions: Reaction[];
  deletedAt: number | null;
};

export type HistoryCursor = { timestamp: number; seq: number };

export type IngestResult = { stored: number; duplicates: number; mirror: MirrorBatch | null };

/**
 * How long the DO waits for the Worker's batched D1 write before checking (one D1 read) and
 * re-sending itself. Only a backstop: under load every conversation pays one check per period.
 */
export const MIRROR_CHECK_MS = 30_000;
const MIRROR_RETRY_MAX_MS = 5 * 60_000;
/** Rows per alarm re-send, so a long D1 outage catches up in bounded steps. */
const MIRROR_RESEND_ROWS = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  conversation_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  customer TEXT NOT NULL,
  customer_at INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0,
  rev INTEGER NOT NULL DEFAULT 0,
  mirrored_rev INTEGER NOT NULL DEFAULT 0,
  mirror_failures INTEGER NOT NULL DEFAULT 0,
  delivered_watermark INTEGER NOT NULL DEFAULT 0,
  read_watermark INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  arrived_at INTEGER NOT NULL,
  content TEXT NOT NULL,
  status TEXT,
  status_rank INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  reactions TEXT NOT NULL DEFAULT '[]',
  deleted_at INTEGER,
  rev INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_display ON messages (timestamp, seq);
CREATE INDEX IF NOT EXISTS messages_rev ON messages (rev);
CREATE TABLE IF NOT EXISTS receipts (
  key TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_target ON receipts (target);
`;

type ConversationRow = {
  conversation_id: string;
  workspace_id: string;
  channel_id: string;
  customer: string;
  customer_at: number;
  seq: number;
  rev: number;
  mirrored_rev: number;
  mirror_failures: number;
  delivered_watermark: number;
  read_watermark: number;
};

type MessageRow = {
  seq: number;
  external_id: string;
  direction: Direction;
  timestamp: number;
  arrived_at: number;
  content: string;
  status: DeliveryStatus | null;
  status_rank: number;
  error: string | null;
  reactions: string;
  deleted_at: number | null;
  rev: number;
};

type Receipt = { kind: "status"; data: StatusReceipt & { cascade: boolean } } | { kind: "reaction"; data: ReactionReceipt } | { kind: "deletion"; data: { timestamp: number } };

export class Conversation extends DurableObject<Cloudflare.Env> {
  private readonly sql: SqlStorage;
  /** Cached copy of the single `conversation` row; SQLite stays the source of truth. */
  private state: ConversationRow | null;
  private alarmPending = false;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    this.state = this.sql.exec<ConversationRow>(`SELECT * FROM conversation WHERE id = 1`).toArray()[0] ?? null;
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmPending = (await ctx.storage.getAlarm()) !== null;
    });
  }

  /**
   * Applies a conversation's share of one webhook POST. Returns once it is durable (the output
   * gate holds the reply until SQLite has committed), with the rows the D1 mirror must receive.
   */
  async ingest(header: ConversationHeader, changes: ConversationChange[], arrivedAt: number): Promise<IngestResult> {
    const before = JSON.stringify(this.state);
    const state = this.ensureState(header, changes);
    const fromRev = state.rev;
    let stored = 0;
    let duplicates = 0;
    this.ctx.storage.transactionSync(() => {
      for (const change of changes) {
        if (this.apply(change, arrivedAt)) stored++;
        else duplicates++;
      }
      // A POST Meta retried changes nothing: no write, no commit to wait for.
      if (JSON.stringify(state) !== before) this.saveState();
    });
    if (state.rev === fromRev) return { stored, duplicates, mirror: null };
    await this.armMirrorCheck(MIRROR_CHECK_MS);
    return { stored, duplicates, mirror: this.collectMirror(fromRev) };
  }

  /** Messages in display order (Meta time, then arrival), newest page first when paging backwards. */
  async history(options: { before?: HistoryCursor; limit: number }): Promise<{ messages: StoredMessage[]; next: HistoryCursor | null }> {
    const { before, limit } = options;
    const rows = before
      ? this.sql
          .exec<MessageRow>(
            `SELECT * FROM messages WHERE (timestamp, seq) < (?, ?) ORDER BY timestamp DESC, seq DESC LIMIT ?`,
            before.timestamp,
            before.seq,
            limit + 1,
          )
          .toArray()
      : this.sql.exec<MessageRow>(`SELECT * FROM messages ORDER BY timestamp DESC, seq DESC LIMIT ?`, limit + 1).toArray();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      messages: page.reverse().map(toStoredMessage),
      next: rows.length > limit && last ? { timestamp: last.timestamp, seq: last.seq } : null,
    };
  }

  /**
   * Erases everything this conversation holds (its channel's history was deleted, or its customer
   * erased): messages, receipts, the pending mirror and the alarm. The object starts empty again.
   */
  async erase(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.alarmPending = false;
    this.state = null;
    this.sql.exec(SCHEMA);
  }

  /** The D1 backstop: confirm the Worker's flush landed, otherwise send the missing rows ourselves. */
  override async alarm(): Promise<void> {
    this.alarmPending = false;
    const state = this.state;
    if (!state || state.mirrored_rev >= state.rev) return;
    try {
      const inD1 = await mirroredRevision(this.env.DB, state.conversation_id);
      if (inD1 < state.rev) {
        const batch = this.collectMirror(inD1, MIRROR_RESEND_ROWS);
        await writeMirror(this.env.DB, [batch]);
        state.mirrored_rev = batch.conversation.rev;
      } else {
        state.mirrored_rev = inD1;
      }
      state.mirror_failures = 0;
    } catch (error) {
      state.mirror_failures++;
      console.warn(`conversation ${state.conversation_id}: D1 mirror attempt ${state.mirror_failures} failed`, error);
    }
    this.saveState();
    if (state.mirrored_rev < state.rev) {
      const backoff = Math.min(MIRROR_RETRY_MAX_MS, 1_000 * 2 ** state.mirror_failures);
      await this.armMirrorCheck(state.mirror_failures > 0 ? backoff : 0);
    }
  }

  private async armMirrorCheck(delayMs: number): Promise<void> {
    if (this.alarmPending) return;
    this.alarmPending = true;
    await this.ctx.storage.setAlarm(Date.now() + delayMs);
  }

  private ensureState(header: ConversationHeader, changes: ConversationChange[]): ConversationRow {
    // The customer's profile (name, username, BSUID) follows the newest message that carried it.
    const newest = Math.max(0, ...changes.map((c) => (c.kind === "message" ? c.message.timestamp : 0)));
    if (!this.state) {
      this.state = {
        conversation_id: header.conversationId,
        workspace_id: header.workspaceId,
        channel_id: header.channelId,
        customer: JSON.stringify(header.customer),
        customer_at: newest,
        seq: 0,
        rev: 0,
        mirrored_rev: 0,
        mirror_failures: 0,
        delivered_watermark: 0,
        read_watermark: 0,
      };
      this.sql.exec(
        `INSERT INTO conversation (id, conversation_id, workspace_id, channel_id, customer, customer_at) VALUES (1, ?, ?, ?, ?, ?)`,
        header.conversationId,
        header.workspaceId,
        header.channelId,
        this.state.customer,
        newest,
      );
      return this.state;
    }
    if (newest > 0 && newest >= this.state.customer_at) {
      const current = JSON.parse(this.state.customer) as Customer;
      const merged: Customer = {
        id: current.id,
        waId: header.customer.waId ?? current.waId,
        bsuid: header.customer.bsuid ?? current.bsuid,
        name: header.customer.name ?? current.name,
        username: header.customer.username ?? current.username,
      };
      const next = JSON.stringify(merged);
      if (next !== this.state.customer) {
        this.state.customer = next;
        this.state.customer_at = newest;
        this.state.rev++;
      }
    }
    return this.state;
  }

  private saveState(): void {
    const s = this.state!;
    this.sql.exec(
      `UPDATE conversation SET customer = ?, customer_at = ?, seq = ?, rev = ?, mirrored_rev = ?, mirror_failures = ?,
         delivered_watermark = ?, read_watermark = ? WHERE id = 1`,
      s.customer,
      s.customer_at,
      s.seq,
      s.rev,
      s.mirrored_rev,
      s.mirror_failures,
      s.delivered_watermark,
      s.read_watermark,
    );
  }

  /** Applies one change; false when it was already applied (a retry or duplicate from Meta). */
  private apply(change: ConversationChange, arrivedAt: number): boolean {
    switch (change.kind) {
      case "message":
        return this.insertMessage(change.message, arrivedAt);
      case "status":
        return this.addReceipt(change.key, change.target, {
          kind: "status",
          data: { status: change.status, error: change.error, cascade: change.cascade },
        });
      case "reaction":
        return this.addReceipt(change.key, change.target, {
          kind: "reaction",
          data: { key: change.key, actor: change.actor, emoji: change.emoji, timestamp: change.timestamp },
        });
      case "deletion":
        return this.addReceipt(change.key, change.target, { kind: "deletion", data: { timestamp: change.timestamp } });
      case "watermark":
        return this.raiseWatermark(change.status, change.watermark);
    }
  }

  private insertMessage(message: MessageContent, arrivedAt: number): boolean {
    const state = this.state!;
    const seq = state.seq + 1;
    const inserted = this.sql.exec(
      `INSERT INTO messages (seq, external_id, direction, timestamp, arrived_at, content, rev)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (external_id) DO NOTHING`,
      seq,
      message.externalId,
      message.direction,
      message.timestamp,
      arrivedAt,
      JSON.stringify(message),
      state.rev + 1,
    ).rowsWritten;
    if (inserted === 0) return false;
    state.seq = seq;
    state.rev++;
    // Receipts that arrived before their message (statuses, reactions, deletions) apply now; most
    // messages have none, and the row just written needs no second look.
    const parked = this.sql.exec(`SELECT 1 FROM receipts WHERE target = ? LIMIT 1`, message.externalId).toArray().length > 0;
    const covered = message.direction === "out" && message.timestamp <= Math.max(state.read_watermark, state.delivered_watermark);
    if (parked || covered) this.refresh(message.externalId);
    return true;
  }

  private addReceipt(key: string, target: string, receipt: Receipt): boolean {
    const inserted = this.sql.exec(
      `INSERT INTO receipts (key, target, kind, data) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
      key,
      target,
      receipt.kind,
      JSON.stringify(receipt.data),
    ).rowsWritten;
    if (inserted === 0) return false;
    // A receipt for a message not stored yet stays parked in `receipts` until the message arrives.
    this.refresh(target);
    return true;
  }

  private raiseWatermark(status: "delivered" | "read", watermark: number): boolean {
    const state = this.state!;
    const column = status === "read" ? "read_watermark" : "delivered_watermark";
    if (watermark <= state[column]) return false;
    state[column] = watermark;
    const rank = STATUS_RANK[status];
    const affected = this.sql
      .exec<{ external_id: string }>(
        `SELECT external_id FROM messages WHERE direction = 'out' AND timestamp <= ? AND status_rank < ?`,
        watermark,
        rank,
      )
      .toArray();
    for (const { external_id } of affected) this.refresh(external_id);
    return true;
  }

  /** Recomputes a message's status, reactions and deletion from all receipts that target it. */
  private refresh(externalId: string): void {
    const state = this.state!;
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE external_id = ?`, externalId).toArray()[0];
    if (!row) return;
    const receipts = this.sql
      .exec<{ kind: Receipt["kind"]; data: string }>(`SELECT kind, data FROM receipts WHERE target = ?`, externalId)
      .toArray()
      .map((r) => ({ kind: r.kind, data: JSON.parse(r.data) }) as Receipt);

    const statuses = receipts.flatMap((r) => (r.kind === "status" ? [r.data] : []));
    if (statuses.some((s) => s.cascade && s.status === "read") && row.timestamp > state.read_watermark) {
      // Instagram "seen" names one message but means everything the business sent up to it; the
      // watermark refreshes this message too, and the second pass finds it up to date.
      this.raiseWatermark("read", row.timestamp);
      return this.refresh(externalId);
    }
    const floor =
      row.direction === "out"
        ? Math.max(
            row.timestamp <= state.read_watermark ? STATUS_RANK.read : 0,
            row.timestamp <= state.delivered_watermark ? STATUS_RANK.delivered : 0,
          )
        : 0;
    const status = deriveStatus(statuses, floor);
    const reactions = JSON.stringify(deriveReactions(receipts.flatMap((r) => (r.kind === "reaction" ? [r.data] : []))));
    const deletions = receipts.flatMap((r) => (r.kind === "deletion" ? [r.data.timestamp] : []));
    const deletedAt = deletions.length > 0 ? Math.min(...deletions) : null;
    const error = status.error ? JSON.stringify(status.error) : null;
    const content = deletedAt !== null && row.deleted_at === null ? JSON.stringify(tombstone(JSON.parse(row.content))) : row.content;

    if (
      status.status === row.status &&
      status.rank === row.status_rank &&
      error === row.error &&
      reactions === row.reactions &&
      deletedAt === row.deleted_at &&
      content === row.content
    ) {
      return;
    }
    state.rev++;
    this.sql.exec(
      `UPDATE messages SET status = ?, status_rank = ?, error = ?, reactions = ?, deleted_at = ?, content = ?, rev = ? WHERE seq = ?`,
      status.status,
      status.rank,
      error,
      reactions,
      deletedAt,
      content,
      state.rev,
      row.seq,
    );
  }

  private collectMirror(sinceRev: number, limit = Number.MAX_SAFE_INTEGER): MirrorBatch {
    const state = this.state!;
    const rows = this.sql
      .exec<MessageRow>(`SELECT * FROM messages WHERE rev > ? ORDER BY rev LIMIT ?`, sinceRev, limit)
      .toArray();
    // A partial re-send may only claim the revisions it actually carries.
    const rev = rows.length === limit ? rows.at(-1)!.rev : state.rev;
    const latest = this.sql
      .exec<MessageRow>(`SELECT * FROM messages ORDER BY timestamp DESC, seq DESC LIMIT 1`)
      .toArray()[0];
    const customer = JSON.parse(state.customer) as Customer;
    const contactId = `ct_${state.conversation_id}`;
    const now = Date.now();
    const messages: MirrorMessage[] = rows.map((row) => {
      const content = JSON.parse(row.content) as MessageContent;
      return {
        conversationId: state.conversation_id,
        seq: row.seq,
        workspaceId: state.workspace_id,
        externalId: row.external_id,
        direction: row.direction,
        type: content.type,
        text: content.text,
        body: content,
        timestamp: row.timestamp,
        arrivedAt: row.arrived_at,
        status: row.status,
        error: row.error ? JSON.parse(row.error) : null,
        reactions: JSON.parse(row.reactions),
        deletedAt: row.deleted_at,
        rev: row.rev,
      };
    });
    return {
      conversation: {
        id: state.conversation_id,
        workspaceId: state.workspace_id,
        channelId: state.channel_id,
        contactId,
        lastMessageAt: latest?.timestamp ?? 0,
        lastMessagePreview: latest ? preview(JSON.parse(latest.content), latest.deleted_at !== null) : null,
        lastDirection: latest?.direction ?? null,
        messageCount: state.seq,
        rev,
        fromRev: sinceRev,
        updatedAt: now,
      },
      contact: {
        id: contactId,
        workspaceId: state.workspace_id,
        channelId: state.channel_id,
        identity: customer.id,
        waId: customer.waId,
        bsuid: customer.bsuid,
        name: customer.name,
        username: customer.username,
        rev: state.rev,
        updatedAt: now,
      },
      messages,
    };
  }

  /** Retention: deletes messages older than `before` and their receipts, in one transaction. */
  async pruneBefore(before: number): Promise<PruneResult> {
    return this.ctx.storage.transactionSync(() => pruneBefore(this.sql, before));
  }
}

function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    seq: row.seq,
    content: JSON.parse(row.content),
    arrivedAt: row.arrived_at,
    status: row.status,
    error: row.error ? JSON.parse(row.error) : null,
    reactions: JSON.parse(row.reactions),
    deletedAt: row.deleted_at,
  };
}
