/**
 * Test helpers: the real Worker entry called in this isolate with a real execution context (so
 * `waitUntil` work such as the D1 mirror flush has finished when a call returns), real D1 with
 * migrations applied, and webhooks signed exactly like Meta signs them.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { channels, memberships, workspaces, type Role } from "../workers/db/schema.ts";
import { POLICY_VERSION } from "../workers/privacy-policy.ts";
import { demoChannels, demoWorkspace } from "../workers/demo-workspace.ts";
import { conversationId } from "../workers/ingest.ts";
import worker from "../workers/index.ts";
import { signWebhookBody } from "../workers/webhook-signature.ts";

export const BASE = "https://wechatting.test";

export async function seedDemoWorkspace(): Promise<void> {
  const db = drizzle(env.DB);
  await db.insert(workspaces).values(demoWorkspace).onConflictDoNothing();
  await db.insert(channels).values(demoChannels).onConflictDoNothing();
}

export const channelId = (kind: "whatsapp" | "instagram" | "messenger") =>
  demoChannels.find((c) => c.kind === kind)!.id;

/** Calls the Worker and waits for everything it left running (`waitUntil`). */
export async function call(request: Request, bindings: Cloudflare.Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export type Body = string | object;
const bytesOf = (body: Body) => (typeof body === "string" ? body : JSON.stringify(body));

/** A webhook POST signed with the app secret (or another secret, or a given header). */
export async function webhookRequest(
  body: Body,
  options: { secret?: string; signature?: string | null; headers?: Record<string, string> } = {},
): Promise<Request> {
  const raw = new TextEncoder().encode(bytesOf(body));
  const signature =
    options.signature === undefined
      ? await signWebhookBody(raw, options.secret ?? env.META_APP_SECRET)
      : options.signature;
  const headers = new Headers({ "content-type": "application/json", ...options.headers });
  if (signature !== null) headers.set("x-hub-signature-256", signature);
  return new Request(`${BASE}/webhooks/meta`, { method: "POST", headers, body: raw });
}

export async function postWebhook(body: Body, bindings: Cloudflare.Env = env): Promise<Response> {
  return call(await webhookRequest(body), bindings);
}

export async function postOk(body: Body): Promise<{ received: number; stored: number; duplicates: number; quarantined: number; accountEvents: number }> {
  const response = await postWebhook(body);
  if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
  return response.json();
}

export type Agent = { cookie: string; csrf: string; userId: string; workspaceId: string; email: string };
export const OPERATOR_KEY = "test-operator-key";
export const PASSWORD = "correct horse battery staple";

type ApiInit = { method?: string; body?: unknown; as?: Agent | null; bearer?: string; headers?: Record<string, string> };

/** Calls the API as a signed-in user (cookie + CSRF token), with a bearer key, or anonymously. */
export async function api<T = any>(path: string, init: ApiInit = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const method = init.method ?? (init.body === undefined ? "GET" : "POST");
  const headers = new Headers(init.headers);
  if (init.as) {
    headers.set("cookie", init.as.cookie);
    headers.set("x-csrf-token", init.as.csrf);
  }
  if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  if (method !== "GET" && !headers.has("origin")) headers.set("origin", BASE);
  const response = await call(
    new Request(`${BASE}/api${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }),
  );
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}

export const apiGet = <T = any>(path: string, as: Agent | null) => api<T>(path, { as });

export function sessionCookie(response: { headers: Headers }): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("__Host-wc_session="));
  if (!cookie) throw new Error("no session cookie set");
  return cookie.split(";")[0]!;
}

/** Signs up a fresh user (who owns a new workspace) and returns their session. */
export async function signUp(fields: Record<string, unknown> = {}): Promise<Agent> {
  const email = (fields.email as string | undefined) ?? `user-${crypto.randomUUID()}@example.com`;
  const response = await api("/auth/signup", {
    body: { name: "Test User", email, password: PASSWORD, adult: true, acceptPolicyVersion: POLICY_VERSION, ...fields },
  });
  if (response.status !== 201) throw new Error(`sign-up answered ${response.status}: ${JSON.stringify(response.body)}`);
  return {
    cookie: sessionCookie(response),
    csrf: response.body.csrfToken,
    userId: response.body.user.id,
    workspaceId: response.body.workspaces[0].id,
    email,
  };
}

/** A signed-in member of the demo workspace (the one the fixtures' accounts are connected to). */
export async function demoMember(role: Role = "agent"): Promise<Agent> {
  const agent = await signUp();
  await drizzle(env.DB).insert(memberships).values({ workspaceId: demoWorkspace.id, userId: agent.userId, role, createdAt: Date.now() });
  return { ...agent, workspaceId: demoWorkspace.id };
}

export function conversationOf(kind: "whatsapp" | "instagram" | "messenger", customerId: string): string {
  return conversationId(env.CONVERSATION, channelId(kind), customerId);
}

export function stubOf(conversation: string) {
  return env.CONVERSATION.get(env.CONVERSATION.idFromString(conversation));
}

/** Every message of a conversation, straight from its Durable Object, in display order. */
export async function messagesIn(conversation: string) {
  return (await stubOf(conversation).history({ limit: 10_000 })).messages;
}

export async function countRows(table: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM "${table}"`).first<{ n: number }>();
  return row?.n ?? 0;
}

/** A D1 binding whose every call fails the way D1 does when it is unreachable. */
export const d1Outage = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error("D1_ERROR: Network connection lost.");
    },
  },
) as D1Database;

export type Mail = { id: string; to: string; subject: string; text: string; sentAt: number };

/** The mails the dev mailbox holds for one recipient, newest first (read through its JSON route). */
export async function mailsTo(email: string): Promise<Mail[]> {
  const response = await call(new Request(`${BASE}/dev/mailbox/messages.json?to=${encodeURIComponent(email)}`));
  return (await response.json<{ messages: Mail[] }>()).messages;
}

/** The token of the newest link to `path` (e.g. "/reset-password") mailed to `email`. */
export async function mailedToken(email: string, path: string): Promise<string> {
  const prefix = `${BASE}${path}?token=`;
  for (const mail of await mailsTo(email)) {
    const line = mail.text.split("\n").find((l) => l.startsWith(prefix));
    if (line) return line.slice(prefix.length);
  }
  throw new Error(`no ${path} link mailed to ${email}`);
}

/** Signs in; `agent` is the new session when it worked. */
export async function signIn(email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const response = await api("/auth/signin", { body: { email, password }, headers });
  const agent: Agent | null =
    response.status === 200
      ? {
          cookie: sessionCookie(response),
          csrf: response.body.csrfToken,
          userId: response.body.user.id,
          workspaceId: response.body.workspaces[0]?.id,
          email,
        }
      : null;
  return { ...response, agent };
}

/** Runs one SQL statement against the test D1 and returns its rows. */
export async function sql<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T[]> {
  return (await env.DB.prepare(query).bind(...params).all<T>()).results;
}
