/**
 * Test helper: a browser's live WebSocket, opened through the Worker with a ticket exactly as the
 * inbox does (POST the ticket, then the upgrade), collecting every frame it receives.
 */
import { env } from "cloudflare:workers";
import { BASE, api, call, type Agent } from "./helpers.ts";

export type Frame = { type: string; [key: string]: any };

export type LiveSocket = {
  frames: Frame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the frames seen once `predicate` holds for one of them (fails after `ms`). */
  until(predicate: (frame: Frame) => boolean, ms?: number): Promise<Frame[]>;
  close(): void;
};

export async function ticketFor(as: Agent, conversationId?: string): Promise<{ ticket: string; url: string }> {
  const response = await api(`/workspaces/${as.workspaceId}/live-ticket`, { as, body: conversationId ? { conversationId } : {} });
  if (response.status !== 200) throw new Error(`live-ticket answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** The raw upgrade response (for refusals). */
export async function upgrade(as: Agent, url: string, query: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const search = new URLSearchParams(query);
  return call(
    new Request(`${BASE}${url}?${search}`, { headers: { upgrade: "websocket", cookie: as.cookie, origin: BASE, ...headers } }),
    env,
  );
}

export async function openLive(as: Agent, options: { conversationId?: string; since?: number } = {}): Promise<LiveSocket> {
  const { ticket, url } = await ticketFor(as, options.conversationId);
  const response = await upgrade(as, url, { ticket, ...(options.since !== undefined ? { since: String(options.since) } : {}) });
  const socket = response.webSocket;
  if (response.status !== 101 || !socket) throw new Error(`upgrade answered ${response.status}: ${await response.text()}`);
  socket.accept();
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  socket.addEventListener("message", (event) => {
    frames.push(JSON.parse(event.data as string));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => {
      resolve({ code: event.code, reason: event.reason });
      for (const wake of waiters) wake();
    }),
  );
  return {
    frames,
    closed,
    close: () => socket.close(1000, "done"),
    until(predicate, ms = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (frames.some(predicate)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve([...frames]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}
