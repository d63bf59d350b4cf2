/**
 * Test helper: the Graph API simulator (scripts/meta-simulator/graph.ts) behind `http://graph.simulator`.
 *
 *   const graph = useGraphSimulator();
 *   it("…", async () => {
 *     const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
 *     const client = graphClient(graph.env);                  // or the Worker with bindings from graph.env
 *     …
 *     expect(graph.sim.snapshot().subscriptions.whatsapp).toHaveLength(1);
 *     expect(graph.requests.every((r) => !r.url.includes(token))).toBe(true);
 *   });
 *
 * One simulator per test file, reset before each test. While a test runs, `globalThis.fetch` calls whose URL
 * starts with http://graph.simulator are answered by the simulator (Durable Objects share the isolate in
 * vitest-pool-workers, so their fetches are routed too); everything else goes to the real fetch. The spy is
 * restored after each test.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { createGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../scripts/meta-simulator/graph.ts";
import type { GraphEnv } from "../workers/meta/graph-client.ts";
import { BASE, api, type Agent } from "./helpers.ts";

export const GRAPH_SIMULATOR_ORIGIN = "http://graph.simulator";

/** The bindings vitest.config.ts gives the Worker, pointing at the simulator. */
export const graphSimulatorEnv = {
  GRAPH_API_BASE: `${GRAPH_SIMULATOR_ORIGIN}/graph.facebook.com/v25.0`,
  INSTAGRAM_GRAPH_BASE: `${GRAPH_SIMULATOR_ORIGIN}/graph.instagram.com/v25.0`,
  INSTAGRAM_API_BASE: `${GRAPH_SIMULATOR_ORIGIN}/api.instagram.com`,
  META_APP_ID: "600000000000001",
  META_APP_SECRET: "test-app-secret",
  INSTAGRAM_APP_ID: "610000000000001",
  INSTAGRAM_APP_SECRET: "test-instagram-app-secret",
  META_MEDIA_BASE: GRAPH_SIMULATOR_ORIGIN,
} satisfies Required<GraphEnv>;

/** One call the simulator answered (status 0: a simulated network failure), as it went over the wire. */
export type GraphRequestRecord = { method: string; url: string; headers: Record<string, string>; body: string; status: number };

export type GraphSimulatorHandle = {
  sim: GraphSimulator;
  env: typeof graphSimulatorEnv;
  /** Calls routed to the simulator during the current test, in order. */
  requests: GraphRequestRecord[];
};

export function useGraphSimulator(options: SimulatorOptions = {}): GraphSimulatorHandle {
  const sim = createGraphSimulator({
    appId: graphSimulatorEnv.META_APP_ID,
    appSecret: graphSimulatorEnv.META_APP_SECRET,
    instagramAppId: graphSimulatorEnv.INSTAGRAM_APP_ID,
    instagramAppSecret: graphSimulatorEnv.INSTAGRAM_APP_SECRET,
    redirectUris: [`${BASE}/oauth/callback`],
    ...options,
  });
  const handle: GraphSimulatorHandle = { sim, env: graphSimulatorEnv, requests: [] };
  let restore: (() => void) | null = null;

  beforeEach(() => {
    sim.reset();
    handle.requests.length = 0;
    const passthrough = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      // Decided on the URL alone: building a Request from another Request would consume its body.
      if (!url.startsWith(`${GRAPH_SIMULATOR_ORIGIN}/`)) return passthrough(input, init);
      const request = new Request(input, init);
      const body = request.method === "GET" || request.method === "HEAD" ? "" : new TextDecoder().decode(await request.clone().arrayBuffer());
      const seen = { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body };
      try {
        const response = await sim.fetch(request);
        handle.requests.push({ ...seen, status: response.status });
        return response;
      } catch (error) {
        // A simulated dropped connection: recorded with status 0, and fetch rejects as it would.
        handle.requests.push({ ...seen, status: 0 });
        throw error;
      }
    });
    restore = () => spy.mockRestore();
  });

  afterEach(() => {
    restore?.();
    restore = null;
  });

  return handle;
}

/** The fixtures' first WhatsApp Business account and number (workers/demo-workspace.ts). */
export const DEMO_WHATSAPP = { wabaId: "100000000000001", phoneNumberId: "200000000000001" } as const;

/**
 * Embedded Signup as the inbox finishes it: a `state` issued to this session, then the code Meta's
 * dialog handed back (here minted by the simulator for `account`).
 */
export async function finishEmbeddedSignup(graph: GraphSimulatorHandle, as: Agent, account: { wabaId: string; phoneNumberId: string } = DEMO_WHATSAPP, extra: Record<string, unknown> = account) {
  const path = `/workspaces/${as.workspaceId}/channels`;
  const { state } = (await api<{ state: string }>(`${path}/oauth/state`, { as, body: { kind: "whatsapp" } })).body;
  const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup", ...account });
  return api(`${path}/whatsapp/embedded-signup`, { as, body: { code, state, ...extra } });
}
