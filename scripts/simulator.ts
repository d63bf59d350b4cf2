/**
 * @module
 * Meta webhook simulator: POSTs realistic, signed webhook bodies to a WeChatting Worker.
 * `npm run simulate -- --help`. Generation lives in scripts/meta-simulator/{payloads,stream}.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { envelope, metaJson, productOfObject, signedRequest, type Product } from "./meta-simulator/payloads.ts";
import { ALL_KINDS, batchEvents, EventStream, generateEvents, resolveKinds, Rng } from "./meta-simulator/stream.ts";

const HELP = `Meta webhook simulator for WeChatting

Usage: npm run simulate -- [options]
       npm run simulate -- --replay <fixture.json|dir> [...]
       npm run simulate -- --demo

Target
  --url <url>            webhook endpoint (default http://127.0.0.1:8787/webhooks/meta)
  --secret <s>           app secret to sign with (default $META_APP_SECRET or dev-app-secret)
  --timeout <ms>         per-request timeout (default 10000)

Generated traffic
  --count N              events to generate (default 100)
  --batch K              events per POST, one product per POST (default 1; Meta batches up to 1000)
  --merge                fold WhatsApp changes of one WABA into one entry when batching
  --conversations M      distinct customers, spread over the demo channels (default 10)
  --kinds <list>         comma list: all | whatsapp|wa | instagram|ig | messenger|fb | wa.* |
                         exact kinds (ig.story_mention) | bare names for every product (text,echo)
                         (default all; see --list-kinds)
  --bsuid F              fraction of WhatsApp customers with a business-scoped user id; half of
                         them arrive without phone number (default 0.25)
  --seed S               seed for ids, texts, order and timing (default: random, printed)
  --start <ms|ISO>       timestamp of the first event (default: so that the last event is ~now)

Delivery
  --rate R               POSTs per second (default 0 = as fast as possible)
  --concurrency C        POSTs in flight at most (default 8)
  --duplicates P         fraction of POSTs delivered twice, the copy later (Meta retries) (default 0)
  --shuffle              shuffle events before batching (out-of-order delivery)
  --dry-run              print the POST bodies (Meta wire form, one per line) instead of sending

Other modes
  --replay <files...>    send fixture files byte for byte, signed (directories: every *.json
                         except meta-*.json callback vectors)
  --demo                 endless gentle stream: a handful of customers (or --conversations) on
                         WhatsApp, Instagram and Messenger chatting every few seconds, with business
                         replies, statuses, reads and reactions. Logs each event; never exits on errors.
  --list-kinds           print every kind and exit
  --quiet                only the summary line
  -h, --help

Exit status: 0 when every POST got 200, 1 otherwise (--demo runs until Ctrl-C).
Examples:
  npm run simulate -- --count 1000 --batch 20 --conversations 50 --duplicates 0.1 --shuffle
  npm run simulate -- --kinds wa.text,wa.status_read,ig.* --count 200 --rate 20
  npm run simulate -- --replay test/fixtures/meta/whatsapp-text.json
`;

interface Job {
  product: Product | "unknown";
  events: number;
  body: Uint8Array;
  label: string;
  duplicate: boolean;
}

interface Outcome {
  status: number;
  body: string;
  ms: number;
}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: "string", default: "http://127.0.0.1:8787/webhooks/meta" },
        secret: { type: "string", default: process.env.META_APP_SECRET || "dev-app-secret" },
        timeout: { type: "string", default: "10000" },
        count: { type: "string", default: "100" },
        batch: { type: "string", default: "1" },
        merge: { type: "boolean", default: false },
        conversations: { type: "string" },
        kinds: { type: "string", default: "all" },
        bsuid: { type: "string", default: "0.25" },
        seed: { type: "string" },
        start: { type: "string" },
        rate: { type: "string", default: "0" },
        concurrency: { type: "string", default: "8" },
        duplicates: { type: "string", default: "0" },
        shuffle: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        replay: { type: "boolean", default: false },
        demo: { type: "boolean", default: false },
        "list-kinds": { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`simulate: ${e instanceof Error ? e.message : String(e)}\n(see npm run simulate -- --help)`);
    process.exit(2);
  }
})();

function num(name: string, value: string | undefined, { min = 0, max = Number.POSITIVE_INFINITY, int = false } = {}): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
    console.error(`simulate: --${name} must be ${int ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (opts["list-kinds"]) {
  const byProduct = new Map<string, string[]>();
  for (const k of ALL_KINDS) {
    const [p, name] = k.split(".") as [string, string];
    byProduct.set(p, [...(byProduct.get(p) ?? []), name]);
  }
  for (const [p, names] of byProduct) console.log(`${p}: ${names.join(" ")}`);
  process.exit(0);
}

const url = opts.url;
const secret = opts.secret;
const timeoutMs = num("timeout", opts.timeout, { min: 1 });
const rate = num("rate", opts.rate);
const concurrency = num("concurrency", opts.concurrency, { min: 1, int: true });
const duplicates = num("duplicates", opts.duplicates, { max: 1 });
const seed = opts.seed ?? String(Math.floor(Math.random() * 2 ** 31));
const quiet = opts.quiet;

let kinds: string[];
try {
  kinds = resolveKinds(opts.kinds);
} catch (e) {
  console.error(`simulate: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
}

async function post(job: Job): Promise<Outcome> {
  const started = performance.now();
  const req = signedRequest(job.body, secret);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text, ms: performance.now() - started };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const reason = err.name === "TimeoutError" ? `timeout after ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { status: 0, body: reason, ms: performance.now() - started };
  }
}

const oneLine = (s: string, max = 160) => {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Sends jobs with at most `concurrency` in flight and, with `rate`, POST i no earlier than i/rate s. */
async function sendAll(jobs: Job[]): Promise<{ outcomes: Outcome[]; elapsed: number }> {
  const outcomes: Outcome[] = new Array(jobs.length);
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= jobs.length) return;
      if (rate > 0) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const job = jobs[i] as Job;
      const outcome = await post(job);
      outcomes[i] = outcome;
      if (!quiet && outcome.status !== 200) console.error(`✗ ${job.label}: ${outcome.status || "network error"} ${oneLine(outcome.body)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, worker));
  return { outcomes, elapsed: (performance.now() - t0) / 1000 };
}

/** Duplicates a fraction of the jobs; each copy goes to a random later position (like a Meta retry). */
function withDuplicates(jobs: Job[], rng: Rng): Job[] {
  if (duplicates <= 0) return jobs;
  const out = [...jobs];
  for (const job of jobs) {
    if (!rng.chance(duplicates)) continue;
    const at = out.indexOf(job);
    const pos = rng.int(at + 1, out.length);
    out.splice(pos, 0, { ...job, duplicate: true, label: `${job.label} (duplicate)` });
  }
  return out;
}

function summarise(jobs: Job[], outcomes: Outcome[], elapsed: number, extra: string): boolean {
  const statusCounts = new Map<string, number>();
  const failures = new Map<string, number>();
  let events = 0;
  let dups = 0;
  for (const [i, job] of jobs.entries()) {
    if (job.duplicate) dups++;
    else events += job.events;
    const o = outcomes[i];
    if (!o) continue;
    const key = o.status === 0 ? "network-error" : String(o.status);
    statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    if (o.status !== 200) {
      const f = `${key} ${JSON.stringify(oneLine(o.body, 120))}`;
      failures.set(f, (failures.get(f) ?? 0) + 1);
    }
  }
  const latencies = outcomes.filter(Boolean).map((o) => o.ms).sort((a, b) => a - b);
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  const statuses = [...statusCounts.entries()].map(([s, n]) => `${s}×${n}`).join(" ") || "none";
  const failText = failed ? ` FAILED ${failed}: ${[...failures.entries()].map(([f, n]) => `${n}× ${f}`).join("; ")}` : "";
  console.log(
    `simulate: ${jobs.length} POSTs (${dups} duplicates) carrying ${events} events to ${url} in ${elapsed.toFixed(2)}s ` +
      `(${(jobs.length / Math.max(elapsed, 1e-9)).toFixed(1)} POST/s, p50 ${percentile(latencies, 50).toFixed(0)}ms ` +
      `p99 ${percentile(latencies, 99).toFixed(0)}ms) → ${statuses}${failText}${extra}`,
  );
  return failed === 0;
}

// ---------------------------------------------------------------------------------------------

function replayFiles(args: string[]): string[] {
  const files: string[] = [];
  for (const arg of args) {
    const st = statSync(arg, { throwIfNoEntry: false });
    if (!st) {
      console.error(`simulate: no such file: ${arg}`);
      process.exit(2);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(arg).sort()) {
        if (name.endsWith(".json") && !name.startsWith("meta-")) files.push(path.join(arg, name));
      }
    } else files.push(arg);
  }
  return files;
}

function countEvents(body: unknown): number {
  const entries = (body as { entry?: unknown[] })?.entry;
  if (!Array.isArray(entries)) return 1;
  let n = 0;
  for (const e of entries as Record<string, unknown>[]) {
    for (const list of ["changes", "messaging", "standby"]) {
      const items = e?.[list];
      if (Array.isArray(items)) n += items.length;
    }
  }
  return n || 1;
}

async function replay(): Promise<never> {
  if (positionals.length === 0) {
    console.error("simulate: --replay needs at least one fixture file or directory");
    process.exit(2);
  }
  const rng = new Rng(seed);
  let jobs: Job[] = replayFiles(positionals).map((file) => {
    const raw = new Uint8Array(readFileSync(file));
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      parsed = undefined;
    }
    const product = productOfObject((parsed as { object?: unknown })?.object) ?? "unknown";
    return { product, events: countEvents(parsed), body: raw, label: path.basename(file), duplicate: false };
  });
  if (opts.shuffle) jobs = rng.shuffle(jobs);
  jobs = withDuplicates(jobs, rng);
  if (opts["dry-run"]) {
    for (const job of jobs) process.stdout.write(`${new TextDecoder().decode(job.body).trimEnd()}\n`);
    process.exit(0);
  }
  const { outcomes, elapsed } = await sendAll(jobs);
  if (!quiet) {
    for (const [i, job] of jobs.entries()) {
      const o = outcomes[i];
      if (o?.status === 200) console.log(`✓ ${job.label} → 200 ${oneLine(o.body, 80)}`);
    }
  }
  process.exit(summarise(jobs, outcomes, elapsed, ` | replay of ${positionals.join(" ")}`) ? 0 : 1);
}

function parseStart(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) {
    console.error(`simulate: --start must be epoch ms or an ISO date, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

async function generated(): Promise<never> {
  const count = num("count", opts.count, { min: 1, int: true });
  const batch = num("batch", opts.batch, { min: 1, int: true });
  const conversations = num("conversations", opts.conversations ?? "10", { min: 1, int: true });
  const bsuid = num("bsuid", opts.bsuid, { max: 1 });
  const base = { seed, conversations, kinds, bsuid, count };
  // Timestamps end about now unless --start pins them: generate once to measure the span.
  let startMs = parseStart(opts.start);
  if (startMs === undefined) {
    const probe = generateEvents({ ...base, startMs: 0 });
    startMs = Math.floor(Date.now() / 1000) * 1000 - Math.max(...probe.map((e) => e.ts));
  }
  let events = generateEvents({ ...base, startMs });
  const rng = new Rng(`${seed}/delivery`);
  if (opts.shuffle) events = rng.shuffle(events);
  const posts = batchEvents(events, batch, { merge: opts.merge });
  const jobs = withDuplicates(
    posts.map((p, i) => ({
      product: p.product,
      events: p.events.length,
      body: new TextEncoder().encode(metaJson(p.body)),
      label: `POST #${i + 1} (${p.product}, ${p.events.map((e) => e.kind).join(",")})`,
      duplicate: false,
    })),
    rng,
  );
  if (opts["dry-run"]) {
    for (const job of jobs) process.stdout.write(`${new TextDecoder().decode(job.body)}\n`);
    process.exit(0);
  }
  const { outcomes, elapsed } = await sendAll(jobs);
  const usedConversations = new Set(events.map((e) => e.conversation)).size;
  const ok = summarise(
    jobs,
    outcomes,
    elapsed,
    ` | seed=${seed} start=${startMs} conversations=${usedConversations} kinds=${kinds.length} batch=${batch}${opts.shuffle ? " shuffled" : ""}`,
  );
  process.exit(ok ? 0 : 1);
}

async function demo(): Promise<never> {
  const conversations = num("conversations", opts.conversations ?? "6", { min: 1, int: true });
  const bsuid = num("bsuid", opts.bsuid, { max: 1 });
  const stream = new EventStream({ seed, conversations, kinds, bsuid, clock: () => Date.now(), mode: "conversational" });
  const rng = new Rng(`${seed}/demo`);
  let posts = 0;
  let failures = 0;
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(0);
    stopping = true;
    console.log(`[demo] stopped after ${posts} POSTs (${failures} failed)`);
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const who = stream.conversations.map((c) => `${c.name ?? c.customerId} on ${c.product}`).join(", ");
  console.log(`[demo] ${conversations} customers (${who}) → ${url} (seed ${seed}); Ctrl-C to stop`);
  const label = { whatsapp: "WhatsApp ", instagram: "Instagram", messenger: "Messenger" } as const;
  for (;;) {
    const event = stream.next();
    const job: Job = {
      product: event.product,
      events: 1,
      body: new TextEncoder().encode(metaJson(envelope(event.product, [event.item]))),
      label: event.kind,
      duplicate: false,
    };
    const o = await post(job);
    posts++;
    const time = new Date().toTimeString().slice(0, 8);
    const name = event.customerName ?? stream.conversations[event.conversationIndex]?.name;
    const who = name ? `${name} (${event.customerId})` : event.customerId;
    if (o.status === 200) {
      if (!quiet) console.log(`[demo] ${time} ${label[event.product]} ${who}: ${oneLine(event.summary, 90)} → 200 ${o.ms.toFixed(0)}ms`);
    } else {
      failures++;
      console.error(`[demo] ${time} ${label[event.product]} ${who}: ${event.kind} → ${o.status || "network error"} ${oneLine(o.body, 160)}`);
    }
    const delay = rate > 0 ? 1000 / rate : rng.int(1500, 5000);
    await new Promise((r) => setTimeout(r, delay));
  }
}

if (positionals.length && !opts.replay) {
  console.error(`simulate: unexpected argument ${JSON.stringify(positionals[0])} (files need --replay)`);
  process.exit(2);
}
if (opts.replay) await replay();
else if (opts.demo) await demo();
else await generated();
