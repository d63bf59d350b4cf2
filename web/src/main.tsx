/**
 * @module
 * Entry point: learn whether a session exists, then render. Styles come from app.css (no inline
 * styles or scripts: the CSP forbids them).
 */
import { render } from "preact";
import { App } from "./app.tsx";
import { finishInPopup } from "./settings/meta-login.ts";
import { loadSession } from "./state/session.ts";
import "./app.css";

const root = document.getElementById("app")!;
if (window.location.pathname === "/oauth/callback") finishInPopup(root);
else {
  loadSession()
    .catch(() => undefined)
    .finally(() => {
      root.textContent = "";
      render(<App />, root);
    });
}
