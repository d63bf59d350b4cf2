/**
 * @module
 * Loads the deploy bundle that `wrangler deploy --dry-run` wrote (.wrangler/dry-run) into workerd
 * through Miniflare and checks it starts and answers: the tests import the source, so only this
 * catches what workerd refuses in a built Worker (e.g. a main-module export that is not a handler).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";

const root = path.resolve(import.meta.dirname, "..");
const scriptPath = path.join(root, ".wrangler", "dry-run", "index.js");
const state = mkdtempSync(path.join(tmpdir(), "wechatting-smoke-"));
const mf = new Miniflare(
  convertV4MiniflareOptions({
    modules: true,
    scriptPath,
    modulesRoot: path.dirname(scriptPath),
    compatibilityDate: "2026-08-15",
    cf: false,
    log: new Log(LogLevel.WARN),
    resourcePersistencePath: state,
    d1Databases: { DB: "smoke" },
    durableObjects: { CONVERSATION: { className: "Conversation", useSQLite: true } },
    bindings: { META_APP_SECRET: "smoke", META_VERIFY_TOKEN: "smoke", WEBHOOK_MAX_BYTES: "4194304" },
  }),
);
try {
  const checks: [string, Promise<Response>, number][] = [
    ["GET /api/openapi.json", mf.dispatchFetch("http://localhost/api/openapi.json"), 200],
    ["POST /webhooks/meta unsigned", mf.dispatchFetch("http://localhost/webhooks/meta", { method: "POST", body: "{}" }), 401],
    ["GET /webhooks/meta handshake", mf.dispatchFetch("http://localhost/webhooks/meta?hub.mode=subscribe&hub.challenge=7&hub.verify_token=smoke"), 200],
  ];
  for (const [name, pending, expected] of checks) {
    const response = await pending;
    await response.arrayBuffer();
    if (response.status !== expected) throw new Error(`${name}: ${response.status}, expected ${expected}`);
  }
  console.log(`smoke: the deploy bundle starts in workerd and answers (${checks.length} checks)`);
} finally {
  await mf.dispose();
  rmSync(state, { recursive: true, force: true });
}
