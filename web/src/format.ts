/**
 * @module
 * Dates and times as people read them, in the browser's own locale and time zone.
 */
const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const short = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

export const formatTime = (ms: number) => time.format(ms);
export const formatDateTime = (ms: number) => dateTime.format(ms);
export const dayKey = (ms: number) => new Date(ms).toDateString();

export function formatDay(ms: number, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return "Today";
  if (dayKey(ms) === dayKey(now - 86_400_000)) return "Yesterday";
  return day.format(ms);
}

/** List timestamps: the time today, the date before. */
export const formatListTime = (ms: number, now = Date.now()) => (dayKey(ms) === dayKey(now) ? time.format(ms) : short.format(ms));

export function formatDuration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}
