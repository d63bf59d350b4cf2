/**
 * @module
 * The issue-5 API (sending, workflow, real time) exactly as agreed in the session contract, for the
 * routes the Worker does not serve yet (or serves with fewer fields). Each entry is a stand-in: it is
 * deleted as soon as the route lands in the OpenAPI document, and the generated type takes over.
 */
import type { components } from "./openapi.gen.ts";

type Schemas = components["schemas"];
type Json<T> = { content: { "application/json": T } };
type Failure = Json<Schemas["Error"]> & { headers: Record<string, unknown> };
type Errors = { 400: Failure; 401: Failure; 403: Failure; 404: Failure; 409: Failure; 422: Failure };
type Op<Path, Query, Body, Ok, Status extends number = 200> = {
  parameters: ([Path] extends [never] ? { path?: never } : { path: Path }) & ([Query] extends [never] ? { query?: never } : { query?: Query }) & { header?: never; cookie?: never };
  responses: { [S in Status]: Json<Ok> & { headers: Record<string, unknown> } } & Errors;
} & ([Body] extends [undefined] ? { requestBody?: never } : { requestBody: Json<Body> });
type Ws = { workspaceId: string };
type WsConv = Ws & { id: string };

export type ConversationStatus = "open" | "pending" | "snoozed" | "resolved";
export type Window = { freeForm: boolean; until: number | null; humanAgent: boolean; humanAgentUntil: number | null; reason: string };
export type ConversationSummary = Schemas["ConversationSummary"] & {
  status: ConversationStatus;
  snoozedUntil: number | null;
  assigneeId: string | null;
  labels: string[];
  unreadCount: number;
  window: Window;
};
export type ConversationDetail = ConversationSummary & { contact: ConversationSummary["contact"] & { notes: string | null } };
export type OutboundStatus = "pending" | "sent" | "delivered" | "read" | "played" | "failed";
export type Message = Omit<Schemas["Message"], "status" | "error" | "type" | "direction"> & {
  type: Schemas["Message"]["type"] | "note";
  direction: Schemas["Message"]["direction"] | "note";
  status: OutboundStatus | null;
  error: { code: number | string; title: string | null; message?: string | null; details: string | null } | null;
  clientKey?: string | null;
  sentBy?: string | null;
};
export type Note = { id: string; text: string; authorId: string; createdAt: number };
export type Template = { name: string; language: string; status: string; category: string; components: unknown[] };
export type SendBody = {
  idempotencyKey: string;
  kind: "text" | "media" | "template" | "reaction";
  text?: string;
  previewUrl?: boolean;
  media?: { mediaId: string; type: "image" | "video" | "audio" | "document" | "sticker"; caption?: string; filename?: string };
  template?: { name: string; language: string; components?: unknown[] };
  reaction?: { messageId: string; emoji: string | null };
  replyTo?: string;
  humanAgent?: boolean;
};
type ListQuery = {
  status?: ConversationStatus;
  channelId?: string;
  assignee?: string;
  unread?: "true";
  label?: string;
  limit?: number;
  cursor?: string;
};

export type ContractPaths = {
  "/workspaces/{workspaceId}/conversations": {
    get: Op<Ws, ListQuery, undefined, { conversations: ConversationSummary[]; nextCursor: string | null }>;
  };
  "/workspaces/{workspaceId}/conversations/{id}": {
    get: Op<WsConv, never, undefined, ConversationDetail>;
    patch: Op<WsConv, never, { status?: ConversationStatus; snoozedUntil?: number | null; assigneeId?: string | null; labels?: string[] }, ConversationSummary>;
  };
  "/workspaces/{workspaceId}/conversations/{id}/messages": {
    get: Op<WsConv, { limit?: number; cursor?: string }, undefined, { messages: Message[]; nextCursor: string | null }>;
    post: Op<WsConv, never, SendBody, { message: Message }, 202>;
  };
  "/workspaces/{workspaceId}/conversations/{id}/media": {
    post: Op<WsConv, never, { file: File }, { mediaId: string; type: string }>;
  };
  "/workspaces/{workspaceId}/conversations/{id}/read": { post: Op<WsConv, never, undefined, unknown> };
  "/workspaces/{workspaceId}/conversations/{id}/notes": {
    get: Op<WsConv, never, undefined, { notes: Note[] }>;
    post: Op<WsConv, never, { text: string }, { note: Note }, 201>;
  };
  "/workspaces/{workspaceId}/channels/{channelId}/templates": {
    get: Op<Ws & { channelId: string }, never, undefined, { templates: Template[] }>;
  };
  "/workspaces/{workspaceId}/contacts/{id}": {
    patch: Op<WsConv, never, { name?: string; notes?: string }, unknown>;
  };
  "/workspaces/{workspaceId}/live-ticket": {
    post: Op<Ws, never, { conversationId?: string }, { ticket: string; url: string }>;
  };
  "/me/consent": {
    get: Op<never, never, undefined, Consent>;
    put: Op<never, never, Consent, Consent>;
  };
};
export type Consent = { analytics: boolean; preferences: boolean };
