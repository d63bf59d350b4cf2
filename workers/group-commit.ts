/**
 * @module
 * Group commit for conversations. While a call to a conversation's Durable Object is in flight,
 * requests in this isolate for the same conversation do not each send their own: they join one
 * batch that goes as soon as that call returns. A busy conversation then pays one RPC, one SQLite
 * commit and one D1 mirror batch for many POSTs instead of one each, and each request still
 * answers only once its own changes are durable, with its own counts. An idle conversation's call
 * goes at once; calls to one conversation from this isolate go one at a time, in arrival order.
 */
import type { ConversationHeader, IngestCounts, IngestSegment } from "../durable-objects/conversation.ts";
import { mergeCustomer } from "./events.ts";

/** Sends one batch; `counts[i]` must belong to `segments[i]`. */
export type SendBatch = (header: ConversationHeader, segments: IngestSegment[]) => Promise<IngestCounts[]>;

type Batch = { header: ConversationHeader; segments: IngestSegment[]; done: Promise<IngestCounts[]> };
/** `busy` is the newest batch's state; `waiting` is the batch that goes after the call in flight. */
type Line = { busy: { settled: boolean }; waiting: Batch | null };

/** How often the request that opened a waiting batch checks whether the call ahead has returned. */
const POLL_MS = 1;

/**
 * Awaits a promise another request settles. Waiting on no I/O of its own, this request would look
 * hung to the runtime, which cancels such requests: a pending timer keeps it open meanwhile. What
 * follows such a wait may not make I/O: the runtime does not reliably resume it in its own request.
 */
async function awaitOther<T>(promise: Promise<T>): Promise<T> {
  const timer = setTimeout(() => undefined, 60_000);
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for the call ahead on this request's own timers rather than on the other request's
 * promise, so that the Durable Object call that follows runs in this request. Resuming from the
 * other request's promise, that call failed under load with "Cannot perform I/O on behalf of a
 * different request" (I/O type SpanParent) in the benchmark's hot 20-event cells.
 */
async function untilSettled(state: { settled: boolean }, limitMs: number): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  while (!state.settled && Date.now() < giveUpAt) await scheduler.wait(POLL_MS);
}

export class GroupCommit {
  readonly #lines = new Map<string, Line>();

  constructor(
    /**
     * How long a waiting batch waits for the call ahead at most: a call whose request was cancelled
     * never reports back, and the batch then goes anyway (the Durable Object orders concurrent
     * calls itself).
     */
    private readonly pollLimitMs = 30_000,
  ) {}

  /**
   * Resolves with `segment`'s counts once it is durable; rejects if the call carrying it failed.
   * `send` is used only if this request opens a batch, and then runs in this request, which
   * `keepAlive` (its `waitUntil`) keeps running for the requests that joined it.
   */
  submit(
    header: ConversationHeader,
    segment: IngestSegment,
    send: SendBatch,
    keepAlive: (promise: Promise<unknown>) => void,
  ): Promise<IngestCounts> {
    const { conversationId } = header;
    const line = this.#lines.get(conversationId);
    const waiting = line?.waiting;
    if (waiting) {
      const index = waiting.segments.push(segment) - 1;
      waiting.header = { ...header, customer: mergeCustomer(waiting.header.customer, header.customer) };
      return awaitOther(waiting.done).then((counts) => counts[index]!);
    }

    const ahead = line?.busy;
    const batch: Batch = { header, segments: [segment], done: undefined! };
    const own: Line = line ?? { busy: undefined!, waiting: null };
    batch.done = (async () => {
      if (ahead) {
        // The call ahead's outcome is its own requests' business; this batch goes either way.
        await untilSettled(ahead, this.pollLimitMs);
        own.waiting = null;
      }
      return send(batch.header, batch.segments);
    })();
    if (ahead) own.waiting = batch;
    const state = { settled: false };
    own.busy = state;
    this.#lines.set(conversationId, own);
    const settle = () => {
      state.settled = true;
      if (own.busy === state) this.#lines.delete(conversationId);
    };
    batch.done.then(settle, settle);
    keepAlive(batch.done.catch(() => undefined));
    return batch.done.then((counts) => counts[0]!);
  }
}
