/**
 * @module
 * Empty states that say what the screen is for and what to do next.
 */
import type { ComponentChildren } from "preact";

export function Empty(props: { title: string; children: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{props.title}</h2>
      {props.children}
    </div>
  );
}
