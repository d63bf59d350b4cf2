/**
 * @module
 * axe-core's WCAG 2.1 A/AA rules (contrast among them) run inside the page. The source goes in
 * through the DevTools protocol (`page.evaluate`), which the inbox's strict CSP does not govern,
 * so the page under test keeps its production headers.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

type Result = { id: string; impact: string | null; help: string; nodes: { target: string[]; failureSummary?: string }[] };

/**
 * Every WCAG A/AA violation on the page as it is now, one readable line per element. Text whose
 * contrast axe could not measure (a sticky bar or a dialog lay over it) is scrolled into view and
 * measured again; what still cannot be measured counts as a violation, so nothing passes unseen.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // Runs in the page, where axe is now a global.
  const { violations, unmeasured } = (await page.evaluate(`(async () => {
    const options = { runOnly: { type: "tag", values: ${JSON.stringify(TAGS)} }, resultTypes: ["violations"] };
    const first = await axe.run(document, options);
    const violations = first.violations;
    const unmeasured = [];
    for (const node of first.incomplete.find((r) => r.id === "color-contrast")?.nodes ?? []) {
      const element = document.querySelector(node.target[0]);
      element.scrollIntoView({ block: "center" });
      const again = await axe.run(element, { runOnly: ["color-contrast"] });
      violations.push(...again.violations);
      if (again.incomplete.length) unmeasured.push({ id: "color-contrast", impact: "serious", help: "Contrast could not be measured", nodes: [node] });
    }
    return { violations, unmeasured };
  })()`)) as { violations: Result[]; unmeasured: Result[] };
  return [...violations, ...unmeasured].flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} — ${n.target.join(" ")}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, " ")}` : ""}`),
  );
}

/**
 * Whether the focused element shows where focus is: an outline or a box-shadow (WCAG 2.4.7), read
 * from its computed style.
 */
export async function focusIsVisible(page: Page): Promise<{ element: string; visible: boolean }> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { element: "body", visible: false };
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const ring = style.boxShadow !== "none";
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("aria-label") ? "[" + el.getAttribute("aria-label") + "]" : "");
    return { element: name, visible: outline || ring };
  })()`)) as { element: string; visible: boolean };
}

/**
 * Elements that reach past the right edge of the window (WCAG 1.4.10 Reflow: at 320 CSS px wide
 * nothing should need scrolling sideways). Clipped or scrolled-away parts count too: text cut off
 * at the edge is text nobody can read, and axe cannot measure its contrast either.
 */
export async function sidewaysOverflow(page: Page): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
    const over = [];
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || el.closest(".visually-hidden")) continue;
      // Only the outermost offender: its children overflow with it.
      if (box.right > width + 1 && !over.some((o) => o.contains(el))) over.push(el);
    }
    return over.map((el) => name(el) + " (right edge at " + Math.round(el.getBoundingClientRect().right) + " px of " + width + ")");
  })()`)) as string[];
}
