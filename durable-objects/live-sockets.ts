/**
 * @module
 * Browser WebSockets held by a Durable Object through the hibernation API: the object may be evicted
 * while sockets stay open, so who is on a socket lives in its tags, not in memory.
 */

/** Close code for "you no longer have access": the browser must not reconnect with the old ticket. */
export const ACCESS_REVOKED = 4403;

const userTag = (userId: string) => `user:${userId}`;

/** Accepts the upgrade for `userId` and answers the 101 to hand back to the Worker. */
export function acceptLiveSocket(ctx: DurableObjectState, userId: string): { socket: WebSocket; response: Response } {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  ctx.acceptWebSocket(server, [userTag(userId)]);
  // Keep-alives are answered by the runtime without waking the object.
  ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  return { socket: server, response: new Response(null, { status: 101, webSocket: client }) };
}

export function broadcast(ctx: DurableObjectState, messages: readonly unknown[]): void {
  if (messages.length === 0) return;
  const sockets = ctx.getWebSockets();
  if (sockets.length === 0) return;
  const frames = messages.map((m) => JSON.stringify(m));
  for (const socket of sockets) {
    try {
      for (const frame of frames) socket.send(frame);
    } catch {
      // A socket closing under us is cleaned up by webSocketClose.
    }
  }
}

export function closeUser(ctx: DurableObjectState, userId: string, reason: string): number {
  const sockets = ctx.getWebSockets(userTag(userId));
  for (const socket of sockets) socket.close(ACCESS_REVOKED, reason);
  return sockets.length;
}

/** Answers a browser's close frame (the runtime may have closed the socket already). */
export function answerClose(socket: WebSocket, code: number): void {
  try {
    // 1005/1006 say no code was sent; they may not be sent back.
    socket.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
  } catch {
    // Already closed by the runtime.
  }
}

/** The `since` a browser resumes from: the last sequence it saw, or null to start fresh. */
export function resumePoint(request: Request): number | null {
  const since = new URL(request.url).searchParams.get("since");
  return since !== null && /^\d{1,15}$/.test(since) ? Number(since) : null;
}
