/**
 * @module
 * A history-API router in one signal: screens read `route.value`, links call `navigate`. The Worker
 * serves index.html for every path that is not a file (single-page-application fallback).
 */
import { computed, signal } from "@preact/signals";

const location = signal(new URL(window.location.href));
window.addEventListener("popstate", () => (location.value = new URL(window.location.href)));

export function navigate(to: string, options: { replace?: boolean } = {}) {
  if (to === location.value.pathname + location.value.search) return;
  history[options.replace ? "replaceState" : "pushState"](null, "", to);
  location.value = new URL(window.location.href);
}

export const route = computed(() => {
  const { pathname, searchParams } = location.value;
  const parts = pathname.split("/").filter(Boolean);
  return { path: pathname, parts, query: searchParams };
});

/** Same-origin links navigate in place; modified clicks (new tab…) keep the browser's behaviour. */
export function onLinkClick(event: MouseEvent) {
  const anchor = (event.target as Element).closest("a");
  if (!anchor || anchor.origin !== window.location.origin || anchor.target || anchor.hasAttribute("download")) return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (anchor.pathname.startsWith("/api/") || anchor.pathname.startsWith("/dev/")) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
