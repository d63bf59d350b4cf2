/**
 * @module
 * Graph API simulator: a runtime-agnostic Hono app standing in for the three Meta hosts the Worker calls,
 * each under a path prefix so one server serves them all:
 *
 *   /graph.facebook.com/v25.0/…   (GRAPH_API_BASE       = http://127.0.0.1:8788/graph.facebook.com/v25.0)
 *   /graph.instagram.com/v25.0/…  (INSTAGRAM_GRAPH_BASE = http://127.0.0.1:8788/graph.instagram.com/v25.0)
 *   /api.instagram.com/…          (INSTAGRAM_API_BASE   = http://127.0.0.1:8788/api.instagram.com)
 *   /lookaside.fbsbx.com/…        media downloads (URLs handed out by the simulator)
 *   /www.facebook.com/v25.0/dialog/oauth, /www.instagram.com/oauth/authorize
 *                                 the login dialogs the inbox opens in a pop-up (graph/dialogs.ts)
 *   /__simulator/…                the control API (graph/control.ts)
 *
 * Sending (graph/messages.ts) answers like Meta and schedules status webhooks; {@link GraphSimulator.flushStatuses}
 * hands the due ones to `options.webhookSink` (scripts/graph-server.ts signs and POSTs them to the Worker).
 *
 * State is in memory, seeded with the demo accounts of workers/demo-workspace.ts (graph/state.ts). Answers
 * and failures follow Meta's documented shapes (SPEC §5.5, §7). Served in Node by scripts/graph-server.ts,
 * and inside workerd tests through test/graph-simulator.ts.
 *
 * Any Graph version segment (`v25.0`, `v24.0`, …) is accepted, as is none.
 */
import { Hono } from "hono";
import { graphErrorResponse } from "./graph/errors.ts";
import type { SimContext } from "./graph/context.ts";
import {
  addFault,
  addInboundMedia,
  addTemplate,
  configureSending,
  controlRoutes,
  createCode,
  expireToken,
  failSends,
  mintToken,
  revokeToken,
  type CodeInput,
  type CodeResult,
  type FaultInput,
  type InboundMediaInput,
  type SendFaultInput,
  type SendingInput,
  type TemplateInput,
  type TokenInput,
  type TokenResult,
} from "./graph/control.ts";
import { facebookDialogRoutes, instagramDialogRoutes } from "./graph/dialogs.ts";
import { facebookRoutes } from "./graph/facebook.ts";
import { instagramApiRoutes, instagramGraphRoutes } from "./graph/instagram.ts";
import { facebookMessagingRoutes, instagramMessagingRoutes, isReceipt, lookasideRoutes, mediaUrl, takeDueWebhooks } from "./graph/messages.ts";
import {
  createState,
  GRAPH_VERSION,
  resetState,
  snapshot,
  takeFault,
  type GraphSnapshot,
  type GraphState,
  type ScheduledWebhook,
  type SimulatorOptions,
  type TemplateRecord,
} from "./graph/state.ts";

export {
  GRAPH_VERSION,
  type CodeInput,
  type CodeResult,
  type FaultInput,
  type GraphSnapshot,
  type GraphState,
  type InboundMediaInput,
  type ScheduledWebhook,
  type SendFaultInput,
  type SendingInput,
  type SimulatorOptions,
  type TemplateInput,
  type TokenInput,
  type TokenResult,
};

export type GraphSimulator = {
  app: Hono;
  /** The live state (tests may read it; prefer the operations below to change it). */
  state: GraphState;
  /** The simulator's clock, epoch seconds. */
  now(): number;
  /** Same as POST /__simulator/codes; throws on invalid input. */
  createCode(input: CodeInput): CodeResult;
  /** Same as POST /__simulator/tokens; throws on invalid input. */
  mintToken(input?: TokenInput): TokenResult;
  /** Same as POST /__simulator/faults; throws on invalid input. */
  addFault(input: FaultInput): void;
  /** Same as POST /__simulator/send-faults: the next `times` sends fail with `code`/`subcode`/`status`, or as a dropped connection (`network`); read receipts and typing indicators pass. */
  failSends(input: SendFaultInput): void;
  /** Same as POST /__simulator/outage: "refused" drops every connection, "unavailable" answers 503 pages; null = back. */
  setOutage(mode: "refused" | "unavailable" | null): void;
  /** Same as PUT /__simulator/sending: status webhook delays (ms; null = never), WhatsApp pair rate limit. */
  configureSending(input: SendingInput): void;
  /** Same as POST /__simulator/media: a customer's file as Meta holds it; `url` is its 5-minute download URL. */
  addInboundMedia(input: InboundMediaInput): Promise<{ id: string; url: string }>;
  /** Same as POST /__simulator/templates. */
  addTemplate(input: TemplateInput): TemplateRecord;
  /**
   * Same as POST /__simulator/statuses/flush: hands the status webhooks due now (every pending one with
   * `all`) to `options.webhookSink`, in order, and returns them.
   */
  flushStatuses(options?: { all?: boolean }): Promise<ScheduledWebhook[]>;
  /** `app.fetch`, except that simulated network failures reject like a dropped connection does. */
  fetch(request: Request): Promise<Response>;
  expireToken(token: string): boolean;
  revokeToken(token: string, subcode?: number): boolean;
  snapshot(): GraphSnapshot;
  reset(): void;
};

