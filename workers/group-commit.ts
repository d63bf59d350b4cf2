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
/** `busy` settles when the newest batch has; `waiting` is the batch that goes after the call in flight. */
type Line = { busy: Promise<void>; waiting: Batch | null };

/**
 * Awaits a promise another request settles, and continues in this request. Its reactions run while
 * the settling request runs: awaiting it directly, this request's Durable Object call sometimes
 * failed under load with "Cannot perform I/O on behalf of a different request" (I/O type
 * SpanParent), made under the other request with this one's trace context. A promise made here and
 * resolved from there is handed back to this request by the runtime, so everything after the wait
 * runs here. Waiting on no I/O of its own, this request would also look hung to the runtime, which
 * cancels such requests: a pending timer keeps it open meanwhile.
 */
function awaitOther<T>(promise: Promise<T>): Promise<T> {
  const timer = setTimeout(() => undefined, 60_000);
  return new Promise<T>((resolve, reject) => {
    promise.then(resolve, reject);
  }).finally(() => clearTimeout(timer));
}

export class GroupCommit {
  readonly #lines = new Map<string, Line>();

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
        await awaitOther(ahead);
        own.waiting = null;
      }
      return send(batch.header, batch.segments);
    })();
    if (ahead) own.waiting = batch;
    const settled = batch.done.then(
      () => undefined,
      () => undefined,
    );
    own.busy = settled;
    this.#lines.set(conversationId, own);
    void settled.then(() => {
      if (own.busy === settled) this.#lines.delete(conversationId);
    });
    keepAlive(batch.done.catch(() => undefined));
    return batch.done.then((counts) => counts[0]!);
  }
}
