/**
 * @module
 * Which of two reads of a conversation is current. Reads can answer out of order: the re-read for
 * one live change after the next one's, a page after a re-read, the detail asked on opening after a
 * refresh. Each read is numbered when it starts, and the copy of the later-started read wins. A
 * later start is what makes a copy current, not its revision (which restarts when an erased
 * conversation comes back): a change is announced only once D1 holds it, so every read started
 * after an announcement sees the change.
 */
let reads = 0;

export const startRead = () => ++reads;
