/**
 * @module
 * Opaque keyset-pagination cursors: base64url JSON, validated on the way back in.
 */
import type { z } from "@hono/zod-openapi";
import { base64url } from "./hash.ts";

export function encodeCursor(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/** The decoded cursor, or null when it is not one this API issued. */
export function decodeCursor<T extends z.ZodType>(cursor: string, schema: T): z.infer<T> | null {
  try {
    const binary = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
    const parsed = schema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
