/**
 * @module
 * `wrangler dev` for the local stack, through wrangler's own API (`unstable_startWorker`) rather than
 * its CLI: the same bundling and rebuilds, assets, bindings, local D1 and Durable Object state and
 * workerd, but a request that its client abandons no longer ends the server.
 *
 * The CLI treats every error its proxy reports as fatal. A POST whose client goes away before the
 * body is sent (a browser leaving the page) reaches the proxy as "Network connection lost.", and the
 * CLI exits 1 printing an empty `✘ [ERROR]` (cloudflare/workers-sdk#15451 and #15317, open for
 * wrangler 4.124). The browser tests lost their server that way now and then; `npm start` could too.
 * Here that one error is reported as a warning and the server stays up; any other error still ends it.
 *
 * Usage: `node scripts/dev-server.ts --port 8787 [--ip 127.0.0.1] [--persist-to DIR] [--var NAME:VALUE]…
 * [--log-level warn]`, as with `wrangler dev`.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { unstable_startWorker } from "wrangler";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    ip: { type: "string", default: "127.0.0.1" },
    "persist-to": { type: "string" },
    var: { type: "string", multiple: true, default: [] },
    "log-level": { type: "string", default: "warn" },
  },
});

const bindings = Object.fromEntries(
  args.var.map((pair) => {
    const colon = pair.indexOf(":");
    if (colon < 1) throw new Error(`--var ${pair}: expected NAME:VALUE`);
    return [pair.slice(0, colon), { type: "plain_text" as const, value: pair.slice(colon + 1) }];
  }),
);

const worker = await unstable_startWorker({
  config: path.join(import.meta.dirname, "..", "wrangler.toml"),
  bindings,
  dev: {
    remote: false,
    server: { hostname: args.ip, port: Number(args.port) },
    // No inspector: parallel stacks (tests) would contend for its port, and nothing attaches to it.
    inspector: false,
    persist: args["persist-to"],
    logLevel: args["log-level"] as "warn",
  },
});

type DevError = { source?: string; reason?: string; cause?: { message?: string; stack?: string } };
worker.raw.on("error", (event: DevError) => {
  if (event.source === "ProxyController" && event.reason === "Error inside ProxyWorker") {
    console.warn(`dev-server: a request ended before it was answered (${event.cause?.message || "no message"}); still serving`);
    return;
  }
  console.error(`dev-server: ${event.source ?? "wrangler"}: ${event.reason ?? "error"}\n${event.cause?.stack ?? event.cause?.message ?? ""}`);
  void stop(1);
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  await worker.dispose().catch((error: Error) => console.error(`dev-server: shutting down: ${error.message}`));
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

await worker.ready;
