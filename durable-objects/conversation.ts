/**
 * @module
 * One Durable Object per conversation (connected channel account × customer identity) orders its
 * messages. Everything happens in synchronous SQLite calls inside one RPC, so the DO's single
 * thread and its input/output gates make each ingest atomic and durable before the Worker acks
 * Meta — no locks. The D1 mirror is fed from here (see workers/mirror.ts).
 *
 * It also owns the conversation's outbox (agents' sends, retried by the alarm until Meta gives an
 * id or refuses for good), its workflow state (status, assignee, labels), private notes, and the
 * WebSockets of the members viewing it. Every change raises the revision; a browser resumes from
 * the last revision it saw.
 */
import { DurableObject } from "cloudflare:workers";
import { markNeedsReconnection } from "../workers/channels/store.ts";
import { openChannel, sendTarget, type ChannelAccess } from "../workers/channels/sender.ts";
import type { ConversationStatus } from "../workers/db/schema.ts";
import { mergeCustomer, type ConversationChange, type Customer, type Direction, type MessageContent, type MetaError, type Product } from "../workers/events.ts";
import { announce } from "../workers/live.ts";
import { messageView, type Message, type Note } from "../workers/message-view.ts";
import { contentProblem, markRead, sendMessage, type OutboundContent, type SendOutcome } from "../workers/meta/send.ts";
import { mirroredRevision, writeMirror, type MirrorBatch, type MirrorMessage } from "../workers/mirror.ts";
import { effectiveStatus } from "../workers/workflow.ts";
import { sendPermission, sendWindow, FREE_ENTRY_WINDOW_MS, type SendWindow } from "../workers/send-window.ts";
import { migrate } from "./conversation-schema.ts";
import { acceptLiveSocket, answerClose, broadcast, closeUser, resumePoint } from "./live-sockets.ts";
import { STATUS_RANK, deriveReactions, deriveStatus, preview, tombstone, type Reaction, type ReactionReceipt, type StatusReceipt } from "./message-state.ts";
import { MAX_SEND_ATTEMPTS, outboundContent, retryDelay, sendError } from "./outbox.ts";
import { pruneBefore, type PruneResult } from "./retention.ts";

export type ConversationHeader = {
  conversationId: string;
  workspaceId: string;
  channelId: string;
  product: Product;
  customer: Customer;
};

export type OutboxState = "pending" | "sent" | "failed";

export type StoredMessage = {
  seq: number;
  rev: number;
  content: MessageContent;
  arrivedAt: number;
  status: Message["status"];
  error: MetaError | null;
  reactions: Reaction[];
  deletedAt: number | null;
  sentBy: string | null;
  clientKey: string | null;
};

export type HistoryCursor = { timestamp: number; seq: number };

/** One webhook POST's changes for this conversation; several POSTs may come in one call. */
export type IngestSegment = { changes: ConversationChange[]; arrivedAt: number };
export type IngestCounts = { stored: number; duplicates: number };
/** `counts[i]` belongs to `segments[i]`. */
export type IngestResult = { counts: IngestCounts[]; mirror: MirrorBatch | null };

export type Workflow = {
  status: ConversationStatus;
  snoozedUntil: number | null;
  assigneeId: string | null;
  labels: string[];
};

export type ConversationView = Workflow & {
  id: string;
  rev: number;
  product: Product;
  window: SendWindow;
  inboundCount: number;
};

export type SendRequest = {
  idempotencyKey: string;
  content: Exclude<OutboundContent, { kind: "reaction" }>;
  replyTo: string | null;
  humanAgent: boolean;
  sentBy: string;
};

export type ReactRequest = { idempotencyKey: string; target: string; emoji: string | null; sentBy: string };

export type Refusal = { ok: false; status: 404 | 409 | 422 | 502 | 503; code: string; message: string };

export type Mutation<T> = ({ ok: true; mirror: MirrorBatch | null } & T) | Refusal;

/**
 * How long the DO waits for the Worker's batched D1 write before checking (one D1 read) and
 * re-sending itself. Only a backstop: under load every conversation pays one check per period.
 */
export const MIRROR_CHECK_MS = 30_000;
const MIRROR_RETRY_MAX_MS = 5 * 60_000;
/** Rows per alarm re-send, so a long D1 outage catches up in bounded steps. */
const MIRROR_RESEND_ROWS = 500;
/** Frames per resume: a browser further behind than this reloads the conversation. */
const RESUME_MAX_ROWS = 1_000;

type ConversationRow = {
  conversation_id: string;
  workspace_id: string;
  channel_id: string;
  product: Product;
  customer: string;
  customer_at: number;
  /** The revision at which the customer's profile last changed: D1's contact row needs no rewrite before it. */
  customer_rev: number;
  seq: number;
  rev: number;
  mirrored_rev: number;
  mirror_failures: number;
  delivered_watermark: number;
  read_watermark: number;
  status: ConversationStatus;
  snoozed_until: number | null;
  assignee_id: string | null;
  labels: string;
  inbound_count: number;
  last_inbound_at: number | null;
  free_entry_until: number | null;
};

