/**
 * @module
 * Live updates over a WebSocket authenticated by a short-lived single-use ticket. The connection
 * resumes from the last sequence it saw, so a reconnect receives exactly what was missed; while it is
 * down (or live updates are not available) `refresh` runs on a slow timer so nothing stays stale.
 */
import { api, ok } from "../api/client.ts";

export type LiveEvent = { type: string; seq?: number; rev?: number; [key: string]: unknown };

const POLL_MS = 4000;
const MAX_BACKOFF_MS = 30_000;

export function connectLive(options: {
  workspaceId: string;
  conversationId?: string;
  onEvent: (event: LiveEvent) => void;
  /** Resume was impossible or the socket is down: reload what is shown. */
  refresh: () => void;
}): () => void {
  let closed = false;
  let socket: WebSocket | null = null;
  let since: number | null = null;
  let attempt = 0;
  let poll: ReturnType<typeof setInterval> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const startPolling = () => {
    poll ??= setInterval(options.refresh, POLL_MS);
  };
  const stopPolling = () => {
    if (poll) clearInterval(poll);
    poll = null;
  };

  const open = async () => {
    if (closed) return;
    try {
      const body = options.conversationId ? { conversationId: options.conversationId } : {};
      const { ticket, url } = await ok(api.POST("/workspaces/{workspaceId}/live-ticket", { params: { path: { workspaceId: options.workspaceId } }, body }));
      if (closed) return;
      const target = new URL(url, window.location.href);
      target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
      target.searchParams.set("ticket", ticket);
      if (since !== null) target.searchParams.set("since", String(since));
      socket = new WebSocket(target);
      const resuming = since !== null;
      socket.onopen = () => {
        attempt = 0;
        stopPolling();
        // A fresh subscription sees only what happens from now on: read once more what changed
        // between the last load and this moment. A resumed one is replayed from `since` instead.
        if (!resuming) options.refresh();
      };
      socket.onmessage = (message) => {
        const event = JSON.parse(String(message.data)) as LiveEvent;
        const position = event.seq ?? event.rev;
        if (typeof position === "number") since = position;
        if (event.type === "reset") options.refresh();
        else options.onEvent(event);
      };
      socket.onclose = (event) => {
        socket = null;
        // 4403: this member lost access; reconnecting would only be refused again.
        if (event.code === 4403) {
          closed = true;
          options.refresh();
        } else scheduleRetry();
      };
    } catch {
      scheduleRetry();
    }
  };

  const scheduleRetry = () => {
    if (closed) return;
    startPolling();
    attempt += 1;
    retry = setTimeout(open, Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempt, 5)));
  };

  void open();
  return () => {
    closed = true;
    stopPolling();
    if (retry) clearTimeout(retry);
    socket?.close(1000);
  };
}
