/**
 * @module
 * Webhook → browser latency. A member of the demo workspace holds the inbox WebSocket and a few
 * conversation WebSockets open the way the inbox app does (a ticket POST with the session cookie and
 * CSRF token, then the upgrade), while probe webhooks with known message ids are POSTed at a fixed
 * rate, at idle or next to background load from the benchmark's load generator. A probe's latency
 * runs from writing its POST to the arrival of the matching frame: on its conversation's socket the
 * `message` frame carrying its id; on the inbox socket the first `conversation` frame for its
 * conversation whose `rev` covers the message's (the inbox hears of a change only once D1 holds it).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { WaCustomer } from "../scripts/meta-simulator/payloads.ts";
import { demoWorkspace } from "../workers/demo-workspace.ts";
import { POLICY_VERSION } from "../workers/privacy-policy.ts";
import type { EventFactory, SignedPost } from "./events.ts";
import { acknowledged, percentile, runLoad } from "./load.ts";
import { conversationOfCustomer, type D1 } from "./verify.ts";

export type Member = { userId: string; cookie: string; csrfToken: string; origin: string };

/** Signs a new member up through the API (POST /api/auth/signup) and keeps the session it starts. */
export async function signUp(base: URL, runId: string): Promise<Member> {
  const response = await fetch(new URL("/api/auth/signup", base), {
    method: "POST",
    headers: { "content-type": "application/json", origin: base.origin },
    body: JSON.stringify({
      name: "Bench Agent",
      email: `bench-${runId}@wechatting.local`,
      password: randomBytes(18).toString("base64url"),
      adult: true,
      acceptPolicyVersion: POLICY_VERSION,
    }),
  });
  if (response.status !== 201) throw new Error(`sign-up answered ${response.status}: ${await response.text()}`);
  const me = (await response.json()) as { user: { id: string }; csrfToken: string };
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .join("; ");
  return { userId: me.user.id, cookie, csrfToken: me.csrfToken, origin: base.origin };
}

type Frame = { at: number; data: { type?: string; id?: string; rev?: number; message?: { externalId?: string } } };

/** One open WebSocket and every JSON frame it received, stamped on arrival. */
export type LiveSocket = { ws: WebSocket; frames: Frame[]; closes: { at: number; code: number }[] };

