/**
 * @module
 * The runtime under test: the WeChatting bundle exactly as `wrangler deploy` would upload it, run by
 * workerd through Miniflare's API (no `wrangler dev` proxy in front), with D1 and the SQLite-backed
 * Durable Objects persisted to a fresh directory; and a bare Worker on the same workerd build.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import type { memberships } from "../workers/db/schema.ts";
import { demoChannels, demoWorkspace } from "../workers/demo-workspace.ts";
import { d1, type D1 } from "./verify.ts";

/** wrangler.toml's compatibility_date. */
export const COMPATIBILITY_DATE = "2026-08-15";

export type Secrets = { appSecret: string; verifyToken: string; apiToken: string };

export type Runtime = {
  mf: Miniflare;
  /** The Worker's direct socket (no Miniflare entry Worker in between). */
  url: URL;
  /** The workerd process serving this instance (Linux), for CPU and I/O accounting. */
  pid: number | null;
};

/**
 * Exports a committed version (`git archive <ref>`) into `dir`, with the working tree's node_modules
 * linked in and its inbox built (the deploy bundle needs `web/dist`), so a version can be benchmarked
 * while the working tree is mid-edit or to compare versions.
 */
export async function exportRef(root: string, ref: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await run("sh", ["-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "sh", root, ref, dir], root);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  await run(process.execPath, ["web/build.ts"], dir);
  return dir;
}

async function run(command: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => output.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => output.push(d.toString()));
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${command} ${argv.join(" ")} failed (exit ${code}):\n${output.join("")}`);
  return output.join("");
}

/** `wrangler deploy --dry-run --outdir`: the bundle that would be deployed. Returns its entry module. */
export async function buildBundle(root: string, outdir: string): Promise<string> {
  const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  await run(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], root, {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_LOG: "warn",
    CI: "1",
    FORCE_COLOR: "0",
  });
  return join(outdir, "index.js");
}

/** The `[vars]` of wrangler.toml (string values only, which is all it has). */
export function wranglerVars(root: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const raw of readFileSync(join(root, "wrangler.toml"), "utf8").split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) inVars = line === "[vars]";
    else if (inVars) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(line);
      if (m) vars[m[1]!] = JSON.parse(`"${m[2]!}"`) as string;
    }
  }
  return vars;
}

/**
 * The Worker's console output (workerd structured logs): counted, and the first lines echoed to
 * stderr, so a failing mirror flush or a 5xx cause shows up without flooding the terminal.
 */
export class RuntimeLog {
  readonly lines: { level: string; message: string }[] = [];
  readonly label: string;
  constructor(label: string) {
    this.label = label;
  }
  readonly handle = (entry: { level: string; message: string }): void => {
    this.lines.push({ level: entry.level, message: entry.message });
    if (this.lines.length <= 10) process.stderr.write(`[${this.label} ${entry.level}] ${entry.message}\n`);
    else if (this.lines.length === 11) process.stderr.write(`[${this.label}] (further runtime log lines are only counted)\n`);
  };
  count(levels: readonly string[] = ["warn", "error"]): number {
    return this.lines.filter((l) => levels.includes(l.level)).length;
  }
}

/**
 * Options both instances share. Load goes to a direct socket of the Worker (`unsafeDirectSockets`),
 * not to Miniflare's entry socket: the entry Worker Miniflare puts in front (request.cf, pretty error
 * pages, routing) costs more than a bare Worker itself (≈ 2,000–2,600 instead of ≈ 7,500–9,000 req/s
 * measured here), and production has nothing like it. `cf: false` keeps Miniflare off the network.
 */
const SHARED = {
  host: "127.0.0.1",
  port: 0,
  compatibilityDate: COMPATIBILITY_DATE,
  logRequests: false,
  telemetry: { enabled: false },
  cf: false,
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
};

/**
 * The stack's bindings: wrangler.toml's [vars], local-development values for the secrets the Worker
 * declares (workers/env.ts), and the benchmark's own Meta secret and API key. Both generations of
 * the read API's credential are set (API_TOKEN, and OPERATOR_KEY_SHA256 for the same key).
 */
export function appBindings(root: string, secrets: Secrets): Record<string, string> {
  return {
    ...wranglerVars(root),
    SESSION_SECRET: "bench-session-secret-not-for-production",
    PASSWORD_PEPPER: "bench-password-pepper-not-for-production",
    MAIL_MODE: "dev",
    META_APP_SECRET: secrets.appSecret,
    META_VERIFY_TOKEN: secrets.verifyToken,
    API_TOKEN: secrets.apiToken,
    OPERATOR_KEY_SHA256: createHash("sha256").update(secrets.apiToken).digest("hex"),
  };
}

export async function startApp(
  scriptPath: string,
  persistDir: string,
  bindings: Record<string, string>,
  log: RuntimeLog,
  /** Opens V8's inspector on this port (bench/profile.ts). */
  inspectorPort?: number,
): Promise<Runtime> {
  const before = workerdChildren();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...SHARED,
      ...(inspectorPort ? { inspectorPort } : {}),
      log: new Log(LogLevel.WARN),
      handleStructuredLogs: log.handle,
      modules: true,
      scriptPath,
      modulesRoot: join(scriptPath, ".."),
      resourcePersistencePath: persistDir,
      d1Databases: { DB: "wechatting-bench" },
      durableObjects: {
        CONVERSATION: { className: "Conversation", useSQLite: true },
        INBOX: { className: "Inbox", useSQLite: true },
      },
      bindings,
    }),
  );
  return started(mf, before);
}

/** The baseline: read the whole body, answer 200. */
export const BARE_WORKER = `export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response("ok");
  },
};`;

/** A Worker given as source, in a workerd of its own; `extra` adds bindings, objects and storage. */
async function startScript(script: string, log: RuntimeLog, extra: Record<string, unknown> = {}): Promise<Runtime> {
  const before = workerdChildren();
  const mf = new Miniflare(
    convertV4MiniflareOptions({ ...SHARED, log: new Log(LogLevel.WARN), handleStructuredLogs: log.handle, modules: true, script, ...extra }),
  );
  return started(mf, before);
}

export const startBare = (log: RuntimeLog): Promise<Runtime> => startScript(BARE_WORKER, log);

/**
 * The durable floor: the least a Worker can do and still answer 200 only once each event is durable
 * in its conversation's Durable Object, like the throwaway prototype of issue 2. It verifies the
 * signature (key imported once), parses the JSON, and per customer makes one RPC to an object that
 * dedupes the message ids and bumps a sequence in one SQLite transaction. No normalising, routing,
 * D1 mirror, live feed or statuses. What it reaches on this machine is what the local runtime allows
 * for a durable write per event; the stack's rate is read against it.
 */
export const FLOOR_WORKER = `import { DurableObject } from "cloudflare:workers";
let key;
export class Floor extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, seq INTEGER NOT NULL); CREATE TABLE IF NOT EXISTS state (seq INTEGER NOT NULL); INSERT INTO state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM state)");
  }
  write(ids) {
    const sql = this.ctx.storage.sql;
    let stored = 0;
    this.ctx.storage.transactionSync(() => {
      for (const id of ids) {
        const written = sql.exec("INSERT INTO messages (id, seq) SELECT ?, seq + 1 FROM state WHERE true ON CONFLICT (id) DO NOTHING", id).rowsWritten;
        if (written > 0) sql.exec("UPDATE state SET seq = seq + 1");
        stored += written;
      }
    });
    return stored;
  }
}
export default {
  async fetch(request, env) {
    const body = await request.arrayBuffer();
    key ??= await crypto.subtle.importKey("raw", new TextEncoder().encode(env.META_APP_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    const hex = (request.headers.get("x-hub-signature-256") ?? "").replace(/^sha256=/, "");
    const signature = new Uint8Array(hex.length / 2).map((_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
    if (hex.length !== 64 || !(await crypto.subtle.verify("HMAC", key, signature, body))) return new Response("bad signature", { status: 401 });
    const ids = new Map();
    for (const entry of JSON.parse(new TextDecoder().decode(body)).entry) {
      for (const change of entry.changes) for (const m of change.value.messages ?? []) ids.set(m.from, [...(ids.get(m.from) ?? []), m.id]);
    }
    await Promise.all([...ids].map(([from, list]) => env.FLOOR.get(env.FLOOR.idFromName(from)).write(list)));
    return new Response("ok");
  },
};`;

export const startFloor = (persistDir: string, appSecret: string, log: RuntimeLog): Promise<Runtime> =>
  startScript(FLOOR_WORKER, log, {
    durableObjects: { FLOOR: { className: "Floor", useSQLite: true } },
    resourcePersistencePath: persistDir,
    bindings: { META_APP_SECRET: appSecret },
  });

async function started(mf: Miniflare, before: Set<number>): Promise<Runtime> {
  try {
    await mf.ready;
    const url = await mf.unsafeGetDirectURL();
    const fresh = [...workerdChildren()].filter((pid) => !before.has(pid));
    return { mf, url, pid: fresh.length === 1 ? fresh[0]! : null };
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
}

/** Applies migrations/*.sql (drizzle-kit output, statements split by `--> statement-breakpoint`). */
export async function migrate(mf: Miniflare, root: string): Promise<number> {
  const db = await mf.getD1Database("DB");
  const dir = join(root, "migrations");
  let count = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = readFileSync(join(dir, file), "utf8")
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (statements.length === 0) continue;
    await db.batch(statements.map((s) => db.prepare(s)));
    count += statements.length;
  }
  return count;
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** An INSERT of one row whose keys are the drizzle table's camelCase column names. */
function insertRow(db: D1, table: string, row: Record<string, unknown>) {
  const keys = Object.keys(row);
  return db
    .prepare(`INSERT INTO ${table} (${keys.map(snake).join(", ")}) VALUES (${keys.map((_, i) => `?${i + 1}`).join(", ")})`)
    .bind(...keys.map((k) => row[k] ?? null));
}

/** Inserts the demo workspace and its channels (workers/demo-workspace.ts), as `npm start` seeds them. */
export async function seedDemo(mf: Miniflare): Promise<void> {
  const db = await mf.getD1Database("DB");
  await db.batch([insertRow(db, "workspaces", demoWorkspace), ...demoChannels.map((c) => insertRow(db, "channels", c))]);
}

/** Makes a signed-up user a member of the demo workspace (what an owner's invitation would do). */
export async function joinDemo(mf: Miniflare, userId: string, role: (typeof memberships.$inferInsert)["role"]): Promise<void> {
  const db = await mf.getD1Database("DB");
  const row = { workspaceId: demoWorkspace.id, userId, role, createdAt: Date.now() } satisfies typeof memberships.$inferInsert;
  await d1(() => insertRow(db, "memberships", row).run());
}

/** workerd processes started by this Node process. */
function workerdChildren(): Set<number> {
  const pids = new Set<number>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        const comm = stat.slice(stat.indexOf("(") + 1, close);
        const ppid = Number(stat.slice(close + 2).split(" ")[1]);
        if (ppid === process.pid && comm.startsWith("workerd")) pids.add(Number(entry));
      } catch {
        // the process ended while listing
      }
    }
  } catch {
    // no /proc (not Linux): no per-process accounting
  }
  return pids;
}

export type ProcessSample = { cpuMs: number; systemMs: number; writeBytes: number | null };

/** CPU time (user + system, all threads) and bytes written to storage by a process so far. */
export function sampleProcess(pid: number | null): ProcessSample | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in clock ticks of 1/100 s.
    const systemMs = Number(fields[12]) * 10;
    const cpuMs = Number(fields[11]) * 10 + systemMs;
    let writeBytes: number | null = null;
    try {
      const io = readFileSync(`/proc/${pid}/io`, "utf8");
      const match = /^write_bytes:\s*(\d+)/m.exec(io);
      writeBytes = match ? Number(match[1]) : null;
    } catch {
      // /proc/<pid>/io may be unreadable
    }
    return { cpuMs, systemMs, writeBytes };
  } catch {
    return null;
  }
}

export type SystemSample = {
  busyMs: number;
  iowaitMs: number;
  /** CPU time of kernel threads (journal commits, block I/O workers: mostly caused by our fsyncs). */
  kernelThreadsMs: number;
};

/** Machine-wide CPU time spent busy and waiting for I/O so far (all cores, from /proc/stat). */
export function sampleSystem(): SystemSample | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const [, user, nice, system, , iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    let kernelThreadsMs = 0;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // Kernel threads: kthreadd (pid 2) and its children.
        if (entry === "2" || fields[1] === "2") kernelThreadsMs += (Number(fields[11]) + Number(fields[12])) * 10;
      } catch {
        // ended meanwhile
      }
    }
    return { busyMs: (user! + nice! + system! + irq! + softirq! + steal!) * 10, iowaitMs: iowait! * 10, kernelThreadsMs };
  } catch {
    return null;
  }
}

/** CPU time of this Node process (autocannon, body generation, polling). */
export function nodeCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
