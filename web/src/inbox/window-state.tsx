/**
 * @module
 * A conversation's messaging window as a short label: open until, closing soon, or closed (with the
 * HUMAN_AGENT extension where Instagram and Messenger allow it).
 */
import type { SendWindow as Window } from "../api/types.ts";
import { formatDuration } from "../format.ts";

const SOON_MS = 2 * 3600_000;

export function windowLabel(w: Window | undefined, now = Date.now()): { text: string; tone: "open" | "soon" | "closed" } {
  if (!w) return { text: "", tone: "open" };
  if (w.freeForm && w.until !== null) {
    const left = w.until - now;
    return left < SOON_MS ? { text: `Closes in ${formatDuration(left)}`, tone: "soon" } : { text: `Open · ${formatDuration(left)} left`, tone: "open" };
  }
  if (w.freeForm) return { text: "Open", tone: "open" };
  if (w.humanAgent && w.humanAgentUntil !== null) return { text: `Human agent only · ${formatDuration(w.humanAgentUntil - now)}`, tone: "soon" };
  return { text: "Window closed", tone: "closed" };
}

export function WindowChip(props: { window: Window | undefined }) {
  const { text, tone } = windowLabel(props.window);
  return text ? <span class={`chip window-${tone}`}>{text}</span> : null;
}
