/**
 * @module
 * Entry point: learn whether a session exists, then render. Styles come from app.css (no inline
 * styles or scripts: the CSP forbids them).
 */
import { render } from "preact";
import { App } from "./app.tsx";
import { loadSession } from "./state/session.ts";
import "./app.css";

const root = document.getElementById("app")!;
loadSession()
  .catch(() => undefined)
  .finally(() => {
    root.textContent = "";
    render(<App />, root);
  });
