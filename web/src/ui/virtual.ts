/**
 * @module
 * Preact binding for @tanstack/virtual-core: only the rows in view (plus overscan) are in the DOM,
 * so 10,000 messages or 5,000 conversations cost what a screenful does. Rows are measured as they
 * render, so messages of any height work.
 */
import {
  Virtualizer,
  elementScroll,
  observeElementOffset,
  observeElementRect,
  type VirtualizerOptions,
} from "@tanstack/virtual-core";
import { useLayoutEffect, useReducer, useState } from "preact/hooks";

type Options = Pick<VirtualizerOptions<HTMLElement, HTMLElement>, "count" | "estimateSize" | "getItemKey" | "overscan" | "anchorTo" | "followOnAppend"> & {
  getScrollElement: () => HTMLElement | null;
};

export function useVirtualizer(options: Options): Virtualizer<HTMLElement, HTMLElement> {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const full = {
    overscan: 8,
    ...options,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    onChange: () => rerender(0),
  };
  const [instance] = useState(() => new Virtualizer<HTMLElement, HTMLElement>(full));
  instance.setOptions(full);
  useLayoutEffect(() => instance._didMount(), []);
  useLayoutEffect(() => instance._willUpdate());
  return instance;
}
