/**
 * @module
 * The local dev mailbox (mounted at /dev/mailbox): every mail the product "sent" while MAIL_MODE is
 * "dev", newest first, as an HTML page for people and as JSON for tests and scripts. In any other mode
 * both answer 404, so a production Worker never shows anyone's reset links.
 *
 * The page is plain escaped HTML with no script, no inline style and no external resource, so it works
 * under the strict CSP of workers/security-headers.ts; only http(s) URLs in a mail become links.
 */
import { desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { html } from "hono/html";
import { devMailbox as mailbox } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";

const PAGE_SIZE = 100;

type Row = typeof mailbox.$inferSelect;

export const devMailbox = new Hono<{ Bindings: Cloudflare.Env }>();

devMailbox.use(async (c, next) => {
  if (c.env.MAIL_MODE !== "dev") return errorResponse(c, 404, "not_found", `No route for ${c.req.method} ${c.req.path}`);
  await next();
  // The mails hold live sign-in links: keep them out of every cache.
  c.header("Cache-Control", "no-store");
});

async function newestMails(db: D1Database, to: string | undefined): Promise<Row[]> {
  const query = drizzle(db).select().from(mailbox);
  return (to ? query.where(eq(mailbox.to, to)) : query).orderBy(desc(mailbox.sentAt), desc(mailbox.id)).limit(PAGE_SIZE);
}

/** `?to=` (optional, exact recipient). */
const recipient = (value: string | undefined) => value?.trim().slice(0, 320) || undefined;

devMailbox.get("/messages.json", async (c) => {
  return c.json({ messages: await newestMails(c.env.DB, recipient(c.req.query("to"))) });
});

const URL_PATTERN = /https?:\/\/[^\s<>"']+/g;

/** The text, escaped, with http(s) URLs as links (trailing punctuation stays text). */
function linkify(text: string) {
  const parts: unknown[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, "");
    parts.push(text.slice(last, match.index), html`<a href="${url}">${url}</a>`);
    last = match.index + url.length;
  }
  parts.push(text.slice(last));
  return parts;
}

const mailView = (mail: Row) => {
  const sent = new Date(mail.sentAt).toISOString();
  return html`<article aria-labelledby="mail-${mail.id}">
<h2 id="mail-${mail.id}">${mail.subject}</h2>
<p>To <strong>${mail.to}</strong>, <time datetime="${sent}">${sent.replace("T", " ").slice(0, 19)} UTC</time></p>
<pre>${linkify(mail.text)}</pre>
</article>`;
};

devMailbox.get("/", async (c) => {
  const to = recipient(c.req.query("to"));
  const mails = await newestMails(c.env.DB, to);
  return c.html(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Dev mailbox · WeChatting</title>
</head>
<body>
<main>
<h1>Dev mailbox</h1>
<p>Local development only: every mail WeChatting sends lands here instead of being delivered. Newest first, at most ${PAGE_SIZE}.</p>
<form method="get" action="">
<label for="to">Recipient</label>
<input id="to" name="to" type="email" value="${to ?? ""}" autocomplete="off">
<button type="submit">Show</button>
</form>
${mails.length === 0 ? html`<p>No mail${to ? html` to ${to}` : ""} yet.</p>` : mails.map(mailView)}
</main>
</body>
</html>`);
});
