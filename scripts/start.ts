/**
 * @module
 * `npm start`: the whole local stack from a fresh clone (after `npm install`).
 *  1. applies the D1 migrations to the local database (non-interactive);
 *  2. seeds the demo workspace and its channels (workers/demo-workspace.ts) idempotently;
 *  3. starts the Worker in wrangler's dev server (scripts/dev-server.ts) on 127.0.0.1:$PORT (default 8787)
 *     with non-secret local defaults;
 *  4. once it answers, starts the Meta simulator in --demo mode against it (skip with --no-demo);
 *  5. prints the URLs and credentials in use.
 * Ctrl-C stops wrangler (and workerd under it) and the simulator.
 *
 * Local defaults (each overridable by the same-named environment variable): META_APP_SECRET=dev-app-secret,
 * META_VERIFY_TOKEN=dev-verify-token, OPERATOR_KEY=dev-operator-key (only its SHA-256 is passed), PORT=8787,
 * DEMO_PASSWORD (else a random one kept in .wrangler/demo-owner-password). They are passed with
 * `--var`, so no .dev.vars file is written (it would change the generated types).
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { hashPassword } from "../workers/auth/password.ts";
import { demoChannels, demoOwner, demoWorkspace } from "../workers/demo-workspace.ts";
import { connectDemoChannels } from "./connect-demo.ts";
import { POLICY_VERSION } from "../workers/privacy-policy.ts";
import {
  applyMigrations,
  executeSqlFile,
  graphSimulatorArgs,
  localVars,
  root,
  signalGroup,
  startChild as spawnChild,
  waitUntilUp,
  devServerArgs,
} from "./local-stack.ts";

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        "no-demo": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`start: ${e instanceof Error ? e.message : String(e)} (options: --no-demo, --help)`);
    process.exit(2);
  }
})();

if (flags.help) {
  console.log(`npm start [-- --no-demo]

Applies local D1 migrations, seeds the demo workspace, runs wrangler dev on 127.0.0.1:$PORT (8787)
and streams simulated Meta webhooks into it (unless --no-demo). Environment overrides:
PORT, META_APP_SECRET, META_APP_SECRET_PREVIOUS, META_VERIFY_TOKEN, OPERATOR_KEY, SESSION_SECRET,
PASSWORD_PEPPER, DEMO_PASSWORD.`);
  process.exit(0);
}

const env = (name: string, fallback: string) => {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
};
const port = Number(env("PORT", "8787"));
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`start: PORT must be a TCP port, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const origin = `http://127.0.0.1:${port}`;
const graphPort = Number(env("GRAPH_PORT", String(port + 1)));
const graphOrigin = `http://127.0.0.1:${graphPort}`;
const vars = localVars(graphOrigin, devVaultKeys());
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
const step = (s: string) => console.log(`${bold("▸")} ${s}`);

const sqlString = (v: string | number | null | undefined) =>
  v == null ? "NULL" : typeof v === "number" ? String(v) : `'${v.replaceAll("'", "''")}'`;

/**
 * Local vault master keys: VAULT_MASTER_KEYS / VAULT_ACTIVE_KEY_ID from the environment, else one
 * random key generated once and kept beside the local state (tokens sealed earlier stay readable).
 */
function devVaultKeys(): { VAULT_MASTER_KEYS: string; VAULT_ACTIVE_KEY_ID: string } {
  if (process.env.VAULT_MASTER_KEYS && process.env.VAULT_ACTIVE_KEY_ID) {
    return { VAULT_MASTER_KEYS: process.env.VAULT_MASTER_KEYS, VAULT_ACTIVE_KEY_ID: process.env.VAULT_ACTIVE_KEY_ID };
  }
  const file = path.join(root, ".wrangler", "dev-vault-keys.json");
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ "dev-1": randomBytes(32).toString("base64") }), { mode: 0o600 });
  }
  const keys = readFileSync(file, "utf8").trim();
  return { VAULT_MASTER_KEYS: keys, VAULT_ACTIVE_KEY_ID: Object.keys(JSON.parse(keys) as object).at(-1)! };
}

