/**
 * @module
 * Which of two copies of something in a conversation is current. Answers, refetched pages and live
 * frames can arrive in any order; each carries the conversation revision it was read at, and
 * revisions only grow, so the copy with the lower one is the older. Equal revisions are kept as the
 * newer: some changes (a member's unread count, a contact renamed) do not move the revision.
 */
export const isOlder = (incoming: { rev?: number }, shown: { rev?: number } | null | undefined): boolean =>
  shown?.rev !== undefined && incoming.rev !== undefined && incoming.rev < shown.rev;
