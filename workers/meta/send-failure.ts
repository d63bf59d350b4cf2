/**
 * @module
 * What a failed send to Meta means for the outbox (SPEC §5.5): whether and when to try again, whether the
 * channel must be reconnected, whether the messaging window is closed. Classified by Meta's `code` (and
 * `error_subcode` on Messenger/Instagram), never by the HTTP status, on top of graph-client.ts's
 * translation of Meta's error body (redaction, usage headers, people-facing wording).
 */
import { z } from "@hono/zod-openapi";
import type { GraphError } from "./graph-client.ts";

export type Product = "whatsapp" | "instagram" | "messenger";

export const SendFailure = z.object({
  /** Meta's error code; 0 when Meta sent none (network failure, bare 5xx, refused before sending). */
  code: z.number().int(),
  subcode: z.number().int().nullable(),
  /** Short, for a badge or a list. */
  title: z.string(),
  /** For people: what happened and what to do. */
  message: z.string(),
  /** Meta's own words (WhatsApp `error_data.details`, else its message), secrets redacted. */
  details: z.string().nullable(),
  /**
   * never: sending it again cannot work. backoff: try again later with growing delays. pace_recipient:
   * too many messages to this customer (WhatsApp pair rate), others are unaffected. pace_number: the
   * business number's throughput is exhausted, slow every send of the number.
   */
  retry: z.enum(["never", "backoff", "pace_recipient", "pace_number"]),
  /** The earliest useful retry, when Meta said (usage headers) or the code implies it. */
  retryAfterMs: z.number().int().nonnegative().nullable(),
  /** The channel's token or permissions are gone: mark it "needs reconnection". */
  reconnect: z.boolean(),
  /** Meta refused because the customer service window is closed: only a template (WhatsApp) or HUMAN_AGENT may go. */
  windowClosed: z.boolean(),
});
export type SendFailure = z.infer<typeof SendFailure>;

type Override = Partial<Omit<SendFailure, "code" | "subcode" | "details">>;

const NEVER: Override = { retry: "never", retryAfterMs: null, reconnect: false };

const WHATSAPP_WINDOW =
  "The customer last wrote more than 24 hours ago, so WhatsApp only accepts an approved template now. Send a template to reopen the conversation.";
const MESSAGING_WINDOW =
  "More than 24 hours have passed since the customer's last message. A person may still answer with the human-agent tag within 7 days of it; otherwise wait until the customer writes again.";

/** WhatsApp codes with a meaning of their own for sending (the rest follow graph-client's kinds). */
const WHATSAPP: Record<number, Override> = {
  131047: { ...NEVER, title: "Outside the 24-hour window", message: WHATSAPP_WINDOW, windowClosed: true },
  131026: {
    ...NEVER,
    title: "Message undeliverable",
    message: "WhatsApp could not deliver this message: the number may not be on WhatsApp, or the customer has not accepted the latest terms or uses an old app. Do not resend; reach the customer another way.",
  },
  131056: {
    retry: "pace_recipient",
    retryAfterMs: 6_000,
    title: "Too many messages to this customer",
    message: "WhatsApp allows about one message every 6 seconds to the same customer. It will be sent again shortly; nothing is lost.",
  },
  130429: {
    retry: "pace_number",
    title: "Sending too fast",
    message: "This WhatsApp number reached its sending throughput. Messages are slowed down and sent again automatically; nothing is lost.",
  },
  131057: {
    retry: "backoff",
    retryAfterMs: 60_000,
    title: "WhatsApp is upgrading this number",
    message: "WhatsApp is raising this number's throughput, which takes about a minute. The message will be sent again automatically.",
  },
  131048: { ...NEVER, title: "Spam rate limit", message: "WhatsApp limited this number because too many customers blocked or reported it. Improve message quality before sending more." },
  131064: { ...NEVER, title: "Messaging limit reached", message: "WhatsApp's messaging limit for this number is reached. Try again after the limit resets (24 hours)." },
  131049: {
    retry: "backoff",
    retryAfterMs: 24 * 3_600_000,
    title: "Held back by WhatsApp",
    message: "WhatsApp did not deliver this marketing message to keep the customer's experience healthy. Wait at least 24 hours before trying again.",
  },
  131050: { ...NEVER, title: "Customer stopped marketing", message: "The customer asked not to receive marketing messages from this business. Do not resend." },
  130403: { ...NEVER, title: "Customer blocked", message: "This business has blocked the customer, so WhatsApp does not send to them." },
  368: {
    ...NEVER,
    title: "Account restricted",
    message: "Meta has restricted this WhatsApp account for a policy violation. Sending stays paused until Meta lifts it; check the account in WhatsApp Manager.",
  },
};

