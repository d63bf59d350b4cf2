/**
 * @module
 * The pure parts of the conversation's outbox: what a pending send looks like in the timeline, how long
 * to wait before the next attempt, and how a refusal is recorded.
 */
import type { MessageContent, MetaError } from "../workers/events.ts";
import { context, messageContent } from "../workers/meta/common.ts";
import type { OutboundContent, SendFailure } from "../workers/meta/send.ts";

/** After this many attempts a retryable failure is final: the agent sees why and may send again. */
export const MAX_SEND_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 10 * 60_000;

/** Our own send, as it shows in the timeline until (and after) Meta gives it an id. */
export function outboundContent(externalId: string, content: Exclude<OutboundContent, { kind: "reaction" }>, replyTo: string | null, now: number): MessageContent {
  const base = messageContent({
    externalId,
    direction: "out",
    type: "text",
    timestamp: now,
    context: replyTo ? context({ replyTo }) : null,
  });
  switch (content.kind) {
    case "text":
      return { ...base, text: content.text };
    case "media":
      return {
        ...base,
        type: content.mediaType,
        text: content.caption ?? null,
        media: {
          id: content.mediaId,
          mimeType: null,
          sha256: null,
          url: null,
          caption: content.caption ?? null,
          filename: content.filename ?? null,
          voice: null,
          animated: null,
        },
      };
    case "template":
      return { ...base, type: "template", text: templateSummary(content) };
  }
}

function templateSummary(content: Extract<OutboundContent, { kind: "template" }>): string {
  const values = (content.components ?? []).flatMap((c) => (c.parameters ?? []).flatMap((p) => ("text" in p && typeof p.text === "string" ? [p.text] : [])));
  return `Template ${content.name} (${content.language})${values.length > 0 ? `: ${values.join(" · ")}` : ""}`;
}

/**
 * How long to wait after a retryable failure. Meta's own estimate wins; a pair rate limit (131056)
 * backs off 4^n seconds as Meta advises; everything else doubles from one second.
 */
export function retryDelay(failure: SendFailure, attempt: number): number {
  if (failure.retryAfterMs !== null) return failure.retryAfterMs;
  const base = failure.retry === "pace_recipient" ? 4 ** Math.min(attempt, 5) * 1_000 : 2 ** Math.min(attempt, 10) * 1_000;
  // Jitter spreads the retries of many conversations paced by the same number.
  return Math.min(MAX_BACKOFF_MS, Math.round(base * (0.8 + Math.random() * 0.4)));
}

/** What the timeline shows for a failure: Meta's code, what happened and what to do. */
export function sendError(failure: SendFailure): MetaError {
  return { code: failure.code, title: failure.message, details: failure.details };
}