const HOSTS = ["graph.facebook.com", "graph.instagram.com", "api.instagram.com", "lookaside.fbsbx.com", "www.facebook.com", "www.instagram.com"] as const;

export function createGraphSimulator(options: SimulatorOptions = {}): GraphSimulator {
  const state = createState(options);
  const clock = options.now ?? Date.now;
  const ctx: SimContext = { state, now: () => Math.floor(clock() / 1000), nowMs: () => clock() };
  // Responses standing for a dropped connection: fetch() turns them into a rejection.
  const dropped = new WeakSet<Response>();
  const drop = () => {
    const response = new Response(null, { status: 599 });
    dropped.add(response);
    return response;
  };

  async function flushStatuses(flush: { all?: boolean } = {}): Promise<ScheduledWebhook[]> {
    const due = takeDueWebhooks(ctx, flush);
    for (const webhook of due) await options.webhookSink?.(webhook.body);
    return due;
  }

  const app = new Hono();
  app.route("/__simulator", controlRoutes(ctx, state, { flushStatuses: async (flush) => (await flushStatuses(flush)).length }));

  // Outages and injected faults come first, before any other check, exactly like at Meta.
  app.use("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (!HOSTS.some((host) => path.startsWith(`/${host}/`))) return next();
    if (state.outage === "refused") return drop();
    if (state.outage === "unavailable") return new Response("<html><body><h1>503 Service Unavailable</h1></body></html>", { status: 503, headers: { "content-type": "text/html" } });
    const receipt = c.req.method === "POST" && path.endsWith("/messages") && isReceipt(await c.req.raw.clone().json().catch(() => null));
    const fault = takeFault(state, { method: c.req.method, path, receipt });
    if (!fault) return next();
    if (fault.network) return drop();
    return graphErrorResponse(
      { code: fault.code, subcode: fault.subcode, ...(fault.message ? { message: fault.message } : {}), ...(fault.status ? { status: fault.status } : {}) },
      { appId: state.app.id, businessId: state.businessId, now: new Date(ctx.now() * 1000) },
    );
  });

  const versioned = (host: string, routes: Hono) => {
    app.route(`/${host}/:version{v[0-9]+\\.[0-9]+}`, routes);
    app.route(`/${host}`, routes);
  };
  // Sending first: its `GET /{media-id}` passes every other id on to the account routes.
  versioned("graph.facebook.com", facebookMessagingRoutes(ctx));
  versioned("graph.facebook.com", facebookRoutes(ctx));
  versioned("graph.instagram.com", instagramMessagingRoutes(ctx));
  versioned("graph.instagram.com", instagramGraphRoutes(ctx));
  app.route("/api.instagram.com", instagramApiRoutes(ctx));
  app.route("/lookaside.fbsbx.com", lookasideRoutes(ctx));
  versioned("www.facebook.com", facebookDialogRoutes(ctx));
  app.route("/www.instagram.com", instagramDialogRoutes(ctx));

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    if (path.startsWith("/__simulator")) return c.json({ error: "unknown control endpoint" }, 404);
    return graphErrorResponse(
      { code: 2500, type: "OAuthException", message: `Unknown path components: ${path.replace(/^\/[^/]+(\/v\d+\.\d+)?/, "")}` },
      { appId: state.app.id, businessId: state.businessId },
    );
  });
  app.onError((error) => {
    console.error("graph simulator:", error);
    return graphErrorResponse({ code: 1 }, { appId: state.app.id, businessId: state.businessId });
  });

  const orThrow = <T>(outcome: { ok: true; value: T } | { ok: false; error: string }): T => {
    if (!outcome.ok) throw new Error(`graph simulator: ${outcome.error}`);
    return outcome.value;
  };

  return {
    app,
    state,
    now: ctx.now,
    createCode: (input) => orThrow(createCode(ctx, input)),
    mintToken: (input = {}) => orThrow(mintToken(ctx, input)),
    addFault: (input) => void orThrow(addFault(ctx, input)),
    failSends: (input) => void orThrow(failSends(ctx, input)),
    setOutage: (mode) => void (state.outage = mode),
    configureSending: (input) => void orThrow(configureSending(ctx, input)),
    addInboundMedia: async (input) => {
      const { product, id } = orThrow(addInboundMedia(ctx, input));
      return { id, url: await mediaUrl(ctx, options.origin ?? "http://graph.simulator", product, id) };
    },
    addTemplate: (input) => orThrow(addTemplate(ctx, input)),
    flushStatuses,
    fetch: async (request) => {
      const response = await app.fetch(request);
      if (dropped.has(response)) throw new TypeError("fetch failed: connection refused (simulated)");
      return response;
    },
    expireToken: (token) => expireToken(ctx, token),
    revokeToken: (token, subcode) => revokeToken(ctx, token, subcode),
    snapshot: () => snapshot(state, ctx.now()),
    reset: () => resetState(state),
  };
}
