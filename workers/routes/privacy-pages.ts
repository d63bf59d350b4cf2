/**
 * @module
 * Public HTML pages: the privacy policy at `/privacy` (its "Last updated" date is the version users
 * accept) and the status page of a data-deletion request at `/privacy/deletion/{code}`, which shows
 * the request's progress and dates, or why it was refused, and nothing about the person.
 */
import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { rightsRequests } from "../db/schema.ts";
import { POLICY_VERSION } from "../privacy-policy.ts";

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

const date = (at: number | null) => (at === null ? "—" : new Date(at).toUTCString());

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escape(title)} · WeChatting</title></head>
<body><main><h1>${escape(title)}</h1>
${body}
</main></body></html>`;
}

const POLICY = `
<p><strong>Last updated: <time datetime="${POLICY_VERSION}">${POLICY_VERSION}</time></strong></p>
<h2>Who we are and what we hold</h2>
<p>WeChatting is a unified inbox for WhatsApp Business, Instagram and Messenger. For our users (business staff) we
are the controller of their account data: name, email, optional phone, a one-way password hash, sessions, memberships,
consents and a security log. For the customers who write to a business we process messages on that business's behalf.</p>
<h2>Your rights</h2>
<ul>
<li>Access and portability: export everything we hold about you as JSON from the privacy centre.</li>
<li>Rectification: correct your profile at any time.</li>
<li>Erasure: delete your account; it is deactivated at once and erased after a grace period in which you may cancel,
always within 30 days.</li>
<li>Restriction and objection: switches in the privacy centre that take effect at once.</li>
</ul>
<p>Every request is recorded and answered within one month.</p>
<h2>Cookies</h2>
<p>Only essential cookies (your session, and a consent id remembering your choice) are set until you opt in. Analytics
are first-party, counted per event and day without identifiers, and only with your consent; withdrawing is as easy as
giving it.</p>
<h2>Retention</h2>
<p>Expired sessions, exports, quarantined webhook payloads (30 days) and raw account events (90 days) are deleted
daily; businesses may set a message retention period. Deleted data can remain in encrypted platform backups for up to
30 more days, after which it is gone.</p>
<h2>Facebook and Instagram data deletion</h2>
<p>If you remove our app in your Facebook or Instagram settings and ask for deletion, we delete the data we received
about you and give you a confirmation code and a page showing the status of your request. You can also ask by email;
the same code and page apply.</p>`;

const STATUS_TEXT = {
  received: "Received: your request is recorded and will be carried out shortly.",
  in_progress: "In progress: we are deleting the data.",
  completed: "Completed: the data has been deleted.",
  refused: "Refused.",
  cancelled: "Cancelled.",
} as const;

export const privacyPages = new Hono<{ Bindings: Cloudflare.Env }>()
  .get("/", (c) => c.html(page("Privacy policy", POLICY)))
  .get("/deletion/:code", async (c) => {
    const code = c.req.param("code");
    const request = /^[A-Za-z0-9_-]{22,64}$/.test(code)
      ? await drizzle(c.env.DB).select().from(rightsRequests).where(eq(rightsRequests.confirmationCode, code)).get()
      : undefined;
    c.header("Cache-Control", "no-store");
    if (!request) return c.html(page("Deletion request not found", "<p>No request has this confirmation code. Check the link you were given.</p>"), 404);
    const refusal = request.status === "refused" ? `<p>Why: ${escape(request.outcome ?? "")}</p>` : "";
    return c.html(
      page(
        "Your data deletion request",
        `<p>Confirmation code: <code>${escape(code)}</code></p>
<p><strong>${STATUS_TEXT[request.status]}</strong></p>${refusal}
<dl><dt>Received</dt><dd>${date(request.receivedAt)}</dd>
<dt>Due by</dt><dd>${date(request.dueAt)}</dd>
<dt>Completed</dt><dd>${date(request.status === "completed" ? request.completedAt : null)}</dd></dl>`,
      ),
    );
  });