/** Gets a ticket and opens the inbox socket (no conversation) or a conversation's socket; resolves on `hello`. */
export async function openLive(base: URL, member: Member, conversationId: string | null): Promise<LiveSocket> {
  const ticketResponse = await fetch(new URL(`/api/workspaces/${demoWorkspace.id}/live-ticket`, base), {
    method: "POST",
    headers: { "content-type": "application/json", cookie: member.cookie, "x-csrf-token": member.csrfToken, origin: member.origin },
    body: JSON.stringify(conversationId ? { conversationId } : {}),
  });
  if (ticketResponse.status !== 200) throw new Error(`live-ticket answered ${ticketResponse.status}: ${await ticketResponse.text()}`);
  const { ticket, url } = (await ticketResponse.json()) as { ticket: string; url: string };
  const ws = new WebSocket(`${base.origin.replace(/^http/, "ws")}${url}?ticket=${encodeURIComponent(ticket)}`, {
    headers: { cookie: member.cookie, origin: member.origin },
  });
  const socket: LiveSocket = { ws, frames: [], closes: [] };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no hello on ${url} within 10 s`)), 10_000);
    ws.addEventListener("message", (event) => {
      const at = performance.now();
      if (typeof event.data !== "string" || event.data === "pong") return;
      const data = JSON.parse(event.data) as Frame["data"];
      socket.frames.push({ at, data });
      if (data.type === "hello") {
        clearTimeout(timer);
        resolve();
      }
    });
    ws.addEventListener("close", (event) => {
      socket.closes.push({ at: performance.now(), code: event.code });
      clearTimeout(timer);
      reject(new Error(`${url} closed with ${event.code} before hello`));
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`${url}: WebSocket error (not upgraded?)`));
    });
  });
  return socket;
}

export type Probe = { customer: WaCustomer; conversationId: string; socket: LiveSocket };

/**
 * Gives each probe customer (outside the load's customers) a conversation with one message, waits
 * for D1 to list it (a conversation socket needs that), and opens that conversation's socket.
 */
export async function openProbes(options: {
  base: URL;
  webhookUrl: string;
  db: D1;
  factory: EventFactory;
  member: Member;
  cell: number;
  count: number;
}): Promise<Probe[]> {
  const customers = Array.from({ length: options.count }, (_, i) => ({ waId: String(15558880000 + i), name: `Live Probe ${i + 1}` }));
  for (const customer of customers) {
    const { status } = await send(options.webhookUrl, options.factory.post(options.cell, customer));
    if (status !== 200) throw new Error(`probe conversation ${customer.waId}: webhook answered ${status}`);
  }
  const deadline = performance.now() + 30_000;
  const probes: Probe[] = [];
  for (const customer of customers) {
    let conversation = await conversationOfCustomer(options.db, customer.waId);
    while (!conversation && performance.now() < deadline) {
      await sleep(50);
      conversation = await conversationOfCustomer(options.db, customer.waId);
    }
    if (!conversation) throw new Error(`probe conversation ${customer.waId} did not reach D1 within 30 s`);
    probes.push({ customer, conversationId: conversation.id, socket: await openLive(options.base, options.member, conversation.id) });
  }
  return probes;
}

async function send(url: string, post: SignedPost): Promise<{ status: number; sentAt: number; ackAt: number }> {
  const sentAt = performance.now();
  try {
    const response = await fetch(url, { method: "POST", headers: post.headers, body: post.body });
    await response.arrayBuffer();
    return { status: response.status, sentAt, ackAt: performance.now() };
  } catch {
    return { status: 0, sentAt, ackAt: performance.now() };
  }
}

export type Latency = { count: number; p50: number; p95: number; p99: number; max: number };

export type SocketLatency = Latency & {
  /** Acknowledged probes whose frame never arrived within the wait. */
  lost: number;
};

export type LiveLevel = {
  /** Background load asked for (req/s, 1 event per POST over the spread conversations); 0 = idle. */
  loadRate: number;
  load: { sent: number; ok: number; notOk: number; statuses: Record<string, number>; reqPerSec: number; p50: number; p99: number } | null;
  probesSent: number;
  probesAcked: number;
  /** Answers to the probes by status (0: the connection failed without one). */
  probeStatuses: Record<string, number>;
  ack: Latency;
  conversation: SocketLatency;
  inbox: SocketLatency;
  /** Every inbox frame during the level (the load's conversations announce too), per second. */
  inboxFramesPerSec: number;
  /** Sockets the server closed during the level. */
  socketsClosed: number;
};

const summary = (values: number[]): Latency => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
  };
};

/**
 * One level: background load at `loadRate` from the load generator, and meanwhile `probesPerSec`
 * probe webhooks, round-robin over the probe conversations, sent on schedule whether or not earlier
 * ones were answered (so a slow stretch is sampled, not skipped). Then waits up to `waitMs` for
 * frames still on their way; what has not arrived by then counts as lost.
 */
export async function measureLevel(options: {
  webhookUrl: string;
  factory: EventFactory;
  probes: readonly Probe[];
  inbox: LiveSocket;
  cell: number;
  loadRate: number;
  loadConnections: number;
  durationSec: number;
  probesPerSec: number;
  waitMs: number;
}): Promise<LiveLevel> {
  const { factory, probes, inbox, loadRate, durationSec } = options;
  const sockets = [inbox, ...probes.map((p) => p.socket)];
  const closesBefore = sockets.reduce((n, s) => n + s.closes.length, 0);
  const inboxFramesBefore = inbox.frames.length;
  const amount = Math.max(1, Math.round(loadRate * durationSec));
  const load =
    loadRate > 0
      ? runLoad({
          url: options.webhookUrl,
          connections: options.loadConnections,
          posts: factory.posts(options.cell, "spread", 1, amount),
          amount,
          maxSeconds: durationSec * 4 + 30,
          rate: loadRate,
        })
      : null;

  const start = performance.now();
  const count = Math.max(1, Math.round(durationSec * options.probesPerSec));
  const sent: Promise<{ probe: Probe; id: string; status: number; sentAt: number; ackAt: number }>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / options.probesPerSec;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const probe = probes[i % probes.length]!;
    const post = factory.post(options.cell + 1, probe.customer);
    sent.push(send(options.webhookUrl, post).then((r) => ({ probe, id: post.ids[0]!, ...r })));
  }
  const results = await Promise.all(sent);
  const loadResult = await load;

  const acked = results.filter((r) => acknowledged(r.status));
  const messageFrame = (r: (typeof acked)[number]) => r.probe.socket.frames.find((f) => f.data.type === "message" && f.data.message?.externalId === r.id);
  const inboxFrame = (r: (typeof acked)[number]) => {
    const rev = messageFrame(r)?.data.rev;
    // Without the message frame its rev is unknown: the first announcement after the POST stands in.
    return inbox.frames.find(
      (f) => f.at >= r.sentAt && f.data.type === "conversation" && f.data.id === r.probe.conversationId && (rev === undefined || (f.data.rev ?? 0) >= rev),
    );
  };
  const deadline = performance.now() + options.waitMs;
  while (performance.now() < deadline && !acked.every((r) => messageFrame(r) && inboxFrame(r))) await sleep(20);

  const latencies = (frameOf: (r: (typeof acked)[number]) => Frame | undefined): SocketLatency => {
    const values = acked.flatMap((r) => {
      const frame = frameOf(r);
      return frame ? [frame.at - r.sentAt] : [];
    });
    return { ...summary(values), lost: acked.length - values.length };
  };
  const elapsedSec = (performance.now() - start) / 1000;
  return {
    loadRate,
    load: loadResult && {
      sent: loadResult.sent,
      ok: loadResult.ok,
      notOk: loadResult.sent - loadResult.ok,
      statuses: loadResult.statuses,
      reqPerSec: loadResult.reqPerSec,
      p50: loadResult.latencyMs.p50,
      p99: loadResult.latencyMs.p99,
    },
    probesSent: results.length,
    probesAcked: acked.length,
    probeStatuses: Object.fromEntries([...Map.groupBy(results, (r) => String(r.status))].map(([status, rs]) => [status, rs.length])),
    ack: summary(acked.map((r) => r.ackAt - r.sentAt)),
    conversation: latencies(messageFrame),
    inbox: latencies(inboxFrame),
    inboxFramesPerSec: (inbox.frames.length - inboxFramesBefore) / elapsedSec,
    socketsClosed: sockets.reduce((n, s) => n + s.closes.length, 0) - closesBefore,
  };
}