type MessageRow = {
  seq: number;
  external_id: string;
  direction: Direction;
  timestamp: number;
  arrived_at: number;
  content: string;
  status: StoredMessage["status"];
  status_rank: number;
  error: string | null;
  reactions: string;
  deleted_at: number | null;
  rev: number;
  outbox: OutboxState | null;
  sent_by: string | null;
  client_key: string | null;
};

/** A message row this object just wrote, with its content already parsed. */
type WrittenRow = { row: MessageRow; content: MessageContent };

type OutboxRow = { client_key: string; seq: number; request: string; attempts: number; next_at: number };
type OutboxRequest = Pick<SendRequest, "content" | "replyTo"> & { messagingType: "RESPONSE" | "MESSAGE_TAG"; tag: "HUMAN_AGENT" | null };
type NoteRow = { id: number; author_id: string; text: string; created_at: number; rev: number };

type Receipt =
  | { kind: "status"; data: StatusReceipt & { cascade: boolean } }
  | { kind: "reaction"; data: ReactionReceipt }
  | { kind: "deletion"; data: { timestamp: number } };

const STATE_COLUMNS = [
  "customer",
  "customer_at",
  "customer_rev",
  "seq",
  "rev",
  "mirrored_rev",
  "mirror_failures",
  "delivered_watermark",
  "read_watermark",
  "product",
  "status",
  "snoozed_until",
  "assignee_id",
  "labels",
  "inbound_count",
  "last_inbound_at",
  "free_entry_until",
] as const satisfies readonly (keyof ConversationRow)[];

const SAVE_STATE = `UPDATE conversation SET ${STATE_COLUMNS.map((c) => `${c} = ?`).join(", ")} WHERE id = 1`;