/** The demo owner's password: DEMO_PASSWORD, else one generated once and kept beside the local state. */
function demoPassword(): string {
  if (process.env.DEMO_PASSWORD) return process.env.DEMO_PASSWORD;
  const file = path.join(root, ".wrangler", "demo-owner-password");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const password = randomBytes(12).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * INSERT OR IGNORE for the demo workspace and channels: re-running never duplicates or overwrites.
 * The owner's password hash is always reset, so the printed password is the one that works.
 */
async function seedSql(password: string): Promise<string> {
  const now = Date.now();
  const hash = await hashPassword(password, vars.PASSWORD_PEPPER!);
  const lines = [
    `INSERT OR IGNORE INTO workspaces (id, name) VALUES (${sqlString(demoWorkspace.id)}, ${sqlString(demoWorkspace.name)});`,
    `INSERT INTO users (id, email, email_verified_at, name, password_hash, adult_confirmed_at, status, updated_at) VALUES (` +
      [demoOwner.id, demoOwner.email, now, demoOwner.name, hash, now, "active", now].map(sqlString).join(", ") +
      `) ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash;`,
    `INSERT OR IGNORE INTO policy_acceptances (user_id, version, accepted_at) VALUES (${[demoOwner.id, POLICY_VERSION, now].map(sqlString).join(", ")});`,
    `INSERT OR IGNORE INTO memberships (workspace_id, user_id, role, created_at) VALUES (${[demoWorkspace.id, demoOwner.id, "owner", now].map(sqlString).join(", ")});`,
  ];
  for (const c of demoChannels) {
    const waba = "wabaId" in c ? c.wabaId : null;
    const page = "pageId" in c ? c.pageId : null;
    lines.push(
      `INSERT OR IGNORE INTO channels (id, workspace_id, kind, external_id, waba_id, page_id, name, handle) VALUES (` +
        [c.id, c.workspaceId, c.kind, c.externalId, waba, page, c.name, c.handle].map(sqlString).join(", ") +
        `);`,
    );
  }
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Child processes and shutdown
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (shuttingDown) process.exit(code);
  shuttingDown = true;
  const alive = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  if (alive.length) console.log(dim("\nstopping…"));
  const exited = alive.map((c) => new Promise<void>((r) => c.once("exit", () => r())));
  for (const c of alive) signalGroup(c, "SIGINT");
  const timer = setTimeout(() => {
    for (const c of alive) signalGroup(c, "SIGKILL");
  }, 5000);
  await Promise.all(exited);
  clearTimeout(timer);
  process.exit(code);
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGHUP", () => void shutdown(0));

/** A long-running child in its own process group, so Ctrl-C handling stays ours and nothing leaks. */
function startChild(args: string[], name: string): ChildProcess {
  const child = spawnChild(args);
  children.add(child);
  child.on("exit", (code, sig) => {
    children.delete(child);
    if (!shuttingDown) console.error(`start: ${name} exited (${sig ?? `code ${code}`})`);
  });
  return child;
}

/** Fails early when something already listens on the port (we would otherwise talk to it). */
function assertPortFree(): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `port ${port} on 127.0.0.1 is already in use (another wrangler dev?). Stop it or run PORT=<free port> npm start`
            : `cannot listen on 127.0.0.1:${port}: ${e.message}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  await assertPortFree();
  step("Applying D1 migrations to the local database (.wrangler/state)…");
  await applyMigrations();

  step(`Seeding the demo workspace "${demoWorkspace.name}", its owner and ${demoChannels.length} channels…`);
  const password = demoPassword();
  const dir = mkdtempSync(path.join(tmpdir(), "wechatting-seed-"));
  try {
    const file = path.join(dir, "seed.sql");
    writeFileSync(file, await seedSql(password));
    await executeSqlFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  step(`Starting the Graph API simulator on ${graphOrigin}…`);
  // Status webhooks of what the inbox sends come back to this Worker, signed like Meta's.
  startChild(graphSimulatorArgs(graphPort, vars, `${origin}/webhooks/meta`), "the Graph API simulator");

  step(`Starting wrangler dev on ${origin}…`);
  const dev = startChild(devServerArgs(port, vars), "wrangler dev");
  dev.on("exit", (code) => {
    if (!shuttingDown) void shutdown(code || 1);
  });
  await waitUntilUp(origin, dev, 120_000);
  step("Connecting the demo channels through the simulator (so the inbox can send)…");
  const connected = await connectDemoChannels(origin, graphOrigin, demoOwner.email, password);

  let demo = false;
  if (!flags["no-demo"]) {
    startChild(
      [path.join(root, "scripts/simulator.ts"), "--demo", "--url", `${origin}/webhooks/meta`, "--secret", vars.META_APP_SECRET as string],
      "the demo simulator",
    );
    demo = true;
  }

  const rows: [string, string][] = [
    ["Inbox", `${origin}/`],
    ["API docs (OpenAPI)", `${origin}/api/openapi.json`],
    ["Webhook URL", `${origin}/webhooks/meta`],
    ["Graph API simulator", `${graphOrigin}  (control API: ${graphOrigin}/__simulator/state)`],
    ["Sign in as", `${demoOwner.email}  /  ${password}`],
    ["Dev mailbox", `${origin}/dev/mailbox   (every mail the app sends, locally)`],
    ["Operator key", `${env("OPERATOR_KEY", "dev-operator-key")}   (Authorization: Bearer …, for /api/quarantine)`],
    ["Meta app secret", vars.META_APP_SECRET as string],
    ["Meta verify token", vars.META_VERIFY_TOKEN as string],
    ["Demo stream", demo ? "on (simulated customers, logged below)" : "off (--no-demo)"],
    ["Channels connected", `${connected} (tokens from the simulator, sealed in the local vault)`],
  ];
  // The simulator defaults to :8787 and $META_APP_SECRET/dev-app-secret; spell out anything else.
  const simTarget =
    (port === 8787 ? "" : ` --url ${origin}/webhooks/meta`) +
    (vars.META_APP_SECRET === "dev-app-secret" && !process.env.META_APP_SECRET ? "" : ` --secret '${vars.META_APP_SECRET}'`);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(
    [
      "",
      bold("WeChatting is running locally"),
      ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
      "",
      `  Replay a fixture:        npm run simulate --${simTarget} --replay test/fixtures/meta/whatsapp-text.json`,
      `  More traffic:            npm run simulate --${simTarget} --count 500 --batch 10 --duplicates 0.1 --shuffle`,
      `  Verify handshake:        curl '${origin}/webhooks/meta?hub.mode=subscribe&hub.challenge=42&hub.verify_token=${vars.META_VERIFY_TOKEN}'`,
      `  Quarantined items:       curl -H 'Authorization: Bearer ${env("OPERATOR_KEY", "dev-operator-key")}' ${origin}/api/quarantine`,
      "",
      dim("  Ctrl-C stops everything."),
      "",
    ].join("\n"),
  );
}

main().catch((e: unknown) => {
  console.error(`start: ${e instanceof Error ? e.message : String(e)}`);
  void shutdown(1);
});
