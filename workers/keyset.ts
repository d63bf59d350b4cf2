/**
 * @module
 * Keyset pagination over (time, id), newest first: stable while rows are added, unlike offsets.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { encodeCursor } from "./cursor.ts";

export const TimeIdCursor = z.object({ t: z.number().int(), id: z.string() });
export type TimeIdCursor = z.infer<typeof TimeIdCursor>;

/** Rows strictly after the cursor in (time DESC, id DESC) order. */
export function olderThan(time: SQLiteColumn, id: SQLiteColumn, after: TimeIdCursor | undefined): SQL | undefined {
  return after ? or(lt(time, after.t), and(eq(time, after.t), lt(id, after.id))) : undefined;
}

export const newestFirst = (time: SQLiteColumn, id: SQLiteColumn) => [desc(time), desc(id)];

/** Cuts the `limit + 1` rows a query fetched into a page and the cursor of the next one. */
export function page<T>(rows: T[], limit: number, key: (row: T) => TimeIdCursor): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(key(last)) : null };
}