/** Messenger/Instagram: `code/subcode` (or `code/*`). */
const MESSAGING: Record<string, Override> = {
  "10/2018278": { ...NEVER, title: "Outside the messaging window", message: MESSAGING_WINDOW, windowClosed: true },
  "10/2534022": { ...NEVER, title: "Outside the messaging window", message: MESSAGING_WINDOW, windowClosed: true },
  "10/2018108": { ...NEVER, title: "Customer unavailable", message: "This person cannot receive messages from the business right now (they may have blocked it). Do not resend." },
  "551/*": { ...NEVER, title: "Customer unavailable", message: "This person is not available right now and cannot receive messages from the business." },
  "200/1545041": { ...NEVER, title: "Customer unavailable", message: "This person is not available right now and cannot receive messages from the business." },
  "10/1893063": { ...NEVER, title: "Account restricted", message: "Meta has restricted this account from messaging. Sending stays paused; check the account in Meta Business Suite." },
  "100/2534029": { ...NEVER, title: "Account restricted", message: "Meta has restricted this Instagram account from messaging. Sending stays paused; check the account in Meta Business Suite." },
  "368/*": {
    ...NEVER,
    title: "Temporarily blocked",
    message: "Meta has temporarily blocked this account for policy violations. Sending stays paused until Meta lifts the block.",
  },
};

const TITLE_OF_KIND: Record<GraphError["kind"], string> = {
  token_expired: "Channel needs reconnection",
  permission: "Missing permission",
  rate_limited: "Rate limited by Meta",
  invalid_request: "Rejected by Meta",
  wrong_app: "App configuration problem",
  unavailable: "Meta unavailable",
  unknown: "Not sent",
};

function override(product: Product, code: number, subcode: number | null): Override | undefined {
  if (product === "whatsapp") return WHATSAPP[code];
  return MESSAGING[`${code}/${subcode ?? ""}`] ?? MESSAGING[`${code}/*`];
}

/** A failure graph-client translated (Meta's body, or a local one with code 0) → what the outbox does with it. */
export function sendFailure(product: Product, error: GraphError): SendFailure {
  const rateLimitedMs = error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : null;
  const base: SendFailure = {
    code: error.code,
    subcode: error.subcode,
    title: TITLE_OF_KIND[error.kind],
    message: error.userMessage,
    details: error.details ?? (error.code === 0 ? null : error.message || null),
    retry: error.retryable ? "backoff" : "never",
    retryAfterMs: error.retryable ? rateLimitedMs : null,
    reconnect: error.reconnect,
    windowClosed: false,
  };
  const specific = override(product, error.code, error.subcode);
  const merged = { ...base, ...specific };
  // Throughput limits carry Meta's own estimate in the usage headers; it beats our default.
  if (merged.retry === "pace_number" && rateLimitedMs !== null) merged.retryAfterMs = rateLimitedMs;
  return merged;
}

/** Our own refusal before anything reached Meta (invalid content, unsupported kind for the product). */
export function localFailure(title: string, message: string): SendFailure {
  return { code: 0, subcode: null, title, message, details: null, retry: "never", retryAfterMs: null, reconnect: false, windowClosed: false };
}

/** No answer from Meta at all, or a 5xx without Meta's error body: an outage, worth retrying. */
export function unavailableFailure(details: string): SendFailure {
  return {
    code: 0,
    subcode: null,
    title: TITLE_OF_KIND.unavailable,
    message: "Meta could not be reached. The message will be sent again automatically; if it lasts, check metastatus.com.",
    details,
    retry: "backoff",
    retryAfterMs: null,
    reconnect: false,
    windowClosed: false,
  };
}
