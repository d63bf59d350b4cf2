/**
 * `npm run bench:compare`: two or more versions of the stack side by side, in short cells that take
 * turns, so each pair of cells ran seconds apart.
 *
 * Runs of `npm run bench` minutes apart are no comparison on these machines: the same build ran
 * 1.7× faster in one run than in the next (BENCHMARKS.md, "Comparing versions"). Here every version
 * gets its own workerd with fresh state, started once, and the cells alternate A B C, C B A, … The
 * result is the ratio of each version to the first within each round, and its median.
 *
 *   npm run bench:compare -- HEAD~1 .                         # a commit against the working tree
 *   npm run bench:compare -- . ../patched --events 20 --scenario hot --concurrency 1 --rounds 8
 *
 * A version is a git ref (built from `git archive`) or a directory holding a checkout.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EventFactory, type Spread } from "./events.ts";
import { acknowledged, percentile, runLoad } from "./load.ts";
import { RuntimeLog, appBindings, buildBundle, exportRef, migrate, sampleProcess, seedDemo, startApp, type Runtime } from "./stack.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const { values: args, positionals: versions } = parseArgs({
  allowPositionals: true,
  options: {
    events: { type: "string", default: "1" },
    scenario: { type: "string", default: "spread" },
    concurrency: { type: "string", default: "16" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "6" },
    conversations: { type: "string", default: "1000" },
    // MIRROR_CHECK_MS (durable-objects/conversation.ts) is 30 s; a little more lets it pass.
    settle: { type: "string", default: "35" },
  },
});

if (versions.length < 2) {
  console.error("usage: npm run bench:compare -- <version> <version> [...] [--events n] [--scenario spread|hot] [--concurrency n] [--seconds s] [--rounds n] [--settle s]");
  console.error("a version is a git ref or a checkout's directory; the first is the reference");
  process.exit(2);
}

const secrets = { appSecret: "bench-app-secret", verifyToken: "bench-verify-token", apiToken: "bench-api-token" };
const perPost = Number(args.events);
const scenario = args.scenario as Spread;
const connections = Number(args.concurrency);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);

type Measured = { reqPerSec: number; cpuMsPerReq: number; p99: number };
type Version = { name: string; app: Runtime; url: string; rate: number; cells: Measured[] };

const work = mkdtempSync(join(tmpdir(), "wechatting-compare-"));
const started: Version[] = [];

/** A checkout to build: a directory as it is, or a ref exported with its web app built. */
async function sourceOf(version: string, i: number): Promise<string> {
  if (existsSync(version)) {
    const dir = resolve(version);
    if (!existsSync(join(dir, "node_modules"))) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    return dir;
  }
  return exportRef(ROOT, version, join(work, `source-${i}`));
}

async function start(version: string, i: number, factory: EventFactory): Promise<void> {
  const source = await sourceOf(version, i);
  const script = await buildBundle(source, join(work, `bundle-${i}`));
  const app = await startApp(script, join(work, `state-${i}`), appBindings(source, secrets), new RuntimeLog(version));
  // Listed before anything else can fail, so `finally` stops its workerd.
  const entry = { name: version, app, url: new URL("/webhooks/meta", app.url).href, rate: 0, cells: [] as Measured[] };
  started.push(entry);
  await migrate(app.mf, source);
  await seedDemo(app.mf);
  const { url } = entry;
  if (scenario === "spread") {
    // Existing conversations, as in `npm run bench`.
    const posts = factory.primePosts(1000 * (i + 1), 20);
    await runLoad({ url, connections: 16, posts, amount: posts.length, maxSeconds: 120 });
  }
  const warm = await runLoad({ url, connections, posts: factory.posts(100 * (i + 1), scenario, perPost, 1000), amount: 1000, maxSeconds: 60 });
  entry.rate = warm.reqPerSec;
}

async function measure(version: Version, factory: EventFactory, cellId: number): Promise<Measured> {
  const amount = Math.max(200, Math.round(version.rate * seconds));
  const posts = factory.posts(cellId, scenario, perPost, amount);
  const before = sampleProcess(version.app.pid);
  const result = await runLoad({ url: version.url, connections, posts, amount, maxSeconds: seconds * 10 });
  const after = sampleProcess(version.app.pid);
  const unacknowledged = Array.from(result.statusOf.subarray(0, result.sent)).filter((s) => !acknowledged(s)).length + (amount - result.sent);
  if (unacknowledged > 0) console.log(`  ${version.name}: ${unacknowledged} of ${amount} POSTs not acknowledged`);
  return {
    // Only acknowledged POSTs count: Meta delivers the others again.
    reqPerSec: result.elapsedMs > 0 ? (result.ok / result.elapsedMs) * 1000 : 0,
    cpuMsPerReq: before && after ? (after.cpuMs - before.cpuMs) / result.answered : Number.NaN,
    p99: result.latencyMs.p99,
  };
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length % 2 ? percentile(sorted, 0.5) : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
const range = (xs: readonly number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

try {
  const factory = new EventFactory(secrets.appSecret, Number(args.conversations));
  for (const [i, version] of versions.entries()) await start(version, i, factory);
  // Every conversation a version's priming touched checks its D1 mirror once, 30 s later, all at
  // once. Versions are primed one after the other, so without this wait each version's burst would
  // land in a different round and count against it alone.
  console.log(`waiting ${args.settle} s for the priming's D1 mirror checks to pass`);
  await new Promise((resolve) => setTimeout(resolve, Number(args.settle) * 1000));
  console.log(`${scenario}, ${perPost} ev/POST, ${connections} senders, ${seconds} s cells, ${rounds} rounds`);
  let cellId = 1_000_000;
  for (let round = 1; round <= rounds; round++) {
    // Alternating the order spreads a drifting machine evenly over the versions.
    for (const version of round % 2 ? started : [...started].reverse()) version.cells.push(await measure(version, factory, ++cellId));
    console.log(`round ${round}: ${started.map((v) => `${v.name} ${v.cells.at(-1)!.reqPerSec.toFixed(0)} req/s`).join(" | ")}`);
  }
  const [reference] = started as [Version];
  for (const version of started) {
    const ratios = version.cells.map((cell, i) => cell.reqPerSec / reference.cells[i]!.reqPerSec);
    console.log(
      `${version.name}: ${median(version.cells.map((c) => c.reqPerSec)).toFixed(0)} req/s (${range(version.cells.map((c) => c.reqPerSec), 0)}), ` +
        `workerd CPU ${median(version.cells.map((c) => c.cpuMsPerReq)).toFixed(2)} ms/req, p99 ${median(version.cells.map((c) => c.p99)).toFixed(1)} ms` +
        (version === reference ? " (reference)" : `, ×${median(ratios).toFixed(2)} the reference (rounds ${range(ratios, 2)})`),
    );
  }
} finally {
  for (const version of started) await version.app.mf.dispose();
  rmSync(work, { recursive: true, force: true });
}
