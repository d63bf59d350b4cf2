/**
 * @module
 * Building blocks shared by the WhatsApp and Messenger/Instagram normalisers: id coercion, the
 * parse-or-quarantine step every payload item goes through, and factories that give every part of the
 * model its "absent" value so the product modules only state what a payload actually carries.
 */
import { z } from "@hono/zod-openapi";
import type {
  ConversationChange,
  Context as ContextSchema,
  Customer,
  MessageContent,
  QuarantineReason,
  Referral as ReferralSchema,
  Reply as ReplySchema,
  Route,
  WebhookItem,
} from "../events.ts";

type Context = z.infer<typeof ContextSchema>;
type Referral = z.infer<typeof ReferralSchema>;
type Reply = z.infer<typeof ReplySchema>;
type StatusChange = Extract<ConversationChange, { kind: "status" }>;

/** Meta sends some ids (app_id, sticker_id, message_template_id) as JSON numbers; the model only has strings. */
export const Id = z.union([z.string(), z.number().int()]).transform(String);

/** Where an item sits in the POST body, e.g. `["entry", 0, "messaging", 1]`. */
export type Path = readonly PropertyKey[];

/** What a quarantined item is attributed to, plus its location for the detail text. */
export type Scope = { object: string | null; field: string | null; accountId: string | null; path: Path };

export function formatPath(path: Path): string {
  const text = path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    "",
  );
  return text || "(body)";
}

export function quarantine(reason: QuarantineReason, detail: string, scope: Scope, payload: unknown): WebhookItem {
  const { object, field, accountId } = scope;
  return { kind: "quarantine", reason, detail, object, field, accountId, payload };
}

/** One line per zod issue, each naming its absolute path in the body. */
export function issueSummary(error: z.ZodError, path: Path): string {
  return error.issues.map((issue) => `${formatPath([...path, ...issue.path])}: ${issue.message}`).join("; ");
}

/**
 * Parses one payload item and hands it to `use`; a mismatch becomes a single quarantine item, so one bad
 * item never costs its neighbours.
 */
export function parseItem<S extends z.ZodType>(
  schema: S,
  payload: unknown,
  scope: Scope,
  use: (data: z.output<S>) => WebhookItem[],
): WebhookItem[] {
  const result = schema.safeParse(payload);
  if (result.success) return use(result.data);
  return [quarantine("schema_mismatch", issueSummary(result.error, scope.path), scope, payload)];
}

export function conversation(route: Route, customer: Customer, change: ConversationChange): WebhookItem {
  return { kind: "conversation", route, customer, change };
}

/** The parts of a message every payload must state; everything else defaults to absent. */
type MessageBasics = Pick<MessageContent, "externalId" | "direction" | "type" | "timestamp">;

export function messageChange(parts: MessageBasics & Partial<MessageContent>): ConversationChange {
  const message = messageContent(parts);
  return { kind: "message", key: `m:${message.externalId}`, message };
}

/** A message with the given parts; everything else absent. */
export function messageContent(parts: MessageBasics & Partial<MessageContent>): MessageContent {
  const { externalId, direction, type, timestamp, ...present } = parts;
  return {
    externalId,
    direction,
    type,
    timestamp,
    text: null,
    media: null,
    attachments: [],
    location: null,
    contacts: [],
    reply: null,
    order: null,
    system: null,
    referral: null,
    context: null,
    errors: [],
    unsupportedType: null,
    echo: null,
    standby: false,
    ...present,
  };
}

/** Keyed by (message, status): each status of a message is its own event. */
export function statusChange(parts: Omit<StatusChange, "kind" | "key">): StatusChange {
  return { kind: "status", key: `s:${parts.target}:${parts.status}`, ...parts };
}

/** Keyed by the deleted message: it can only be deleted once, whichever event reports it. */
export function deletionChange(target: string, timestamp: number): ConversationChange {
  return { kind: "deletion", key: `d:${target}`, target, timestamp };
}

export function reply({ kind, ...present }: Pick<Reply, "kind"> & Partial<Reply>): Reply {
  return { kind, id: null, title: null, description: null, payload: null, responseJson: null, ...present };
}

export function referral(parts: Partial<Referral>): Referral {
  return {
    source: null,
    type: null,
    ref: null,
    adId: null,
    sourceUrl: null,
    headline: null,
    body: null,
    mediaType: null,
    mediaUrl: null,
    ctwaClid: null,
    welcomeText: null,
    ...parts,
  };
}

export function context(parts: Partial<Context>): Context {
  return { replyTo: null, story: null, forwarded: false, frequentlyForwarded: false, referredProduct: null, ...parts };
}
