/**
 * @module
 * A conversation's status as people see it: a snooze that has run out reads as open, even before
 * anything has written the change.
 */
import type { ConversationStatus } from "./db/schema.ts";

export function effectiveStatus(status: ConversationStatus, snoozedUntil: number | null, now: number): { status: ConversationStatus; snoozedUntil: number | null } {
  const over = status === "snoozed" && snoozedUntil !== null && snoozedUntil <= now;
  return over ? { status: "open", snoozedUntil: null } : { status, snoozedUntil };
}
