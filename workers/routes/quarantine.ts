/**
 * @module
 * Quarantined webhook items are the operator's to inspect: many belong to no workspace (an account
 * nobody connected), so this route sits behind the operator API key, not a member session.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Cursor, Limit, errorDoc } from "../api-schemas.ts";
import { operatorKey } from "../auth/operator-key.ts";
import { decodeCursor } from "../cursor.ts";
import { TimeIdCursor, newestFirst, olderThan, page } from "../keyset.ts";
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
    const after = cursor ? decodeCursor(cursor, TimeIdCursor) : undefined;
    if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
    const rows = await drizzle(c.env.DB)
      .select()
      .from(quarantine)
      .where(
        and(
          reason ? eq(quarantine.reason, reason) : undefined,
          olderThan(quarantine.receivedAt, quarantine.id, after),
        ),
      )
      .orderBy(...newestFirst(quarantine.receivedAt, quarantine.id))
      .limit(limit + 1);
    const { items, nextCursor } = page(rows, limit, (r) => ({ t: r.receivedAt, id: r.id }));
    return c.json(
      {
        items: items.map(({ dedupeKey: _, payload, ...row }) => ({ ...row, payload: JSON.parse(payload) as unknown })),
        nextCursor,
      },
      200,
    );
  },
);