export class Conversation extends DurableObject<Cloudflare.Env> {
  private readonly sql: SqlStorage;
  /** Cached copy of the single `conversation` row; SQLite stays the source of truth. */
  private state: ConversationRow | null = null;
  /** When the alarm is set for (null: none), so an earlier need moves it forward and a later one leaves it. */
  private alarmAt: number | null = null;
  /** When D1 should next be checked for the mirror (in memory: after an eviction the alarm just checks). */
  private mirrorDueAt = 0;
  /**
   * The ingest path is one SQLite statement per change plus the state row; these in-memory copies
   * spare it the reads it would otherwise add (each statement costs more than its SQL suggests).
   * `written`: the rows the running ingest wrote, which are exactly the rows after its first
   * revision, so the mirror is built without reading them back. `newest`: the newest message in
   * display order (undefined: read it on demand). `parked`: targets of receipts whose message has
   * not arrived (null: read it on demand).
   */
  private written: Map<number, WrittenRow> | null = null;
  private newest: MessageRow | null | undefined = undefined;
  private parked: Set<string> | null = null;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage);
    this.reload();
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Applies a conversation's share of one or more webhook POSTs, in order, in one transaction.
   * Returns once it is durable (the output gate holds the reply until SQLite has committed), with
   * each POST's counts and the rows the D1 mirror must receive.
   */
  async ingest(header: ConversationHeader, segments: IngestSegment[]): Promise<IngestResult> {
    const before = JSON.stringify(this.state);
    // Before ensureState: a changed customer profile is one of the revisions to mirror.
    const fromRev = this.state?.rev ?? 0;
    const state = this.ensureState(header, segments.flatMap((segment) => segment.changes));
    const counts = segments.map((): IngestCounts => ({ stored: 0, duplicates: 0 }));
    const written = new Map<number, WrittenRow>();
    this.written = written;
    try {
      this.ctx.storage.transactionSync(() => {
        segments.forEach(({ changes, arrivedAt }, i) => {
          for (const change of changes) {
            if (this.apply(change, arrivedAt)) counts[i]!.stored++;
            else counts[i]!.duplicates++;
          }
        });
        // A POST Meta retried changes nothing: no write, no commit to wait for.
        if (JSON.stringify(state) !== before) this.saveState();
      });
    } catch (error) {
      // SQLite rolled back; the in-memory copies may describe writes that never happened.
      this.reload();
      throw error;
    } finally {
      this.written = null;
    }
    if (state.rev === fromRev) return { counts, mirror: null };
    const mirror = this.collectMirror(fromRev, Number.MAX_SAFE_INTEGER, [...written.values()].sort((a, b) => a.row.rev - b.row.rev));
    await this.afterChange(fromRev);
    return { counts, mirror };
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

  /** One message by its Meta id (or `out:<key>` while pending). */
  async message(externalId: string): Promise<StoredMessage | null> {
    const row = this.messageRow(externalId);
    return row ? toStoredMessage(row) : null;
  }

  /** The customer this conversation is with. */
  async customer(): Promise<Customer | null> {
    return this.state ? (JSON.parse(this.state.customer) as Customer) : null;
  }

  /** The conversation's workflow state and send window now; null before its first message. */
  async view(now = Date.now()): Promise<ConversationView | null> {
    return this.state ? this.viewOf(this.state, now) : null;
  }

  // ── Sending ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Queues an agent's message. It is in the timeline at once as `pending`; the alarm sends it and it
   * becomes `sent` only when Meta returns its id. The same idempotency key answers the same message
   * and never sends twice.
   */
  async send(request: SendRequest, now = Date.now()): Promise<Mutation<{ message: StoredMessage; created: boolean }>> {
    const state = this.state;
    if (!state) return notFound();
    const existing = this.messageByKey(request.idempotencyKey);
    if (existing) return { ok: true, message: existing, created: false, mirror: null };
    const permission = sendPermission(state.product, this.windowOf(state, now), request.content.kind, request.humanAgent);
    if (!permission.ok) return { ok: false, status: 422, code: permission.code, message: permission.message };
    const problem = contentProblem(state.product, request.content);
    if (problem) return { ok: false, status: 422, code: "content_not_supported", message: problem.message };
    if (request.replyTo && !this.messageRow(request.replyTo)) {
      return { ok: false, status: 422, code: "reply_target_unknown", message: `No message ${request.replyTo} in this conversation to reply to` };
    }
    const fromRev = state.rev;
    const externalId = `out:${request.idempotencyKey}`;
    const queued: OutboxRequest = { content: request.content, replyTo: request.replyTo, messagingType: permission.messagingType, tag: permission.tag };
    this.ctx.storage.transactionSync(() => {
      state.seq++;
      state.rev++;
      this.sql.exec(
        `INSERT INTO messages (seq, external_id, direction, timestamp, arrived_at, content, status, rev, outbox, sent_by, client_key)
         VALUES (?, ?, 'out', ?, ?, ?, 'pending', ?, 'pending', ?, ?)`,
        state.seq,
        externalId,
        now,
        now,
        JSON.stringify(outboundContent(externalId, request.content, request.replyTo, now)),
        state.rev,
        request.sentBy,
        request.idempotencyKey,
      );
      this.sql.exec(`INSERT INTO outbox (client_key, seq, request, next_at) VALUES (?, ?, ?, ?)`, request.idempotencyKey, state.seq, JSON.stringify(queued), now);
      this.saveState();
    });
    this.newest = undefined;
    await this.arm(now);
    this.publish(fromRev);
    return { ok: true, message: this.messageByKey(request.idempotencyKey)!, created: true, mirror: this.collectMirror(fromRev) };
  }

  /**
   * Reacts to a message (emoji null removes our reaction). Sent to Meta at once — a reaction is not
   * worth queueing behind messages — and shown only once Meta accepted it.
   */
  async react(request: ReactRequest, now = Date.now()): Promise<Mutation<{ message: StoredMessage }>> {
    const state = this.state;
    if (!state) return notFound();
    const key = `out-reaction:${request.idempotencyKey}`;
    const target = this.messageRow(request.target);
    if (!target || target.outbox === "pending" || target.outbox === "failed") {
      return { ok: false, status: 422, code: "reaction_target_unknown", message: `No message ${request.target} that Meta knows in this conversation` };
    }
    if (this.sql.exec(`SELECT 1 FROM receipts WHERE key = ?`, key).toArray().length > 0) {
      return { ok: true, message: toStoredMessage(target), mirror: null };
    }
    const permission = sendPermission(state.product, this.windowOf(state, now), "reaction", false);
    if (!permission.ok) return { ok: false, status: 422, code: permission.code, message: permission.message };
    const opened = await openChannel(this.env, state.channel_id);
    if (!opened.ok) return { ok: false, ...opened.refusal };
    // Held under the input gate: a retry of the same key waits here and then finds the receipt.
    return this.ctx.blockConcurrencyWhile(async () => {
      if (this.sql.exec(`SELECT 1 FROM receipts WHERE key = ?`, key).toArray().length > 0) {
        return { ok: true as const, message: toStoredMessage(this.messageRow(request.target)!), mirror: null };
      }
      const outcome = await this.deliver(opened.access, { kind: "reaction", targetExternalId: request.target, emoji: request.emoji }, {
        replyTo: null,
        messagingType: permission.messagingType,
        tag: null,
      });
      if (!outcome.ok) {
        const { failure } = outcome;
        if (failure.reconnect) await markNeedsReconnection(this.env, opened.access.channel, failure.message);
        return { ok: false as const, status: failure.retry === "never" ? (422 as const) : (503 as const), code: "meta_refused", message: failure.message };
      }
      const fromRev = state.rev;
      this.ctx.storage.transactionSync(() => {
        this.addReceipt(key, request.target, { kind: "reaction", data: { key, actor: "out", emoji: request.emoji, timestamp: now } });
        this.saveState();
      });
      await this.afterChange(fromRev);
      return { ok: true as const, message: toStoredMessage(this.messageRow(request.target)!), mirror: this.collectMirror(fromRev) };
    });
  }

  /** Tells Meta the customer's messages were read (WhatsApp blue ticks, Messenger/Instagram "seen"). */
  async markRead(): Promise<{ ok: true; externalId: string | null } | Refusal> {
    const state = this.state;
    if (!state) return notFound();
    const newest = this.sql
      .exec<{ external_id: string }>(`SELECT external_id FROM messages WHERE direction = 'in' AND deleted_at IS NULL ORDER BY timestamp DESC, seq DESC LIMIT 1`)
      .toArray()[0];
    if (!newest) return { ok: true, externalId: null };
    const opened = await openChannel(this.env, state.channel_id);
    if (!opened.ok) return { ok: false, ...opened.refusal };
    const result = await markRead(this.env, opened.access.token, sendTarget(opened.access.channel, JSON.parse(state.customer)), newest.external_id);
    if (!result.ok) return { ok: false, status: result.failure.retry === "never" ? 422 : 503, code: "meta_refused", message: result.failure.message };
    return { ok: true, externalId: newest.external_id };
  }

  // ── Workflow and notes ───────────────────────────────────────────────────────────────────────

  async updateWorkflow(patch: Partial<Workflow>, now = Date.now()): Promise<Mutation<{ view: ConversationView }>> {
    const state = this.state;
    if (!state) return notFound();
    const fromRev = state.rev;
    const next: ConversationRow = {
      ...state,
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      ...(patch.assigneeId !== undefined ? { assignee_id: patch.assigneeId } : {}),
      ...(patch.labels !== undefined ? { labels: JSON.stringify([...new Set(patch.labels)].sort()) } : {}),
    };
    next.snoozed_until = next.status === "snoozed" ? (patch.snoozedUntil ?? state.snoozed_until) : null;
    const changed = (["status", "assignee_id", "labels", "snoozed_until"] as const).some((k) => next[k] !== state[k]);
    if (changed) {
      Object.assign(state, next);
      state.rev++;
      this.saveState();
      await this.afterChange(fromRev);
    }
    return { ok: true, view: this.viewOf(state, now), mirror: changed ? this.collectMirror(fromRev) : null };
  }

  async addNote(authorId: string, text: string, now = Date.now()): Promise<Mutation<{ note: Note }>> {
    const state = this.state;
    if (!state) return notFound();
    const fromRev = state.rev;
    state.rev++;
    const row = this.sql
      .exec<NoteRow>(`INSERT INTO notes (author_id, text, created_at, rev) VALUES (?, ?, ?, ?) RETURNING *`, authorId, text, now, state.rev)
      .one();
    this.saveState();
    await this.afterChange(fromRev);
    // Notes stay here (never in D1's message mirror); the conversation's revision still moves forward.
    return { ok: true, note: noteView(row), mirror: this.collectMirror(fromRev) };
  }

  async notes(): Promise<Note[]> {
    return this.sql.exec<NoteRow>(`SELECT * FROM notes ORDER BY id`).toArray().map(noteView);
  }

  // ── Live ─────────────────────────────────────────────────────────────────────────────────────

  /** The upgrade the Worker forwards once the ticket and the membership are checked. */
  override async fetch(request: Request): Promise<Response> {
    const userId = new URL(request.url).searchParams.get("userId");
    if (!userId || request.headers.get("Upgrade") !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const { socket, response } = acceptLiveSocket(this.ctx, userId);
    const since = resumePoint(request);
    const rev = this.state?.rev ?? 0;
    const frames = since === null || since >= rev ? [] : this.changesSince(since, RESUME_MAX_ROWS + 1);
    const tooFar = frames.filter((f) => f.type === "message").length > RESUME_MAX_ROWS;
    // A browser ahead of this conversation saw an earlier one, erased since: it must read afresh.
    const ahead = since !== null && since > rev;
    for (const frame of tooFar || ahead ? [{ type: "reset", rev }] : frames) socket.send(JSON.stringify(frame));
    socket.send(JSON.stringify({ type: "hello", rev }));
    return response;
  }

  async disconnect(userId: string, reason: string): Promise<number> {
    return closeUser(this.ctx, userId, reason);
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    answerClose(socket, code);
  }

  /**
   * Erases everything this conversation holds (its channel's history was deleted, or its customer
   * erased): messages, receipts, the outbox, notes, the pending mirror and the alarm.
   */
  async erase(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.alarmAt = null;
    migrate(this.ctx.storage);
    this.reload();
  }

  /** The outbox's next attempts and the D1 backstop. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    const attempted = await this.drainOutbox(now);
    const state = this.state;
    // An alarm set for a send has written its own mirror; any other alarm is the D1 backstop.
    if (state && state.mirrored_rev < state.rev && (!attempted || now >= this.mirrorDueAt)) await this.checkMirror(state);
    await this.armNext(Date.now());
  }

  /** Sends what is due, in order; true when it attempted anything. */
  private async drainOutbox(now: number): Promise<boolean> {
    for (let attempted = false; ; attempted = true) {
      const head = this.sql.exec<OutboxRow>(`SELECT * FROM outbox ORDER BY seq LIMIT 1`).toArray()[0];
      // Sends leave in the order agents wrote them: a head waiting for its retry holds the rest.
      if (!head || head.next_at > now) return attempted;
      const fromRev = this.state!.rev;
      try {
        await this.attempt(head, now);
      } catch (error) {
        // D1 or the vault failed before Meta was called: nothing was sent, try again shortly.
        console.warn(`conversation ${this.state!.conversation_id}: send attempt could not start`, error);
        this.retryLater(head, now + 30_000, null);
        return true;
      }
      const batch = this.collectMirror(fromRev);
      this.publish(fromRev);
      try {
        await writeMirror(this.env.DB, [batch]);
        this.state!.mirrored_rev = Math.max(this.state!.mirrored_rev, batch.conversation.rev);
        this.saveState();
        await announce(this.env, [batch]);
      } catch (error) {
        console.warn(`conversation ${this.state!.conversation_id}: D1 mirror of a send failed; the alarm retries`, error);
        this.mirrorDueAt = 0;
      }
      if (this.sql.exec(`SELECT 1 FROM outbox WHERE client_key = ?`, head.client_key).toArray().length > 0) return true;
    }
  }

  private async attempt(head: OutboxRow, now: number): Promise<void> {
    const state = this.state!;
    const request = JSON.parse(head.request) as OutboxRequest;
    const opened = await openChannel(this.env, state.channel_id);
    if (!opened.ok) {
      if (opened.refusal.status === 503) return this.retryLater(head, now + 30_000, null);
      return this.finish(head, { ok: false, error: { code: 0, title: opened.refusal.message, details: opened.refusal.code } });
    }
    const paused = opened.access.channel.sendPausedUntil;
    if (paused !== null && paused > now) return this.retryLater(head, paused, null);
    // The conversation waits for Meta's answer, so an echo of this very message (Messenger,
    // Instagram) cannot be stored before the message has its id.
    const outcome = await this.ctx.blockConcurrencyWhile(() => this.deliver(opened.access, request.content, request));
    if (outcome.ok) {
      return this.finish(head, outcome.externalId ? { ok: true, externalId: outcome.externalId } : { ok: false, error: { code: 0, title: "Meta accepted the message without an id", details: null } });
    }
    const { failure } = outcome;
    if (failure.reconnect) await markNeedsReconnection(this.env, opened.access.channel, failure.message);
    const attempts = head.attempts + 1;
    if (failure.retry === "never" || attempts >= MAX_SEND_ATTEMPTS) {
      const error = sendError(failure);
      return this.finish(head, {
        ok: false,
        error: failure.retry === "never" ? error : { ...error, title: `${error.title} Gave up after ${attempts} attempts; send it again to retry.` },
      });
    }
    const at = now + retryDelay(failure, attempts);
    if (failure.retry === "pace_number") {
      await this.env.DB.prepare(`UPDATE channels SET send_paused_until = max(coalesce(send_paused_until, 0), ?1) WHERE id = ?2`).bind(at, state.channel_id).run();
    }
    return this.retryLater(head, at, sendError(failure), attempts);
  }

  private async deliver(access: ChannelAccess, content: OutboundContent, options: Pick<OutboxRequest, "replyTo" | "messagingType" | "tag">): Promise<SendOutcome> {
    const customer = JSON.parse(this.state!.customer) as Customer;
    return sendMessage(this.env, access.token, sendTarget(access.channel, customer), content, options);
  }

  /** A retryable failure: the message stays pending, showing why it waits, until the next attempt. */
  private retryLater(head: OutboxRow, at: number, error: MetaError | null, attempts = head.attempts): void {
    const state = this.state!;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE outbox SET attempts = ?, next_at = ? WHERE client_key = ?`, attempts, at, head.client_key);
      if (error) {
        state.rev++;
        this.sql.exec(`UPDATE messages SET error = ?, rev = ? WHERE seq = ?`, JSON.stringify(error), state.rev, head.seq);
        this.saveState();
      }
    });
  }

  private finish(head: OutboxRow, result: { ok: true; externalId: string } | { ok: false; error: MetaError }): void {
    const state = this.state!;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM outbox WHERE client_key = ?`, head.client_key);
      state.rev++;
      if (result.ok) {
        const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq = ?`, head.seq).one();
        const content = { ...(JSON.parse(row.content) as MessageContent), externalId: result.externalId };
        this.sql.exec(
          `UPDATE messages SET external_id = ?, content = ?, outbox = 'sent', status = 'sent', status_rank = ?, error = NULL, rev = ? WHERE seq = ?`,
          result.externalId,
          JSON.stringify(content),
          STATUS_RANK.sent,
          state.rev,
          head.seq,
        );
        // Statuses Meta sent before we stored the id were parked under it: apply them now.
        this.newest = undefined;
        this.parked?.delete(result.externalId);
        this.refresh(result.externalId);
      } else {
        this.sql.exec(`UPDATE messages SET outbox = 'failed', status = 'failed', status_rank = 0, error = ?, rev = ? WHERE seq = ?`, JSON.stringify(result.error), state.rev, head.seq);
      }
      this.saveState();
    });
  }

  // ── Alarm scheduling and the D1 backstop ─────────────────────────────────────────────────────

  private async arm(time: number): Promise<void> {
    const at = Math.max(time, Date.now());
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /**
   * After a change the Worker mirrors to D1 (a message, a status, a workflow change, a note): the
   * conversation's sockets hear of it, and D1's copy is checked 30 s on, in case that write is lost.
   */
  private async afterChange(fromRev: number): Promise<void> {
    this.publish(fromRev);
    const at = Date.now() + MIRROR_CHECK_MS;
    // An alarm that fires earlier for a send leaves this check to the alarm at `at`.
    this.mirrorDueAt = at;
    await this.arm(at);
  }

  private async armNext(now: number): Promise<void> {
    const state = this.state;
    const head = this.sql.exec<{ next_at: number }>(`SELECT next_at FROM outbox ORDER BY seq LIMIT 1`).toArray()[0];
    const mirrorAt = state && state.mirrored_rev < state.rev ? Math.max(now, this.mirrorDueAt) : null;
    const next = Math.min(head?.next_at ?? Infinity, mirrorAt ?? Infinity);
    if (Number.isFinite(next)) await this.arm(next);
  }

  /**
   * Confirms the Worker's flush landed, otherwise sends the missing rows ourselves. It answers for
   * the revisions there were when it began: a change made while it waited on D1 has armed a check
   * of its own, and checking again at once for it would only race the Worker's flush of it.
   */
  private async checkMirror(state: ConversationRow): Promise<void> {
    const target = state.rev;
    try {
      const inD1 = await mirroredRevision(this.env.DB, state.conversation_id);
      if (inD1 < state.rev) {
        const batch = this.collectMirror(inD1, MIRROR_RESEND_ROWS);
        await writeMirror(this.env.DB, [batch]);
        state.mirrored_rev = batch.conversation.rev;
        await announce(this.env, [batch]);
      } else {
        state.mirrored_rev = inD1;
      }
      state.mirror_failures = 0;
      // Set after the awaits, so a change made meanwhile cannot postpone the rest of a re-send.
      if (state.mirrored_rev < target) this.mirrorDueAt = 0;
    } catch (error) {
      state.mirror_failures++;
      this.mirrorDueAt = Date.now() + Math.min(MIRROR_RETRY_MAX_MS, 1_000 * 2 ** state.mirror_failures);
      console.warn(`conversation ${state.conversation_id}: D1 mirror attempt ${state.mirror_failures} failed`, error);
    }
    this.saveState();
  }

  // ── State ────────────────────────────────────────────────────────────────────────────────────

  private ensureState(header: ConversationHeader, changes: ConversationChange[]): ConversationRow {
    // The customer's profile (name, username, BSUID) follows the newest message that carried it.
    const newest = Math.max(0, ...changes.map((c) => (c.kind === "message" ? c.message.timestamp : 0)));
    if (!this.state) {
      this.state = {
        conversation_id: header.conversationId,
        workspace_id: header.workspaceId,
        channel_id: header.channelId,
        product: header.product,
        customer: JSON.stringify(header.customer),
        customer_at: newest,
        customer_rev: 0,
        seq: 0,
        rev: 0,
        mirrored_rev: 0,
        mirror_failures: 0,
        delivered_watermark: 0,
        read_watermark: 0,
        status: "open",
        snoozed_until: null,
        assignee_id: null,
        labels: "[]",
        inbound_count: 0,
        last_inbound_at: null,
        free_entry_until: null,
      };
      this.sql.exec(
        `INSERT INTO conversation (id, conversation_id, workspace_id, channel_id, product, customer, customer_at) VALUES (1, ?, ?, ?, ?, ?, ?)`,
        header.conversationId,
        header.workspaceId,
        header.channelId,
        header.product,
        this.state.customer,
        newest,
      );
      return this.state;
    }
    this.state.product = header.product;
    if (newest > 0 && newest >= this.state.customer_at) {
      const next = JSON.stringify(mergeCustomer(JSON.parse(this.state.customer) as Customer, header.customer));
      if (next !== this.state.customer) {
        this.state.customer = next;
        this.state.customer_at = newest;
        this.state.rev++;
        this.state.customer_rev = this.state.rev;
      }
    }
    return this.state;
  }

  private saveState(): void {
    const s = this.state!;
    this.sql.exec(SAVE_STATE, ...STATE_COLUMNS.map((c) => s[c]));
  }

  /** Drops every in-memory copy of storage, so the next use reads SQLite again. */
  private reload(): void {
    this.state = this.sql.exec<ConversationRow>(`SELECT * FROM conversation WHERE id = 1`).toArray()[0] ?? null;
    this.newest = undefined;
    this.parked = null;
  }

  private newestMessage(): MessageRow | null {
    this.newest ??= this.sql.exec<MessageRow>(`SELECT * FROM messages ORDER BY timestamp DESC, seq DESC LIMIT 1`).toArray()[0] ?? null;
    return this.newest;
  }

  private parkedTargets(): Set<string> {
    this.parked ??= new Set(
      this.sql
        .exec<{ target: string }>(`SELECT DISTINCT target FROM receipts WHERE target NOT IN (SELECT external_id FROM messages)`)
        .toArray()
        .map((r) => r.target),
    );
    return this.parked;
  }

  /** Keeps the in-memory copies right after a message row was inserted or changed. */
  private wrote(row: MessageRow, content: MessageContent): void {
    this.written?.set(row.seq, { row, content });
    const newest = this.newest;
    if (newest === undefined) return;
    if (newest === null || newest.seq === row.seq || row.timestamp > newest.timestamp || (row.timestamp === newest.timestamp && row.seq > newest.seq)) {
      this.newest = row;
    }
  }

  private windowOf(state: ConversationRow, now: number): SendWindow {
    return sendWindow({ product: state.product, lastInboundAt: state.last_inbound_at, freeEntryUntil: state.free_entry_until }, now);
  }

  private viewOf(state: ConversationRow, now: number): ConversationView {
    return {
      id: state.conversation_id,
      rev: state.rev,
      product: state.product,
      ...effectiveStatus(state.status, state.snoozed_until, now),
      assigneeId: state.assignee_id,
      labels: JSON.parse(state.labels),
      inboundCount: state.inbound_count,
      window: this.windowOf(state, now),
    };
  }

  private messageRow(externalId: string): MessageRow | undefined {
    return this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE external_id = ?`, externalId).toArray()[0];
  }

  private messageByKey(key: string): StoredMessage | null {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE client_key = ?`, key).toArray()[0];
    return row ? toStoredMessage(row) : null;
  }

  /** Everything that changed after revision `since`, as the frames a live browser receives. */
  private changesSince(since: number, limit: number): ({ type: "message"; rev: number; message: Message } | { type: "note"; rev: number; note: Note } | { type: "conversation"; rev: number; conversation: ConversationView })[] {
    const state = this.state;
    if (!state) return [];
    const messages = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE rev > ? ORDER BY rev LIMIT ?`, since, limit).toArray();
    const notes = this.sql.exec<NoteRow>(`SELECT * FROM notes WHERE rev > ? ORDER BY rev`, since).toArray();
    return [
      ...messages.map((row) => ({ type: "message" as const, rev: row.rev, message: messageView(toStoredMessage(row)) })),
      ...notes.map((row) => ({ type: "note" as const, rev: row.rev, note: noteView(row) })),
      { type: "conversation" as const, rev: state.rev, conversation: this.viewOf(state, Date.now()) },
    ];
  }

  /** Sends what changed after `fromRev` to the browsers viewing this conversation. */
  private publish(fromRev: number): void {
    if (this.ctx.getWebSockets().length === 0) return;
    broadcast(this.ctx, this.changesSince(fromRev, Number.MAX_SAFE_INTEGER));
  }

  // ── Ingest ───────────────────────────────────────────────────────────────────────────────────

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
    const row: MessageRow = {
      seq: state.seq + 1,
      external_id: message.externalId,
      direction: message.direction,
      timestamp: message.timestamp,
      arrived_at: arrivedAt,
      content: JSON.stringify(message),
      status: null,
      status_rank: 0,
      error: null,
      reactions: "[]",
      deleted_at: null,
      rev: state.rev + 1,
      outbox: null,
      sent_by: null,
      client_key: null,
    };
    const inserted = this.sql.exec(
      `INSERT INTO messages (seq, external_id, direction, timestamp, arrived_at, content, rev)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (external_id) DO NOTHING`,
      row.seq,
      row.external_id,
      row.direction,
      row.timestamp,
      row.arrived_at,
      row.content,
      row.rev,
    ).rowsWritten;
    if (inserted === 0) return false;
    state.seq = row.seq;
    state.rev = row.rev;
    this.wrote(row, message);
    if (message.direction === "in") this.customerWrote(message);
    // Receipts that arrived before their message (statuses, reactions, deletions) apply now; most
    // messages have none, and the row just written needs no second look.
    const parked = this.parkedTargets().delete(message.externalId);
    const covered = message.direction === "out" && message.timestamp <= Math.max(state.read_watermark, state.delivered_watermark);
    if (parked || covered) this.refresh(message.externalId);
    return true;
  }

  /** A customer's message opens the send window and reopens a resolved or snoozed conversation. */
  private customerWrote(message: MessageContent): void {
    const state = this.state!;
    state.inbound_count++;
    state.last_inbound_at = Math.max(state.last_inbound_at ?? 0, message.timestamp);
    if (state.product === "whatsapp" && message.referral) {
      state.free_entry_until = Math.max(state.free_entry_until ?? 0, message.timestamp + FREE_ENTRY_WINDOW_MS);
    }
    if (state.status === "resolved" || state.status === "snoozed") {
      state.status = "open";
      state.snoozed_until = null;
    }
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
    if (!this.refresh(target)) this.parkedTargets().add(target);
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
        `SELECT external_id FROM messages WHERE direction = 'out' AND timestamp <= ? AND status_rank < ? AND (outbox IS NULL OR outbox = 'sent')`,
        watermark,
        rank,
      )
      .toArray();
    for (const { external_id } of affected) this.refresh(external_id);
    return true;
  }

  /**
   * Recomputes a message's status, reactions and deletion from all receipts that target it; false
   * when there is no such message (yet).
   */
  private refresh(externalId: string): boolean {
    const state = this.state!;
    const row = this.messageRow(externalId);
    if (!row) return false;
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
            // Meta returned an id for our send: it is at least sent.
            row.outbox === "sent" ? STATUS_RANK.sent : 0,
          )
        : 0;
    const derived = deriveStatus(statuses, floor);
    // Our sends that Meta has not accepted (or refused) keep the outbox's verdict.
    const unsent = row.outbox === "pending" || row.outbox === "failed";
    const status = unsent ? { status: row.status, rank: row.status_rank } : derived;
    const error = unsent ? row.error : derived.error ? JSON.stringify(derived.error) : null;
    const reactions = JSON.stringify(deriveReactions(receipts.flatMap((r) => (r.kind === "reaction" ? [r.data] : []))));
    const deletions = receipts.flatMap((r) => (r.kind === "deletion" ? [r.data.timestamp] : []));
    const deletedAt = deletions.length > 0 ? Math.min(...deletions) : null;
    const content = deletedAt !== null && row.deleted_at === null ? JSON.stringify(tombstone(JSON.parse(row.content))) : row.content;

    if (
      status.status === row.status &&
      status.rank === row.status_rank &&
      error === row.error &&
      reactions === row.reactions &&
      deletedAt === row.deleted_at &&
      content === row.content
    ) {
      return true;
    }
    state.rev++;
    const updated: MessageRow = { ...row, status: status.status, status_rank: status.rank, error, reactions, deleted_at: deletedAt, content, rev: state.rev };
    this.sql.exec(
      `UPDATE messages SET status = ?, status_rank = ?, error = ?, reactions = ?, deleted_at = ?, content = ?, rev = ? WHERE seq = ?`,
      updated.status,
      updated.status_rank,
      updated.error,
      updated.reactions,
      updated.deleted_at,
      updated.content,
      updated.rev,
      updated.seq,
    );
    this.wrote(updated, JSON.parse(content));
    return true;
  }

  /**
   * What D1 must receive for the revisions after `sinceRev`: read from SQLite, or the rows the
   * caller just wrote (`written`, which must then be every message row changed since `sinceRev`).
   */
  private collectMirror(sinceRev: number, limit = Number.MAX_SAFE_INTEGER, written?: WrittenRow[]): MirrorBatch {
    const state = this.state!;
    const rows =
      written ??
      this.sql
        .exec<MessageRow>(`SELECT * FROM messages WHERE rev > ? ORDER BY rev LIMIT ?`, sinceRev, limit)
        .toArray()
        .map((row) => ({ row, content: JSON.parse(row.content) as MessageContent }));
    // A partial re-send may only claim the revisions it actually carries.
    const rev = rows.length === limit ? rows.at(-1)!.row.rev : state.rev;
    const latest = this.newestMessage();
    const customer = JSON.parse(state.customer) as Customer;
    const contactId = `ct_${state.conversation_id}`;
    const now = Date.now();
    const messages: MirrorMessage[] = rows.map(({ row, content }) => {
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
        sentBy: row.sent_by,
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
        inboundCount: state.inbound_count,
        lastInboundAt: state.last_inbound_at,
        freeEntryUntil: state.free_entry_until,
        status: state.status,
        snoozedUntil: state.snoozed_until,
        assigneeId: state.assignee_id,
        labels: JSON.parse(state.labels),
        rev,
        fromRev: sinceRev,
        updatedAt: now,
      },
      // The first batch creates the contact; later ones carry it only when the profile changed.
      contact: sinceRev > 0 && state.customer_rev <= sinceRev ? null : {
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
    const result = this.ctx.storage.transactionSync(() => pruneBefore(this.sql, before));
    this.reload();
    return result;
  }
}

function notFound(): Refusal {
  return { ok: false, status: 404, code: "not_found", message: "No such conversation" };
}

function noteView(row: NoteRow): Note {
  return { id: row.id, rev: row.rev, authorId: row.author_id, text: row.text, createdAt: row.created_at };
}

function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    seq: row.seq,
    rev: row.rev,
    content: JSON.parse(row.content),
    arrivedAt: row.arrived_at,
    status: row.status,
    error: row.error ? JSON.parse(row.error) : null,
    reactions: JSON.parse(row.reactions),
    deletedAt: row.deleted_at,
    sentBy: row.sent_by,
    clientKey: row.client_key,
  };
}
