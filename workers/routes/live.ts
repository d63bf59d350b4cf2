/**
 * @module
 * Live updates over WebSockets: a ticket first (a POST, so the session's CSRF checks apply), then the
 * upgrade, which the Worker checks — ticket, current membership and role, same origin — before handing
 * the socket to the workspace's Inbox object or the conversation's object.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { errorDoc, errorResponses, jsonBody, WorkspaceParam } from "../api-schemas.ts";
import { errorResponse } from "../http-error.ts";
import { TICKET_TTL_SECONDS, issueTicket, redeemTicket, watchConversation } from "../live.ts";
import { validationHook } from "../validation.ts";
import { ConversationParams, conversationOf, conversationStub } from "./conversations.ts";

export const liveRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

liveRoutes.use("/workspaces/:workspaceId/live*", requirePermission("conversations.read"));
liveRoutes.use("/workspaces/:workspaceId/conversations/:id/live", requirePermission("conversations.read"));

liveRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/live-ticket",
    summary: "A single-use ticket (valid 60 s) to open a live WebSocket",
    description:
      "Without `conversationId`: for the inbox socket `GET /workspaces/{workspaceId}/live?ticket=…&since=<seq>`, which sends " +
      "`{type:\"conversation\", seq, id, rev}` when a conversation's list entry changes (`reset` when it cannot resume). " +
      "With it: for `GET /workspaces/{workspaceId}/conversations/{id}/live?ticket=…&since=<rev>`, which sends `message`, `note` and " +
      "`conversation` frames carrying every change after `since`. Both close with 4403 when the member loses access.",
    request: { params: WorkspaceParam, body: jsonBody(z.object({ conversationId: ConversationParams.shape.id.optional() })) },
    responses: {
      200: {
        description: "The ticket and where to use it",
        content: { "application/json": { schema: z.object({ ticket: z.string(), url: z.string(), expiresIn: z.number().int() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { conversationId } = c.req.valid("json");
    const { workspaceId } = c.var;
    if (conversationId) {
      if (!(await conversationOf(c, conversationId))) return errorResponse(c, 404, "not_found", "No such conversation");
      await watchConversation(c.env, workspaceId, c.var.user.id, conversationId);
    }
    const ticket = await issueTicket(c.env, { userId: c.var.user.id, workspaceId, conversationId: conversationId ?? null });
    const path = conversationId ? `/api/workspaces/${workspaceId}/conversations/${conversationId}/live` : `/api/workspaces/${workspaceId}/live`;
    return c.json({ ticket, url: path, expiresIn: TICKET_TTL_SECONDS }, 200);
  },
);

const upgradeResponses = {
  101: { description: "Switching to a WebSocket" },
  426: errorDoc("Not a WebSocket upgrade"),
  ...errorResponses,
};
const LiveQuery = z.object({ ticket: z.string().min(1).max(2048), since: z.string().regex(/^\d{1,15}$/).optional() });

/** Checks what a browser cannot fake on an upgrade, and returns the ticket's member or an error response. */
async function admit(c: Parameters<Parameters<typeof liveRoutes.openapi>[1]>[0], conversationId: string | null) {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") return errorResponse(c, 426, "upgrade_required", "Open this URL as a WebSocket");
  // Browsers send Origin on every WebSocket handshake; a page of another site must not ride the cookie.
  const origin = c.req.header("Origin");
  if (origin && origin !== new URL(c.req.url).origin) return errorResponse(c, 403, "cross_site_request", `Origin ${origin} is not this site`);
  const admitted = await redeemTicket(c.env, c.req.query("ticket") ?? "", { userId: c.var.user.id, workspaceId: c.var.workspaceId, conversationId });
  if (!admitted) return errorResponse(c, 401, "invalid_ticket", "The ticket is invalid, expired, used, or for another socket: ask for a new one");
  return null;
}

function forward(request: Request, stub: { fetch(request: Request): Promise<Response> }, userId: string, since: string | undefined) {
  const url = new URL("https://live.internal/");
  url.searchParams.set("userId", userId);
  if (since) url.searchParams.set("since", since);
  return stub.fetch(new Request(url, request));
}

liveRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/live",
    summary: "The inbox WebSocket (list changes)",
    request: { params: WorkspaceParam, query: LiveQuery },
    responses: upgradeResponses,
  }),
  async (c) => {
    const refused = await admit(c, null);
    if (refused) return refused;
    const inbox = c.env.INBOX.get(c.env.INBOX.idFromName(c.var.workspaceId));
    return forward(c.req.raw, inbox, c.var.user.id, c.req.valid("query").since) as never;
  },
);

liveRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations/{id}/live",
    summary: "A conversation's WebSocket (messages, status ticks, notes, assignment)",
    request: { params: ConversationParams, query: LiveQuery },
    responses: upgradeResponses,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", "No such conversation");
    const refused = await admit(c, id);
    if (refused) return refused;
    return forward(c.req.raw, conversationStub(c.env, id), c.var.user.id, c.req.valid("query").since) as never;
  },
);
