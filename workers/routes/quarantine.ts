/**
 * @module
 * Quarantined webhook items are the operator's to inspect: many belong to no workspace (an account
 * nobody connected), so this route sits behind the operator API key, not a member session.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Cursor, Limit, errorDoc } from "../api-schemas.ts";
import { operatorKey } from "../auth/operator-key.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { quarantine } from "../db/schema.ts";
import { QuarantineReason } from "../events.ts";
import { errorResponse } from "../http-error.ts";
import { validationHook } from "../validation.ts";

const QuarantinedItem = z
  .object({
    id: z.string(),
    receivedAt: z.number().int(),
    reason: QuarantineReason,
    detail: z.string(),
    object: z.string().nullable(),
    field: z.string().nullable(),
    accountId: z.string().nullable(),
    payload: z.unknown(),
  })
  .openapi("QuarantinedItem");

const QuarantineCursor = z.object({ t: z.number().int(), id: z.string() });

export const quarantineRoutes = new OpenAPIHono<{ Bindings: Cloudflare.Env }>({ defaultHook: validationHook });

quarantineRoutes.use("/quarantine", operatorKey());

quarantineRoutes.openapi(
  createRoute({
    method: "get",
    path: "/quarantine",
    summary: "Signed webhook items that could not be understood or routed, newest first (operator key)",
    security: [{ operatorKey: [] }],
    request: { query: z.object({ limit: Limit, cursor: Cursor, reason: QuarantineReason.optional() }) },
    responses: {
      200: {
        description: "A page of quarantined items",
        content: {
          "application/json": { schema: z.object({ items: z.array(QuarantinedItem), nextCursor: z.string().nullable() }) },
        },
      },
      400: errorDoc("Invalid request"),
      401: errorDoc("Missing or wrong operator key"),
    },
  }),
  async (c) => {
    const { limit, cursor, reason } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, QuarantineCursor) : undefined;
    if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
    const rows = await drizzle(c.env.DB)
      .select()
      .from(quarantine)
      .where(
        and(
          reason ? eq(quarantine.reason, reason) : undefined,
          after
            ? or(lt(quarantine.receivedAt, after.t), and(eq(quarantine.receivedAt, after.t), lt(quarantine.id, after.id)))
            : undefined,
        ),
      )
      .orderBy(desc(quarantine.receivedAt), desc(quarantine.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        items: page.map(({ dedupeKey: _, payload, ...row }) => ({ ...row, payload: JSON.parse(payload) as unknown })),
        nextCursor: rows.length > limit && last ? encodeCursor({ t: last.receivedAt, id: last.id }) : null,
      },
      200,
    );
  },
);
