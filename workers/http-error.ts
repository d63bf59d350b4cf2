/**
 * @module
 * Every error the API answers is JSON naming the problem: `{ "error": { "code", "message" } }`.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "@hono/zod-openapi";

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_signature" }),
      message: z.string(),
    }),
  })
  .openapi("Error");

export function errorResponse<S extends ContentfulStatusCode>(c: Context, status: S, code: string, message: string) {
  return c.json({ error: { code, message } }, status);
}
