/**
 * Test helpers for the privacy suites: the retention cron through the Worker's `scheduled`, Meta's
 * signed_request, form posts to the Meta callbacks, and full dumps of D1 and Durable Object storage
 * for canary scans.
 */
import { createScheduledController, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { base64url } from "../workers/hash.ts";
import worker from "../workers/index.ts";
import { RETENTION_CRON } from "../workers/privacy/retention.ts";
import { BASE, call, sql, stubOf } from "./helpers.ts";

export const DAY = 24 * 3600_000;

/** Runs the daily retention job the way the Cron Trigger does, at `at`. */
export async function runRetentionCron(at = Date.now()): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: RETENTION_CRON }), env);
}

/** Meta's signed_request: base64url(HMAC-SHA256(secret, payload)) "." base64url(JSON). */
export async function signedRequest(payload: object, secret = env.META_APP_SECRET): Promise<string> {
  const body = base64url(new TextEncoder().encode(JSON.stringify(payload)));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `${base64url(mac)}.${body}`;
}

export function postForm(path: string, fields: Record<string, string>): Promise<Response> {
  return call(
    new Request(`${BASE}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    }),
  );
}

/** Every value of every D1 table, as text. */
export async function dumpD1(): Promise<string> {
  const tables = await sql<{ name: string }>(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\' AND name <> 'sqlite_sequence'`,
  );
  const parts: string[] = [];
  for (const { name } of tables) parts.push(`${name}: ${JSON.stringify(await sql(`SELECT * FROM "${name}"`))}`);
  return parts.join("\n");
}

/** Every row of every table in a conversation Durable Object's SQLite storage, as text. */
export async function dumpConversationObject(conversationId: string): Promise<string> {
  return runInDurableObject(stubOf(conversationId), (_, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'`)
      .toArray();
    return tables.map(({ name }) => `${name}: ${JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray())}`).join("\n");
  });
}
