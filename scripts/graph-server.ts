/**
 * @module
 * Serves the Graph API simulator (scripts/meta-simulator/graph.ts) over HTTP for dev mode:
 * `node scripts/graph-server.ts --port 8788`, then point the Worker's GRAPH_API_BASE, INSTAGRAM_GRAPH_BASE
 * and INSTAGRAM_API_BASE at the printed URLs. Logs one line per call with the path only: query strings
 * carry client secrets and input tokens, so they are never printed.
 *
 * Status webhooks of the messages sent through it (sent/delivered/read) are signed with the app secret
 * (X-Hub-Signature-256, like Meta) and POSTed to --webhook-url when due.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { createGraphSimulator, GRAPH_VERSION } from "./meta-simulator/graph.ts";
import { signedRequest } from "./meta-simulator/payloads.ts";

const HELP = `Graph API simulator for WeChatting (graph.facebook.com, graph.instagram.com, api.instagram.com)

Usage: node scripts/graph-server.ts [options]

  --port <n>                  port (default 8788)
  --host <addr>               address to listen on (default 127.0.0.1)
  --app-id <id>               Meta app id (default 600000000000001)
  --app-secret <s>            Meta app secret (default $META_APP_SECRET or dev-app-secret)
  --instagram-app-id <id>     Instagram app id (default 610000000000001)
  --instagram-app-secret <s>  Instagram app secret (default $INSTAGRAM_APP_SECRET or dev-instagram-app-secret)
  --redirect-uri <url>        a Valid OAuth Redirect URI of the apps (repeatable; default: any address)
  --no-proof                  accept calls without appsecret_proof ("Require App Secret" off)
  --webhook-url <url>         where status webhooks go (default http://127.0.0.1:8787/webhooks/meta; "none" = nowhere)
  --status-delays <ms,ms,ms>  delays of sent,delivered,read after a send (default 300,1500,6000; "-" = never)
  --pair-rate-limit           refuse a second WhatsApp message to the same user within 6 s (131056)
  --quiet                     no request log
  -h, --help

Control API (JSON): POST /__simulator/codes, POST /__simulator/tokens, POST /__simulator/tokens/:token/expire,
POST /__simulator/tokens/:token/revoke, POST|DELETE /__simulator/faults, GET /__simulator/state,
POST /__simulator/reset, POST /__simulator/send-faults, POST /__simulator/outage, PUT /__simulator/sending,
POST /__simulator/statuses/flush, POST /__simulator/media, POST /__simulator/templates.
See scripts/meta-simulator/graph/control.ts.
`;

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8788" },
    host: { type: "string", default: "127.0.0.1" },
    "app-id": { type: "string", default: "600000000000001" },
    "app-secret": { type: "string", default: process.env.META_APP_SECRET || "dev-app-secret" },
    "instagram-app-id": { type: "string", default: "610000000000001" },
    "instagram-app-secret": { type: "string", default: process.env.INSTAGRAM_APP_SECRET || "dev-instagram-app-secret" },
    "redirect-uri": { type: "string", multiple: true },
    "no-proof": { type: "boolean", default: false },
    "webhook-url": { type: "string", default: "http://127.0.0.1:8787/webhooks/meta" },
    "status-delays": { type: "string", default: "300,1500,6000" },
    "pair-rate-limit": { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const port = Number(opts.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`invalid --port ${opts.port}\n`);
  process.exit(2);
}

const delays = opts["status-delays"].split(",").map((d) => (d.trim() === "-" ? null : Number(d)));
if (delays.length !== 3 || delays.some((d) => d !== null && !(Number.isInteger(d) && d >= 0)) || delays[0] === null) {
  process.stderr.write(`invalid --status-delays ${opts["status-delays"]} (three milliseconds, "-" for never; sent is required)\n`);
  process.exit(2);
}
const webhookUrl = opts["webhook-url"] === "none" ? null : opts["webhook-url"];
const origin = `http://${opts.host}:${port}`;

/** Meta signs every webhook with the app secret; the Worker checks it over the exact bytes. */
async function deliver(body: string): Promise<void> {
  if (!webhookUrl) return;
  const signed = signedRequest(body, opts["app-secret"]);
  try {
    const response = await fetch(webhookUrl, { method: "POST", headers: signed.headers, body: signed.body });
    if (!opts.quiet) console.log(`${new Date().toISOString()} webhook → ${webhookUrl} ${response.status}`);
  } catch (error) {
    console.error(`graph-server: webhook to ${webhookUrl} failed:`, error instanceof Error ? error.message : error);
  }
}

const sim = createGraphSimulator({
  appId: opts["app-id"],
  appSecret: opts["app-secret"],
  instagramAppId: opts["instagram-app-id"],
  instagramAppSecret: opts["instagram-app-secret"],
  requireAppsecretProof: !opts["no-proof"],
  ...(opts["redirect-uri"] ? { redirectUris: opts["redirect-uri"] } : {}),
  statusDelays: { sent: delays[0] ?? 0, delivered: delays[1] ?? null, read: delays[2] ?? null },
  pairRateLimit: opts["pair-rate-limit"],
  origin,
  webhookSink: deliver,
});

// Status webhooks go out when due; one flush at a time keeps them in order.
let flushing = false;
const statusTimer = setInterval(() => {
  if (flushing) return;
  flushing = true;
  sim.flushStatuses().finally(() => (flushing = false));
}, 200);

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? "GET";
  let body: Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  return new Request(new URL(req.url ?? "/", origin), { method, headers, body: body?.length ? body : null });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = createServer((req, res) => {
  const started = Date.now();
  toRequest(req, origin)
    .then((request) => sim.fetch(request))
    .then(async (response) => {
      await send(res, response);
      if (!opts.quiet) {
        const path = (req.url ?? "/").split("?")[0];
        console.log(`${new Date().toISOString()} ${req.method} ${path} → ${response.status} (${Date.now() - started} ms)`);
      }
    })
    .catch((error: unknown) => {
      // A simulated network failure: the connection drops without an answer.
      if (error instanceof TypeError && error.message.includes("(simulated)")) return void res.destroy();
      console.error("graph-server:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "An unknown error occurred", type: "OAuthException", code: 1 } }));
    });
});

server.listen(port, opts.host, () => {
  const address = server.address();
  const bound = typeof address === "object" && address ? `http://${opts.host}:${address.port}` : origin;
  console.log(`Graph API simulator on ${bound}
  GRAPH_API_BASE=${bound}/graph.facebook.com/${GRAPH_VERSION}
  INSTAGRAM_GRAPH_BASE=${bound}/graph.instagram.com/${GRAPH_VERSION}
  INSTAGRAM_API_BASE=${bound}/api.instagram.com
  META_APP_ID=${opts["app-id"]}  INSTAGRAM_APP_ID=${opts["instagram-app-id"]}
  control: ${bound}/__simulator/state`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    clearInterval(statusTimer);
    server.close(() => process.exit(0));
  });
}
