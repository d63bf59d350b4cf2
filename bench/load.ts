/**
 * @module
 * One bounded load run with autocannon: `amount` pre-built POSTs over `connections` keep-alive
 * connections (one request in flight per connection), so the run ends when every request has been
 * answered and nothing is left in flight. Every request is accounted for individually (which POST,
 * which status, its latency), so the verification knows exactly which events were acknowledged.
 */
import { performance } from "node:perf_hooks";
import autocannon, { type Request as AutocannonRequest, type Result as AutocannonResult } from "autocannon";
import type { SignedPost } from "./events.ts";

export type LoadOptions = {
  url: string;
  connections: number;
  posts: readonly SignedPost[];
  /** Requests to send; posts are reused round-robin when there are fewer (bare Worker only). */
  amount: number;
  /** Stop the run (leaving requests unanswered) if it takes longer than this. */
  maxSeconds: number;
  /** Per-request timeout, seconds. */
  timeoutSeconds?: number;
  /**
   * Requests per second over all connections (autocannon's `overallRate`); unset: as fast as the
   * connections are answered. Latency is then measured from when each request was actually written.
   */
  rate?: number;
};

export type LoadResult = {
  connections: number;
  sent: number;
  answered: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Whether the safety stop ended the run before every request was answered. */
  stoppedEarly: boolean;
  /** Milliseconds from the first request written to the last response read. */
  elapsedMs: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Status per request index (0 = no response). */
  statusOf: Int16Array;
  /** performance.now() of the last response. */
  endedAt: number;
};

/** Whether a webhook POST was acknowledged: Meta delivers again whatever is not answered 2xx. */
export const acknowledged = (status: number): boolean => status >= 200 && status < 300;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { posts, amount } = options;
  const connections = Math.min(options.connections, amount);
  const statusOf = new Int16Array(amount);
  const startOf = new Float64Array(amount);
  const latencies: number[] = [];
  let next = 0;
  let firstSend = Number.POSITIVE_INFINITY;
  let lastResponse = 0;

  const request: AutocannonRequest = {
    method: "POST",
    path: new URL(options.url).pathname,
    setupRequest(req, context) {
      const i = next++;
      const post = posts[i % posts.length]!;
      context.i = i;
      const now = performance.now();
      startOf[i] = now;
      if (now < firstSend) firstSend = now;
      return { ...req, body: post.body, headers: post.headers };
    },
    onResponse(status, _body, context) {
      const now = performance.now();
      const i = context.i as number;
      statusOf[i] = status;
      latencies.push(now - startOf[i]!);
      lastResponse = now;
    },
  };

  let stoppedEarly = false;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections,
        pipelining: 1,
        amount,
        timeout: options.timeoutSeconds ?? 30,
        sampleInt: 50,
        ...(options.rate ? { overallRate: options.rate } : {}),
        requests: [request],
      },
      (error, res) => {
        clearTimeout(guard);
        if (error) reject(error);
        else resolve(res);
      },
    );
    const guard = setTimeout(() => {
      stoppedEarly = true;
      instance.stop();
    }, options.maxSeconds * 1000);
  });

  const sent = Math.min(next, amount);
  let answered = 0;
  let ok = 0;
  const statuses: Record<string, number> = {};
  for (let i = 0; i < sent; i++) {
    const s = statusOf[i]!;
    if (s === 0) continue;
    answered++;
    if (acknowledged(s)) ok++;
    statuses[s] = (statuses[s] ?? 0) + 1;
  }
  // The first requests of each connection are built while autocannon sets up its clients, before
  // the socket connects; they are included (connect on loopback costs well under a millisecond).
  const elapsedMs = answered > 0 ? lastResponse - firstSend : 0;
  latencies.sort((a, b) => a - b);
  return {
    connections,
    sent,
    answered,
    ok,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    stoppedEarly,
    elapsedMs,
    reqPerSec: elapsedMs > 0 ? (answered / elapsedMs) * 1000 : 0,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p90: percentile(latencies, 0.9),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
      mean: latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
    },
    statusOf,
    endedAt: lastResponse,
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
