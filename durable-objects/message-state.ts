/**
 * @module
 * A message's delivery status, reactions and deletion are pure functions of the receipts that
 * target it, so the order in which Meta delivers them cannot change the result.
 */
import type { DeliveryStatus, Direction, MessageContent, MetaError } from "../workers/events.ts";

/** Forward-only ladder; `failed` stands beside it (see {@link deriveStatus}). */
export const STATUS_RANK: Record<Exclude<DeliveryStatus, "failed">, number> = {
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
};
const RANKED = Object.entries(STATUS_RANK) as [Exclude<DeliveryStatus, "failed">, number][];

export type StatusReceipt = { status: DeliveryStatus; error: MetaError | null };
export type ReactionReceipt = { key: string; actor: Direction; emoji: string | null; timestamp: number };
export type Reaction = { actor: Direction; emoji: string; timestamp: number };

/**
 * Statuses only move forward. A failure is final unless the message was delivered after all
 * (Meta reports that for multi-device users), in which case the higher status wins.
 * `floor` is the rank implied by delivery/read watermarks.
 */
export function deriveStatus(
  receipts: readonly StatusReceipt[],
  floor: number,
): { status: DeliveryStatus | null; rank: number; error: MetaError | null } {
  let rank = floor;
  let failure: MetaError | null = null;
  let failed = false;
  for (const receipt of receipts) {
    if (receipt.status === "failed") {
      failed = true;
      failure ??= receipt.error;
    } else {
      rank = Math.max(rank, STATUS_RANK[receipt.status]);
    }
  }
  if (failed && rank < STATUS_RANK.delivered) return { status: "failed", rank: 0, error: failure };
  const status = RANKED.find(([, r]) => r === rank)?.[0] ?? null;
  return { status, rank, error: failure };
}

/** Each side keeps its latest reaction (by Meta time, then key); a removal clears it. */
export function deriveReactions(receipts: readonly ReactionReceipt[]): Reaction[] {
  const latest = new Map<Direction, ReactionReceipt>();
  for (const receipt of receipts) {
    const current = latest.get(receipt.actor);
    if (
      !current ||
      receipt.timestamp > current.timestamp ||
      (receipt.timestamp === current.timestamp && receipt.key > current.key)
    ) {
      latest.set(receipt.actor, receipt);
    }
  }
  return [...latest.values()]
    .filter((r): r is ReactionReceipt & { emoji: string } => r.emoji !== null)
    .map(({ actor, emoji, timestamp }) => ({ actor, emoji, timestamp }))
    .sort((a, b) => a.actor.localeCompare(b.actor));
}

/** What is left of a message its sender deleted: where it was, never what it said. */
export function tombstone(content: MessageContent): MessageContent {
  return {
    ...content,
    text: null,
    media: null,
    attachments: [],
    location: null,
    contacts: [],
    reply: null,
    order: null,
    referral: null,
  };
}

/** The one-line summary shown in conversation lists. */
export function preview(content: MessageContent, deleted: boolean): string {
  if (deleted) return "Message deleted";
  const text = content.text ?? content.reply?.title ?? content.location?.name ?? content.order?.text ?? null;
  return (text ?? `[${content.type}]`).slice(0, 140);
}
