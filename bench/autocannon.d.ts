/**
 * The part of autocannon 9's programmatic API the benchmark uses (the package ships no types).
 * See node_modules/autocannon/README.md, "autocannon(opts[, cb])".
 */
declare module "autocannon" {
  export interface RequestParams {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | Uint8Array;
  }

  export interface Request extends RequestParams {
    /** Called before every request; `context` is per connection and reset between requests. */
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams | null | undefined;
    /** Called with every response (status, body as text, the connection's context, headers). */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, unknown>) => void;
  }

  export interface Options {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds (ignored when `amount` is set). */
    duration?: number;
    /** Total requests; the run ends after all of them were answered. */
    amount?: number;
    /** Requests per second over all connections (no limit by default). */
    overallRate?: number;
    /** Seconds per request before it counts as a timeout. */
    timeout?: number;
    /** Milliseconds between samples (the run's end is noticed at the next sample). */
    sampleInt?: number;
    method?: string;
    headers?: Record<string, string>;
    requests?: Request[];
    excludeErrorStats?: boolean;
    skipAggregateResult?: boolean;
  }

  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
    [percentile: string]: number;
  }

  export interface Result {
    latency: Histogram;
    requests: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    duration: number;
    start: Date;
    finish: Date;
    "1xx": number;
    "2xx": number;
    "3xx": number;
    "4xx": number;
    "5xx": number;
    statusCodeStats: Record<string, { count: number }>;
  }

  export interface Instance {
    stop(): void;
    on(event: "done", listener: (result: Result) => void): this;
  }

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
