/**
 * @module
 * The pieces of a local WeChatting stack, shared by `npm start` (scripts/start.ts) and the browser
 * tests (test/browser/): the local variables the Worker runs with, one-shot wrangler commands,
 * `wrangler dev` and the Graph API simulator as child processes, and waiting until the Worker answers.
 * `persistTo` keeps a stack's D1 and Durable Object state in its own directory (tests use a fresh one).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "..");
const require = createRequire(import.meta.url);

/** wrangler's CLI entry, run with this very Node (22, from devDependencies) whatever is on PATH. */
export const WRANGLER = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

export const baseEnv = {
  ...process.env,
  // No telemetry prompts/requests and no local observability UI from a scripted run.
  WRANGLER_SEND_METRICS: "false",
  X_LOCAL_OBSERVABILITY: "false",
  // Request.cf is a placeholder locally anyway; skip the download (and its warning when offline).
  CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
};

const env = (name: string, fallback: string) => {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
};

/**
 * Non-secret local defaults, each overridable by the same-named environment variable; the Worker
 * talks to the Graph API simulator on `graphOrigin` instead of Meta.
 */
export function localVars(graphOrigin: string, vault: { VAULT_MASTER_KEYS: string; VAULT_ACTIVE_KEY_ID: string }): Record<string, string> {
  const vars: Record<string, string> = {
    META_APP_SECRET: env("META_APP_SECRET", "dev-app-secret"),
    META_VERIFY_TOKEN: env("META_VERIFY_TOKEN", "dev-verify-token"),
    OPERATOR_KEY_SHA256: createHash("sha256").update(env("OPERATOR_KEY", "dev-operator-key")).digest("hex"),
    SESSION_SECRET: env("SESSION_SECRET", "dev-session-secret-not-for-production"),
    PASSWORD_PEPPER: env("PASSWORD_PEPPER", "dev-password-pepper-not-for-production"),
    MAIL_MODE: "dev",
    ...vault,
    GRAPH_API_BASE: `${graphOrigin}/graph.facebook.com/v25.0`,
    INSTAGRAM_GRAPH_BASE: `${graphOrigin}/graph.instagram.com/v25.0`,
    INSTAGRAM_API_BASE: `${graphOrigin}/api.instagram.com`,
    FACEBOOK_DIALOG_BASE: `${graphOrigin}/www.facebook.com/v25.0`,
    INSTAGRAM_AUTHORIZE_BASE: `${graphOrigin}/www.instagram.com`,
    META_MEDIA_BASE: graphOrigin,
    WA_EMBEDDED_SIGNUP_CONFIG_ID: env("WA_EMBEDDED_SIGNUP_CONFIG_ID", "700000000000001"),
    META_APP_ID: env("META_APP_ID", "600000000000001"),
    INSTAGRAM_APP_ID: env("INSTAGRAM_APP_ID", "610000000000001"),
    INSTAGRAM_APP_SECRET: env("INSTAGRAM_APP_SECRET", "dev-instagram-app-secret"),
  };
  if (process.env.META_APP_SECRET_PREVIOUS) vars.META_APP_SECRET_PREVIOUS = process.env.META_APP_SECRET_PREVIOUS;
  return vars;
}

/** Runs a one-shot wrangler command without a TTY (CI=true answers its prompts with the default). */
export function wrangler(args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: root, env: { ...baseEnv, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

const persistArgs = (persistTo?: string) => (persistTo ? ["--persist-to", persistTo] : []);

export const applyMigrations = (persistTo?: string) =>
  wrangler(["d1", "migrations", "apply", "DB", "--local", ...persistArgs(persistTo)], "wrangler d1 migrations apply DB --local");

export const executeSqlFile = (file: string, persistTo?: string) =>
  wrangler(["d1", "execute", "DB", "--local", "--yes", "--file", file, ...persistArgs(persistTo)], "wrangler d1 execute DB --local");

/** A long-running child in its own process group, so the caller's signal handling stays its own. */
export function startChild(args: string[], stdio: "inherit" | "ignore" | "pipe" = "inherit"): ChildProcess {
  return spawn(process.execPath, args, { cwd: root, env: baseEnv, stdio: ["ignore", stdio, stdio], detached: true });
}

/** `webhookUrl`: where the simulator POSTs the status webhooks of what the Worker sends. */
export function graphSimulatorArgs(port: number, vars: Record<string, string>, webhookUrl: string): string[] {
  return [
    path.join(root, "scripts/graph-server.ts"),
    "--port",
    String(port),
    "--app-id",
    vars.META_APP_ID!,
    "--app-secret",
    vars.META_APP_SECRET!,
    "--instagram-app-id",
    vars.INSTAGRAM_APP_ID!,
    "--instagram-app-secret",
    vars.INSTAGRAM_APP_SECRET!,
    "--webhook-url",
    webhookUrl,
    // The inbox is served by the same Worker as the webhooks, opened as 127.0.0.1 or as localhost.
    ...[webhookUrl, webhookUrl.replace("//127.0.0.1:", "//localhost:")].flatMap((url) => ["--redirect-uri", `${new URL(url).origin}/oauth/callback`]),
    "--quiet",
  ];
}

/** `wrangler dev` on `port`, through scripts/dev-server.ts (which says why it is not the CLI). */
export function devServerArgs(port: number, vars: Record<string, string>, persistTo?: string): string[] {
  return [
    path.join(root, "scripts/dev-server.ts"),
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--log-level",
    "warn",
    ...persistArgs(persistTo),
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
}

/** Signals a child's whole process group (wrangler runs workerd under it). */
export function signalGroup(child: ChildProcess, sig: NodeJS.Signals) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

export function waitUntilUp(origin: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const attempt = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error("wrangler dev exited before it answered");
    try {
      // Any HTTP answer means the Worker is serving (the API may well say 401/404 here).
      await fetch(`${origin}/api/openapi.json`, { signal: AbortSignal.timeout(2000) });
    } catch {
      if (Date.now() > deadline) throw new Error(`wrangler dev did not answer on ${origin} within ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 400));
      return attempt();
    }
  };
  return attempt();
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
