/**
 * @module
 * One Durable Object per workspace: the live feed of its inbox. Conversations announce their changes
 * here once D1 holds them (workers/live.ts), so a browser that refetches on an event reads what the
 * event announced. Each announcement gets a sequence number; a browser that reconnects with the last
 * one it saw receives exactly what it missed, or `reset` when the log no longer reaches back that far.
 */
import { DurableObject } from "cloudflare:workers";
import { acceptLiveSocket, answerClose, broadcast, closeUser, resumePoint } from "./live-sockets.ts";

/** Announcements kept for resuming; older gaps are answered with `reset`. */
const LOG_SIZE = 5_000;
const TRIM_EVERY = 500;

export type InboxEvent = { type: "conversation"; seq: number; id: string; rev: number };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS viewers (user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, PRIMARY KEY (user_id, conversation_id));
`;

export class Inbox extends DurableObject<Cloudflare.Env> {
  private readonly sql: SqlStorage;
  /** The newest announcement's sequence (null: read it on demand). */
  private seq: number | null = null;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  /** Conversations whose list entry changed (their newest revision). */
  async publish(changes: readonly { id: string; rev: number }[]): Promise<void> {
    if (changes.length === 0) return;
    const first = this.latestSeq() + 1;
    const events: InboxEvent[] = changes.map(({ id, rev }, i) => ({ type: "conversation", seq: first + i, id, rev }));
    // One statement for the whole announcement: this runs for every D1 flush under load.
    this.sql.exec(
      `INSERT INTO events (seq, conversation_id, rev) SELECT ?1 + key, json_extract(value, '$.id'), json_extract(value, '$.rev') FROM json_each(?2)`,
      first,
      JSON.stringify(changes),
    );
    this.seq = first + changes.length - 1;
    // Trimmed in steps, not on every announcement.
    if (Math.floor(this.seq / TRIM_EVERY) !== Math.floor((first - 1) / TRIM_EVERY)) {
      this.sql.exec(`DELETE FROM events WHERE seq <= ?`, this.seq - LOG_SIZE);
    }
    broadcast(this.ctx, events);
  }

  private latestSeq(): number {
    this.seq ??= this.sql.exec<{ seq: number | null }>(`SELECT max(seq) AS seq FROM events`).one().seq ?? 0;
    return this.seq;
  }

  /** The upgrade the Worker forwards once the ticket and the membership are checked. */
  override async fetch(request: Request): Promise<Response> {
    const userId = new URL(request.url).searchParams.get("userId");
    if (!userId || request.headers.get("Upgrade") !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const { socket, response } = acceptLiveSocket(this.ctx, userId);
    const latest = this.latestSeq();
    const since = resumePoint(request);
    const oldest = this.sql.exec<{ seq: number | null }>(`SELECT min(seq) AS seq FROM events`).one().seq ?? latest + 1;
    if (since === null || since > latest) {
      socket.send(JSON.stringify({ type: "hello", seq: latest }));
    } else if (since < oldest - 1) {
      socket.send(JSON.stringify({ type: "reset", seq: latest }));
    } else {
      const missed = this.sql
        .exec<{ seq: number; conversation_id: string; rev: number }>(`SELECT * FROM events WHERE seq > ? ORDER BY seq`, since)
        .toArray();
      for (const e of missed) socket.send(JSON.stringify({ type: "conversation", seq: e.seq, id: e.conversation_id, rev: e.rev }));
      socket.send(JSON.stringify({ type: "hello", seq: latest }));
    }
    return response;
  }

  /** Remembers which conversations a member watches, so losing access closes those sockets too. */
  async watch(userId: string, conversationId: string): Promise<void> {
    this.sql.exec(`INSERT OR IGNORE INTO viewers (user_id, conversation_id) VALUES (?, ?)`, userId, conversationId);
  }

  /** Closes every live connection of a member (removed from the workspace, or role changed). */
  async disconnectMember(userId: string, reason: string): Promise<number> {
    let closed = closeUser(this.ctx, userId, reason);
    const watched = this.sql.exec<{ conversation_id: string }>(`SELECT conversation_id FROM viewers WHERE user_id = ?`, userId).toArray();
    for (const { conversation_id } of watched) {
      const stub = this.env.CONVERSATION.get(this.env.CONVERSATION.idFromString(conversation_id));
      closed += await stub.disconnect(userId, reason);
    }
    this.sql.exec(`DELETE FROM viewers WHERE user_id = ?`, userId);
    return closed;
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    answerClose(socket, code);
  }
}
