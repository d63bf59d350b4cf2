/**
 * `npm run bench:profile`: where workerd's CPU goes while it ingests webhooks.
 *
 * Starts the deploy bundle like `npm run bench` (workerd through Miniflare, fresh local state) with
 * V8's inspector open, records a CPU profile of the Worker's isolate (the Worker and its Durable
 * Objects share it) during one load cell, and prints the functions with the most self time, grouped
 * by module. Writes the raw profile (`bench/results/profile.cpuprofile`, for Chrome DevTools).
 *
 *   npm run bench:profile -- --events 1 --scenario spread --concurrency 16 --seconds 8
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EventFactory, type Spread } from "./events.ts";
import { runLoad } from "./load.ts";
import { RuntimeLog, appBindings, buildBundle, migrate, sampleProcess, seedDemo, startApp } from "./stack.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1" },
    scenario: { type: "string", default: "spread" },
    concurrency: { type: "string", default: "16" },
    seconds: { type: "string", default: "8" },
    conversations: { type: "string", default: "1000" },
    top: { type: "string", default: "45" },
    "inspector-port": { type: "string", default: "9329" },
    "no-profile": { type: "boolean", default: false },
  },
});

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

/** A minimal Chrome DevTools Protocol client over Node 22's WebSocket. */
async function inspect(port: number, match: (title: string) => boolean) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => match(t.title));
  if (!target) throw new Error(`no inspector target among ${targets.map((t) => t.title).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = fail;
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.error ? Promise.reject(new Error(JSON.stringify(message.error))) : message.result);
  };
  return {
    title: target.title,
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const n = ++id;
      ws.send(JSON.stringify({ id: n, method, params }));
      return new Promise<T>((ok) => waiting.set(n, ok as (r: unknown) => void));
    },
    close: () => ws.close(),
  };
}

function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.split("/").pop() || "(native)";
    const key = frameKey(frame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
    byModule.set(file, (byModule.get(file) ?? 0) + time);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
  const lines = [`samples: ${profile.samples.length}, ${(total / 1000).toFixed(0)} ms sampled, idle ${pct(idle)}`, "", "self time by function:"];
  for (const [key, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(time)}  ${key}`);
  lines.push("", "inclusive time by function (each sample counted once per function on its stack):");
  for (const [key, time] of [...inclusive(profile, byId)].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(time)}  ${key}`);
  lines.push("", "self time by module:");
  for (const [key, time] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`${pct(time)}  ${key}`);
  return lines.join("\n");
}

function frameKey({ functionName, url, lineNumber }: CallFrame): string {
  return `${functionName || "(anonymous)"}  ${url.split("/").pop() || "(native)"}:${lineNumber + 1}`;
}

/** Time spent in each function or anything it called, from the samples' stacks. */
function inclusive(profile: CpuProfile, byId: Map<number, ProfileNode>): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const totals = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) seen.add(frameKey(byId.get(id)!.callFrame));
    for (const key of seen) totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return totals;
}

async function main() {
  const perPost = Number(args.events);
  const spread = args.scenario as Spread;
  const connections = Number(args.concurrency);
  const seconds = Number(args.seconds);
  const port = Number(args["inspector-port"]);
  const secrets = { appSecret: "bench-app-secret", verifyToken: "bench-verify-token", apiToken: "bench-api-token" };
  const work = mkdtempSync(join(tmpdir(), "wechatting-profile-"));
  const script = await buildBundle(ROOT, join(work, "bundle"));
  const log = new RuntimeLog("stack");
  const app = await startApp(script, join(work, "state"), appBindings(ROOT, secrets), log, args["no-profile"] ? undefined : port);
  try {
    await migrate(app.mf, ROOT);
    await seedDemo(app.mf);
    const url = new URL("/webhooks/meta", app.url).toString();
    const factory = new EventFactory(secrets.appSecret, Number(args.conversations));
    // The conversations exist before measuring, as in `npm run bench`.
    const prime = await runLoad({ url, connections: 4, posts: factory.primePosts(0, 20), amount: factory.primePosts(0, 20).length, maxSeconds: 120 });
    console.error(`primed ${prime.ok} POSTs`);
    const warm = await runLoad({ url, connections, posts: factory.posts(1, spread, perPost, 2_000), amount: 2_000, maxSeconds: 60 });
    const amount = Math.max(500, Math.round(warm.reqPerSec * seconds));
    const posts = factory.posts(2, spread, perPost, amount);
    const inspector = args["no-profile"] ? null : await inspect(port, (t) => !t.includes("miniflare") && !t.includes("__"));
    if (inspector) {
      console.error(`profiling ${inspector.title}`);
      await inspector.send("Profiler.enable");
      await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
      await inspector.send("Profiler.start");
    }
    const cpuBefore = sampleProcess(app.pid);
    const result = await runLoad({ url, connections, posts, amount, maxSeconds: seconds * 6 });
    const cpuAfter = sampleProcess(app.pid);
    const cpuPerReq = cpuBefore && cpuAfter ? (cpuAfter.cpuMs - cpuBefore.cpuMs) / result.answered : Number.NaN;
    console.log(
      `${spread}, ${perPost} ev/POST, ${connections} senders: ${result.reqPerSec.toFixed(0)} req/s, ${(result.reqPerSec * perPost).toFixed(0)} events/s, ` +
        `p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms, workerd CPU ${cpuPerReq.toFixed(2)} ms/req, ` +
        `ok ${result.ok}/${result.sent} (warm-up ${warm.reqPerSec.toFixed(0)} req/s)`,
    );
    if (inspector) {
      const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
      inspector.close();
      const out = join(ROOT, "bench", "results");
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "profile.cpuprofile"), JSON.stringify(profile));
      console.log(summarise(profile, Number(args.top)));
    }
  } finally {
    await app.mf.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
