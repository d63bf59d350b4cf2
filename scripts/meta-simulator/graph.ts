/**
 * @module
 * Graph API simulator: a runtime-agnostic Hono app standing in for the three Meta hosts the Worker calls,
 * each under a path prefix so one server serves them all:
 *
 *   /graph.facebook.com/v25.0/…   (GRAPH_API_BASE       = http://127.0.0.1:8788/graph.facebook.com/v25.0)
 *   /graph.instagram.com/v25.0/…  (INSTAGRAM_GRAPH_BASE = http://127.0.0.1:8788/graph.instagram.com/v25.0)
 *   /api.instagram.com/…          (INSTAGRAM_API_BASE   = http://127.0.0.1:8788/api.instagram.com)
 *   /__simulator/…                the control API (graph/control.ts)
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
  controlRoutes,
  createCode,
  expireToken,
  mintToken,
  revokeToken,
  type CodeInput,
  type CodeResult,
  type FaultInput,
  type TokenInput,
  type TokenResult,
} from "./graph/control.ts";
import { facebookRoutes } from "./graph/facebook.ts";
import { instagramApiRoutes, instagramGraphRoutes } from "./graph/instagram.ts";
import { createState, GRAPH_VERSION, resetState, snapshot, takeFault, type GraphSnapshot, type GraphState, type SimulatorOptions } from "./graph/state.ts";

export { GRAPH_VERSION, type CodeInput, type CodeResult, type FaultInput, type GraphSnapshot, type GraphState, type SimulatorOptions, type TokenInput, type TokenResult };

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
  expireToken(token: string): boolean;
  revokeToken(token: string, subcode?: number): boolean;
  snapshot(): GraphSnapshot;
  reset(): void;
};

const HOSTS = ["graph.facebook.com", "graph.instagram.com", "api.instagram.com"] as const;

export function createGraphSimulator(options: SimulatorOptions = {}): GraphSimulator {
  const state = createState(options);
  const clock = options.now ?? Date.now;
  const ctx: SimContext = { state, now: () => Math.floor(clock() / 1000) };

  const app = new Hono();
  app.route("/__simulator", controlRoutes(ctx, state));

  // Injected faults come first, before any other check, exactly like an outage or a throttle at Meta.
  app.use("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (!HOSTS.some((host) => path.startsWith(`/${host}/`))) return next();
    const fault = takeFault(state, c.req.method, path);
    if (!fault) return next();
    return graphErrorResponse(
      { code: fault.code, subcode: fault.subcode, ...(fault.message ? { message: fault.message } : {}), ...(fault.status ? { status: fault.status } : {}) },
      { appId: state.app.id, businessId: state.businessId, now: new Date(ctx.now() * 1000) },
    );
  });

  const versioned = (host: string, routes: Hono) => {
    app.route(`/${host}/:version{v[0-9]+\\.[0-9]+}`, routes);
    app.route(`/${host}`, routes);
  };
  versioned("graph.facebook.com", facebookRoutes(ctx));
  versioned("graph.instagram.com", instagramGraphRoutes(ctx));
  app.route("/api.instagram.com", instagramApiRoutes(ctx));

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
    expireToken: (token) => expireToken(ctx, token),
    revokeToken: (token, subcode) => revokeToken(ctx, token, subcode),
    snapshot: () => snapshot(state, ctx.now()),
    reset: () => resetState(state),
  };
}
