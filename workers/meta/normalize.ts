/**
 * @module
 * The single entry point from a verified, JSON-parsed Meta webhook POST body to normalised items. It
 * never throws: whatever cannot be understood comes back as a quarantine item carrying the raw payload,
 * because Meta must get its 200 regardless and nothing it sent may be lost.
 */
import { z } from "@hono/zod-openapi";
import type { WebhookItem } from "../events.ts";
import { issueSummary, quarantine, type Path, type Scope } from "./common.ts";
import { isMessagingObject, messagingEntryItems } from "./messaging.ts";
import { WHATSAPP_OBJECT, whatsAppEntryItems } from "./whatsapp.ts";

const Envelope = z.object({ object: z.string(), entry: z.array(z.unknown()) });

type EntryParser = (entry: unknown, path: Path) => WebhookItem[];

function entryParser(object: string): EntryParser | null {
  if (object === WHATSAPP_OBJECT) return whatsAppEntryItems;
  if (isMessagingObject(object)) return (entry, path) => messagingEntryItems(object, entry, path);
  return null;
}

/** Every entry, change and array item of the body, in payload order. */
export function normalizeWebhook(body: unknown): WebhookItem[] {
  const scope: Scope = { object: null, field: null, accountId: null, path: [] };
  const envelope = Envelope.safeParse(body);
  if (!envelope.success) return [quarantine("invalid_envelope", issueSummary(envelope.error, []), scope, body)];
  const { object, entry } = envelope.data;
  const parse = entryParser(object);
  if (!parse) return [quarantine("unknown_object", `unhandled webhook object "${object}"`, { ...scope, object }, body)];
  return entry.flatMap((item, i) => parse(item, ["entry", i]));
}
