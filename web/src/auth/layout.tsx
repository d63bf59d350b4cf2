/**
 * @module
 * The frame of the signed-out screens: the product name, one card, links between the screens.
 */
import type { ComponentChildren } from "preact";

export function AuthCard(props: { title: string; children: ComponentChildren; footer?: ComponentChildren }) {
  return (
    <main class="auth" id="main">
      <p class="brand" aria-hidden="true">
        WeChatting
      </p>
      <section class="card" aria-labelledby="auth-title">
        <h1 id="auth-title">{props.title}</h1>
        {props.children}
      </section>
      {props.footer && <nav class="auth-links" aria-label="Account">{props.footer}</nav>}
    </main>
  );
}
