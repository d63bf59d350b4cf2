/**
 * @module
 * Request and response pieces every API route shares.
 */
import { z } from "@hono/zod-openapi";
import { ErrorBody } from "./http-error.ts";

export const Limit = z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size (1–200)" });
export const Cursor = z.string().max(512).optional().openapi({ description: "`nextCursor` of the previous page" });
export const WorkspaceParam = z.object({ workspaceId: z.string().min(1).max(64) });

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
export const errorDoc = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });

/** What every workspace route can answer besides success. */
export const errorResponses = {
  400: errorDoc("Invalid request; the message names the field"),
  401: errorDoc("Not signed in"),
  403: errorDoc("Your role does not allow this, or a cross-site request"),
  404: errorDoc("No such workspace or resource (also: one of another workspace)"),
};
