/**
 * @module
 * Every mail the product sends goes through one small interface. MAIL_MODE "dev" keeps mails in the
 * D1 `dev_mailbox` table, readable at /dev/mailbox; "http" posts them to a transactional mail
 * provider's JSON API. Anything else, or "http" without its settings, throws: a misconfigured
 * production must not quietly drop reset links, nor file them in a mailbox anyone could read.
 */
import { drizzle } from "drizzle-orm/d1";
import { devMailbox } from "./db/schema.ts";

export type Mail = { to: string; subject: string; text: string };

export interface Mailer {
  send(mail: Mail): Promise<void>;
}

type MailEnv = Pick<Cloudflare.Env, "DB" | "MAIL_MODE" | "MAIL_FROM" | "MAIL_API_URL" | "MAIL_API_KEY">;

/** A line break in an address or subject could add headers in a provider that builds them from JSON. */
function assertSingleLine(mail: Mail): void {
  if (/[\r\n]/.test(mail.to) || /[\r\n]/.test(mail.subject)) throw new Error("mail recipient and subject must be one line each");
}

function devMailer(db: D1Database): Mailer {
  return {
    async send(mail) {
      assertSingleLine(mail);
      await drizzle(db)
        .insert(devMailbox)
        .values({ id: crypto.randomUUID(), to: mail.to, subject: mail.subject, text: mail.text, sentAt: Date.now() });
    },
  };
}

/** The API key travels only in the Authorization header: never in an error message or a log line. */
function httpMailer(env: MailEnv, fetcher: typeof fetch): Mailer {
  const { MAIL_FROM: from, MAIL_API_URL: url, MAIL_API_KEY: key } = env;
  if (!from || !url || !key) throw new Error("MAIL_MODE is http but MAIL_FROM, MAIL_API_URL or MAIL_API_KEY is missing");
  const endpoint = new URL(url);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(endpoint.hostname);
  if (endpoint.protocol !== "https:" && !loopback) throw new Error("MAIL_API_URL must use https");
  return {
    async send(mail) {
      assertSingleLine(mail);
      const response = await fetcher(endpoint, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ from, to: mail.to, subject: mail.subject, text: mail.text }),
      });
      // The body is not read into the message: providers echo recipients and sometimes credentials.
      await response.body?.cancel();
      if (!response.ok) throw new Error(`mail provider at ${endpoint.host} answered ${response.status}`);
    },
  };
}

/** The mailer MAIL_MODE asks for; throws when the configuration is incomplete (fail closed). */
export function mailerFor(env: MailEnv, fetcher: typeof fetch = fetch): Mailer {
  if (env.MAIL_MODE === "dev") return devMailer(env.DB);
  if (env.MAIL_MODE === "http") return httpMailer(env, fetcher);
  throw new Error(`MAIL_MODE must be "dev" or "http"`);
}
