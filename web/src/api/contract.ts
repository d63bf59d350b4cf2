/**
 * @module
 * Routes agreed in the session contract that the Worker does not serve yet (contact profiles). Each
 * entry is a stand-in: it is deleted as soon as its route lands in the OpenAPI document, and the
 * generated type takes over. Everything else comes from openapi.gen.ts.
 */
import type { components } from "./openapi.gen.ts";

type Json<T> = { content: { "application/json": T } };
type Failure = Json<components["schemas"]["Error"]> & { headers: Record<string, unknown> };
type Errors = { 400: Failure; 401: Failure; 403: Failure; 404: Failure; 409: Failure; 422: Failure };
type Op<Path, Body, Ok> = {
  parameters: { path: Path; query?: never; header?: never; cookie?: never };
  responses: { 200: Json<Ok> & { headers: Record<string, unknown> } } & Errors;
} & ([Body] extends [undefined] ? { requestBody?: never } : { requestBody: Json<Body> });
type WsConv = { workspaceId: string; id: string };

export type Contact = { id: string; name: string | null; notes: string | null };

export type ContractPaths = {
  "/workspaces/{workspaceId}/contacts/{id}": {
    get: Op<WsConv, undefined, Contact>;
    patch: Op<WsConv, { name?: string; notes?: string }, Contact>;
  };
};
