/**
 * @module
 * When Meta lets a business write to a customer (SPEC §5.2, §5.4), computed from the customer's last
 * message. Sends Meta would refuse are refused here first, with what is allowed instead, so an agent
 * never waits for a 131047 or a Messenger 10/2018278.
 */
import { z } from "@hono/zod-openapi";
import type { Product } from "./events.ts";

const HOUR = 3_600_000;
/** WhatsApp's customer service window and Messenger/Instagram's standard messaging window. */
export const SERVICE_WINDOW_MS = 24 * HOUR;
/** WhatsApp free entry point (click-to-WhatsApp ad, Page call-to-action). */
export const FREE_ENTRY_WINDOW_MS = 72 * HOUR;
/** Messenger/Instagram HUMAN_AGENT tag: a person may answer for 7 days after the customer's message. */
export const HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR;

export const SendWindow = z
  .object({
    freeForm: z.boolean().openapi({ description: "Any message kind may be sent now" }),
    until: z.number().int().nullable().openapi({ description: "When free-form sending ends (epoch ms)" }),
    humanAgent: z.boolean().openapi({ description: "Messenger/Instagram: a person may still answer with the HUMAN_AGENT tag" }),
    humanAgentUntil: z.number().int().nullable(),
    templatesOnly: z.boolean().openapi({ description: "WhatsApp outside the window: only approved templates" }),
    reason: z.string().openapi({ description: "The rule that applies, for people" }),
  })
  .openapi("SendWindow");
export type SendWindow = z.infer<typeof SendWindow>;

export type WindowInput = {
  product: Product;
  /** Meta time of the customer's newest message (epoch ms), null if they never wrote. */
  lastInboundAt: number | null;
  /** WhatsApp only: the free entry point window opened by an ad or call-to-action. */
  freeEntryUntil: number | null;
};

export function sendWindow(input: WindowInput, now: number): SendWindow {
  const { product, lastInboundAt, freeEntryUntil } = input;
  const serviceUntil = lastInboundAt === null ? null : lastInboundAt + SERVICE_WINDOW_MS;
  if (product === "whatsapp") {
    const until = Math.max(serviceUntil ?? 0, freeEntryUntil ?? 0) || null;
    const open = until !== null && now < until;
    const viaEntry = open && (freeEntryUntil ?? 0) > (serviceUntil ?? 0);
    return {
      freeForm: open,
      until: open ? until : null,
      humanAgent: false,
      humanAgentUntil: null,
      templatesOnly: !open,
      reason: open
        ? viaEntry
          ? "The customer came from an ad or call-to-action: any message may be sent for 72 hours."
          : "The customer wrote in the last 24 hours: any message may be sent."
        : lastInboundAt === null
          ? "The customer has not written yet: only approved templates can start the conversation."
          : "More than 24 hours since the customer's last message: only approved templates can be sent.",
    };
  }
  const open = serviceUntil !== null && now < serviceUntil;
  const humanAgentUntil = lastInboundAt === null ? null : lastInboundAt + HUMAN_AGENT_WINDOW_MS;
  const humanAgent = !open && humanAgentUntil !== null && now < humanAgentUntil;
  return {
    freeForm: open,
    until: open ? serviceUntil : null,
    humanAgent,
    humanAgentUntil: humanAgent ? humanAgentUntil : null,
    templatesOnly: false,
    reason: open
      ? "The customer wrote in the last 24 hours: any message may be sent."
      : humanAgent
        ? "More than 24 hours since the customer's last message: a person (not automation) may still answer with the HUMAN_AGENT tag for 7 days."
        : lastInboundAt === null
          ? "The customer has not written yet: Meta only lets businesses answer people who wrote first."
          : "More than 7 days since the customer's last message: nothing can be sent until the customer writes again.",
  };
}

export type SendKind = "text" | "media" | "template" | "reaction";

export type SendPermission =
  | { ok: true; messagingType: "RESPONSE" | "MESSAGE_TAG"; tag: "HUMAN_AGENT" | null }
  | { ok: false; code: "window_closed" | "human_agent_required" | "template_not_supported"; message: string };

/** Whether a send of `kind` may go to Meta now, and how it must be tagged. */
export function sendPermission(product: Product, window: SendWindow, kind: SendKind, humanAgent: boolean): SendPermission {
  if (product === "whatsapp") {
    if (kind === "template" || window.freeForm) return { ok: true, messagingType: "RESPONSE", tag: null };
    return {
      ok: false,
      code: "window_closed",
      message: `${window.reason} Send an approved template instead; the customer's reply reopens the window.`,
    };
  }
  if (kind === "template") {
    return { ok: false, code: "template_not_supported", message: "Instagram and Messenger have no message templates: send text or media." };
  }
  if (window.freeForm) return { ok: true, messagingType: "RESPONSE", tag: null };
  if (window.humanAgent) {
    if (humanAgent) return { ok: true, messagingType: "MESSAGE_TAG", tag: "HUMAN_AGENT" };
    return {
      ok: false,
      code: "human_agent_required",
      message: `${window.reason} Confirm that a person is answering (humanAgent: true) to send with the HUMAN_AGENT tag.`,
    };
  }
  return { ok: false, code: "window_closed", message: window.reason };
}
