/**
 * @module
 * The simulator's own control API (not Meta's), under `/__simulator/`, and the same operations as
 * functions for tests in the same isolate:
 *
 * - `POST /__simulator/codes` {@link CodeInput} → `{ code, kind, expiresAt, … }`: a login code as Meta's
 *   dialogs would hand to the browser (Embedded Signup, Facebook Login for Business, Instagram Login);
 * - `POST /__simulator/tokens` {@link TokenInput} → `{ token, type, userId, appId, expiresAt }`: a token
 *   minted directly (e.g. the system-user token of a manual WhatsApp connection);
 * - `POST /__simulator/tokens/:token/expire` and `…/revoke` (`{ subcode? }`, default 458: app removed);
 * - `POST /__simulator/faults` {@link FaultInput}; `DELETE /__simulator/faults` clears them;
 * - `POST /__simulator/send-faults` {@link SendFaultInput}: the next N sends fail (Meta error or network;
 *   read receipts and typing indicators pass);
 * - `POST /__simulator/outage` `{ mode: "refused" | "unavailable" | null }`: Meta down, and back;
 * - `PUT /__simulator/sending` {@link SendingInput}: status webhook delays, WhatsApp pair rate limit;
 * - `POST /__simulator/statuses/flush` `{ all? }` → `{ emitted }`: status webhooks due now (or all) go out;
 * - `POST /__simulator/media` {@link InboundMediaInput} → `{ id, url }`: a customer's media to fetch;
 * - `POST /__simulator/templates` {@link TemplateInput}: one more template in a WABA;
 * - `GET /__simulator/state`; `POST /__simulator/reset`.
 *
 * Errors of this API are `400 {"error": "…"}` / `404`, not Meta-shaped.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { SimContext } from "./context.ts";
import {
  addGrant,
  addToken,
  CODE_TTL_SECONDS,
  DEFAULT_SCOPES,
  DEMO_IDS,
  granularFor,
  LONG_LIVED_SECONDS,
  newCode,
  nextSystemUserId,
  resetState,
  revokeGrant,
  SHORT_LIVED_USER_SECONDS,
  snapshot,
  type CodeRecord,
  type GraphState,
  type MediaRecord,
  type TemplateRecord,
} from "./state.ts";
import { addMediaRecord, mediaUrl } from "./messages.ts";

const Ids = z.array(z.string().regex(/^\d{1,20}$/));

export const CodeInput = z.strictObject({
  kind: z.enum(["whatsapp_embedded_signup", "facebook_login", "instagram_login"]),
  /** Default: what the product's login asks for (state.ts DEFAULT_SCOPES). */
  scopes: z.array(z.string()).optional(),
  /** Embedded Signup: the WABA and number the customer picked (default the first demo WABA and its number). */
  wabaId: z.string().optional(),
  phoneNumberId: z.string().optional(),
  /**
   * Embedded Signup: other WABAs the business shares in the same grant (Meta's `waba_ids`); the
   * business token's granular scopes list them after the picked one.
   */
  sharedWabaIds: Ids.optional(),
  /** Facebook Login: the Pages the user granted (default every demo Page). */
  pages: Ids.optional(),
  /** Instagram Login: the professional account that logged in (default the demo account). */
  instagramAccountId: z.string().optional(),
  /** When given, the exchange must send the same redirect_uri. */
  redirectUri: z.string().optional(),
  /** Default: 30 s (Embedded Signup), 600 s (Facebook Login), 3600 s (Instagram Login). */
  ttlSeconds: z.number().int().positive().optional(),
});
export type CodeInput = z.input<typeof CodeInput>;
export type CodeResult = {
  code: string;
  kind: CodeRecord["kind"];
  expiresAt: number;
  wabaId?: string;
  phoneNumberId?: string;
  pages?: string[];
  instagramAccountId?: string;
};

export const TokenInput = z.strictObject({
  type: z.enum(["SYSTEM_USER", "USER", "PAGE", "INSTAGRAM"]).default("SYSTEM_USER"),
  scopes: z.array(z.string()).optional(),
  /** SYSTEM_USER/USER: the WABAs the token reaches (default every demo WABA). */
  wabaIds: Ids.optional(),
  /** USER: the Pages the token reaches (default every demo Page). */
  pages: Ids.optional(),
  /** PAGE: the Page it acts as (default the first demo Page). */
  pageId: z.string().optional(),
  /** INSTAGRAM: the account (default the demo account). */
  instagramAccountId: z.string().optional(),
  /** Seconds from now; null = never; ≤ 0 = already expired. Default: never (SYSTEM_USER, PAGE), 60 days otherwise. */
  expiresIn: z.number().int().nullable().optional(),
  /** Issue it for another app (its appsecret_proof can never match ours; debug_token shows the foreign app_id). */
  appId: z.string().regex(/^\d{1,20}$/).optional(),
});
export type TokenInput = z.input<typeof TokenInput>;
export type TokenResult = { token: string; type: string; userId: string; appId: string; expiresAt: number | null };

export const FaultInput = z.strictObject({
  /** GET, POST, DELETE; any when absent. */
  method: z.string().toUpperCase().optional(),
  /** A regular expression (JS source) tested against the request path, host prefix included, e.g. "subscribed_apps$". */
  pathPattern: z.string().min(1),
  code: z.number().int(),
  subcode: z.number().int().nullable().optional(),
  status: z.number().int().min(200).max(599).optional(),
  message: z.string().optional(),
  /** How many matching calls fail (default 1). */
  times: z.number().int().positive().default(1),
  /** Drop the connection instead of answering (the caller's fetch rejects); code/status are then unused. */
  network: z.boolean().default(false),
});
export type FaultInput = z.input<typeof FaultInput>;

/** A fault on the send endpoints (`…/messages`), WhatsApp, Messenger and Instagram alike. */
export const SendFaultInput = FaultInput.omit({ pathPattern: true, method: true }).extend({ code: z.number().int().default(0) });
export type SendFaultInput = z.input<typeof SendFaultInput>;

export const SendingInput = z.strictObject({
  statusDelays: z
    .strictObject({
      sent: z.number().int().nonnegative().optional(),
      delivered: z.number().int().nonnegative().nullable().optional(),
      read: z.number().int().nonnegative().nullable().optional(),
    })
    .optional(),
  pairRateLimit: z.boolean().optional(),
});
export type SendingInput = z.input<typeof SendingInput>;

export const OutageInput = z.strictObject({ mode: z.enum(["refused", "unavailable"]).nullable() });

export const InboundMediaInput = z.strictObject({
  product: z.enum(["whatsapp", "messenger", "instagram"]),
  /** The phone number, Page or Instagram account that received it (default the first demo one). */
  accountId: z.string().optional(),
  mimeType: z.string().default("image/jpeg"),
  /** The file, base64 (HTTP) or bytes (in process). */
  base64: z.string().optional(),
  bytes: z.instanceof(Uint8Array).optional(),
  filename: z.string().optional(),
});
export type InboundMediaInput = z.input<typeof InboundMediaInput>;

export const TemplateInput = z.strictObject({
  wabaId: z.string(),
  name: z.string().regex(/^[a-z0-9_]{1,512}$/),
  language: z.string(),
  status: z.enum(["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"]).default("APPROVED"),
  category: z.enum(["MARKETING", "UTILITY", "AUTHENTICATION"]).default("UTILITY"),
  /** Meta's shape; default one body without parameters. */
  components: z.array(z.record(z.string(), z.unknown())).optional(),
});
export type TemplateInput = z.input<typeof TemplateInput>;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };
const bad = (error: string): { ok: false; error: string } => ({ ok: false, error });

export function createCode(ctx: SimContext, raw: unknown): Outcome<CodeResult> {
  const parsed = CodeInput.safeParse(raw);
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const input = parsed.data;
  const { state } = ctx;
  const now = ctx.now();
  const record: CodeRecord = {
    code: newCode(),
    kind: input.kind,
    appId: input.kind === "instagram_login" ? state.instagramApp.id : state.app.id,
    scopes: input.scopes ?? DEFAULT_SCOPES[input.kind],
    wabaId: null,
    phoneNumberId: null,
    sharedWabaIds: [],
    pages: [],
    instagramAccountId: null,
    redirectUri: input.redirectUri ?? null,
    expiresAt: now + (input.ttlSeconds ?? CODE_TTL_SECONDS[input.kind]),
    usedAt: null,
  };
  const result: CodeResult = { code: record.code, kind: record.kind, expiresAt: record.expiresAt };
  if (input.kind === "whatsapp_embedded_signup") {
    const waba = state.wabas.get(input.wabaId ?? [...state.wabas.keys()][0] ?? "");
    if (!waba) return bad(`unknown WABA ${input.wabaId}`);
    const phoneId = input.phoneNumberId ?? [...state.phoneNumbers.values()].find((p) => p.wabaId === waba.id)?.id;
    const phone = state.phoneNumbers.get(phoneId ?? "");
    if (!phone || phone.wabaId !== waba.id) return bad(`phone number ${phoneId} is not in WABA ${waba.id}`);
    record.wabaId = result.wabaId = waba.id;
    record.phoneNumberId = result.phoneNumberId = phone.id;
    const shared = [...new Set(input.sharedWabaIds)].filter((id) => id !== waba.id);
    const unknownWaba = shared.find((id) => !state.wabas.has(id));
    if (unknownWaba) return bad(`unknown WABA ${unknownWaba}`);
    record.sharedWabaIds = shared;
  } else if (input.kind === "facebook_login") {
    const pages = input.pages ?? [...state.pages.keys()];
    const unknown = pages.find((p) => !state.pages.has(p));
    if (unknown) return bad(`unknown Page ${unknown}`);
    record.pages = result.pages = pages;
  } else {
    const account = state.instagramAccounts.get(input.instagramAccountId ?? [...state.instagramAccounts.keys()][0] ?? "");
    if (!account) return bad(`unknown Instagram account ${input.instagramAccountId}`);
    record.instagramAccountId = result.instagramAccountId = account.id;
  }
  state.codes.set(record.code, record);
  return { ok: true, value: result };
}

export function mintToken(ctx: SimContext, raw: unknown): Outcome<TokenResult> {
  const parsed = TokenInput.safeParse(raw ?? {});
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const input = parsed.data;
  const { state } = ctx;
  const now = ctx.now();
  const unknownIn = (ids: readonly string[], map: Map<string, unknown>) => ids.find((id) => !map.has(id));
  const lifetime = (fallback: number | null) => (input.expiresIn === undefined ? fallback : input.expiresIn);

  if (input.type === "INSTAGRAM") {
    const account = state.instagramAccounts.get(input.instagramAccountId ?? [...state.instagramAccounts.keys()][0] ?? "");
    if (!account) return bad(`unknown Instagram account ${input.instagramAccountId}`);
    const scopes = input.scopes ?? DEFAULT_SCOPES.instagram_login;
    const grant = addGrant(state, { appId: input.appId ?? state.instagramApp.id, userId: account.scopedId, origin: "minted", scopes, granular: [] });
    const seconds = lifetime(LONG_LIVED_SECONDS);
    return done(addToken(state, grant, { host: "instagram", type: "INSTAGRAM", issuedAt: now, lifetime: seconds, longLived: seconds === null || seconds > 3_600 }));
  }

  const wabaIds = input.wabaIds ?? [...state.wabas.keys()];
  const pages = input.type === "PAGE" ? [input.pageId ?? [...state.pages.keys()][0] ?? ""] : (input.pages ?? [...state.pages.keys()]);
  const unknown = unknownIn(wabaIds, state.wabas) ?? unknownIn(pages, state.pages);
  if (unknown !== undefined) return bad(`unknown account ${unknown}`);
  const instagramIds = pages.flatMap((id) => state.pages.get(id)?.instagramAccountId ?? []);
  const scopes = input.scopes ?? (input.type === "SYSTEM_USER" ? DEFAULT_SCOPES.whatsapp_embedded_signup : DEFAULT_SCOPES.facebook_login);
  const grant = addGrant(state, {
    appId: input.appId ?? state.app.id,
    userId: input.type === "SYSTEM_USER" ? nextSystemUserId(state) : DEMO_IDS.facebookUserId,
    origin: "minted",
    scopes,
    granular: granularFor(scopes, { wabaIds, pageIds: pages, instagramIds }),
  });
  const seconds = lifetime(input.type === "USER" ? LONG_LIVED_SECONDS : null);
  return done(
    addToken(state, grant, {
      host: "facebook",
      type: input.type,
      issuedAt: now,
      lifetime: seconds,
      longLived: seconds === null || seconds > SHORT_LIVED_USER_SECONDS,
      pageId: input.type === "PAGE" ? (pages[0] ?? null) : null,
    }),
  );
}

function done(token: { value: string; type: string; userId: string; appId: string; expiresAt: number | null }): Outcome<TokenResult> {
  return { ok: true, value: { token: token.value, type: token.type, userId: token.userId, appId: token.appId, expiresAt: token.expiresAt } };
}

export function addFault(ctx: SimContext, raw: unknown, { sparesReceipts = false } = {}): Outcome<null> {
  const parsed = FaultInput.safeParse(raw);
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const input = parsed.data;
  let regex: RegExp;
  try {
    regex = new RegExp(input.pathPattern);
  } catch {
    return bad(`pathPattern is not a regular expression: ${input.pathPattern}`);
  }
  ctx.state.faults.push({
    method: input.method ?? null,
    network: input.network,
    pathPattern: input.pathPattern,
    regex,
    code: input.code,
    subcode: input.subcode ?? null,
    status: input.status ?? null,
    message: input.message ?? null,
    remaining: input.times,
    sparesReceipts,
  });
  return { ok: true, value: null };
}

export function failSends(ctx: SimContext, raw: unknown): Outcome<null> {
  const parsed = SendFaultInput.safeParse(raw ?? {});
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  return addFault(ctx, { ...parsed.data, method: "POST", pathPattern: "/messages$" }, { sparesReceipts: true });
}

export function configureSending(ctx: SimContext, raw: unknown): Outcome<null> {
  const parsed = SendingInput.safeParse(raw ?? {});
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const { statusDelays, pairRateLimit } = parsed.data;
  if (statusDelays) ctx.state.statusDelays = { ...ctx.state.statusDelays, ...statusDelays };
  if (pairRateLimit !== undefined) ctx.state.pairRateLimit = pairRateLimit;
  return { ok: true, value: null };
}

export function addInboundMedia(ctx: SimContext, raw: unknown): Outcome<{ product: MediaRecord["product"]; id: string }> {
  const parsed = InboundMediaInput.safeParse(raw);
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const input = parsed.data;
  const { state } = ctx;
  const owners = { whatsapp: state.phoneNumbers, messenger: state.pages, instagram: state.instagramAccounts }[input.product];
  const ownerId = input.accountId ?? [...owners.keys()][0] ?? "";
  if (!owners.has(ownerId)) return bad(`unknown ${input.product} account ${ownerId}`);
  const bytes = input.bytes ?? Uint8Array.from(atob(input.base64 ?? ""), (c) => c.charCodeAt(0));
  const id = addMediaRecord(ctx, { product: input.product, ownerId, mimeType: input.mimeType, bytes, filename: input.filename ?? null });
  return { ok: true, value: { product: input.product, id } };
}

export function addTemplate(ctx: SimContext, raw: unknown): Outcome<TemplateRecord> {
  const parsed = TemplateInput.safeParse(raw);
  if (!parsed.success) return bad(z.prettifyError(parsed.error));
  const input = parsed.data;
  if (!ctx.state.wabas.has(input.wabaId)) return bad(`unknown WABA ${input.wabaId}`);
  const template: TemplateRecord = {
    ...input,
    id: `${input.wabaId.slice(-6)}${String(ctx.state.templates.length + 1).padStart(9, "0")}`,
    components: input.components ?? [{ type: "BODY", text: `Template ${input.name}` }],
  };
  ctx.state.templates.push(template);
  return { ok: true, value: template };
}

/** The token (only it) expires now; calls with it get 190/463. */
export function expireToken(ctx: SimContext, value: string): boolean {
  const token = ctx.state.tokens.get(value);
  if (!token) return false;
  token.expiresAt = ctx.now() - 1;
  return true;
}

/** The login behind the token is revoked (like removing the app): it and every token derived from it fail with 190/<subcode>. */
export function revokeToken(ctx: SimContext, value: string, subcode = 458): boolean {
  const { state } = ctx;
  const token = state.tokens.get(value);
  const grant = token && state.grants.get(token.grantId);
  if (!token || !grant) return false;
  revokeGrant(state, grant, token, subcode, "simulator", ctx.now());
  return true;
}

/** What the simulator object adds to the control API: the webhook sink lives there, not in the state. */
export type ControlHooks = {
  flushStatuses(options: { all?: boolean }): Promise<number>;
};

export function controlRoutes(ctx: SimContext, state: GraphState, hooks: ControlHooks): Hono {
  const control = new Hono();
  const answer = <T>(outcome: Outcome<T>, status: 200 | 201 = 201) =>
    outcome.ok ? Response.json(outcome.value ?? { ok: true }, { status }) : Response.json({ error: outcome.error }, { status: 400 });
  const body = async (request: Request): Promise<unknown> => {
    const text = await request.text();
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };

  control.post("/codes", async (c) => answer(createCode(ctx, await body(c.req.raw))));
  control.post("/tokens", async (c) => answer(mintToken(ctx, await body(c.req.raw))));
  control.post("/tokens/:token/expire", (c) =>
    expireToken(ctx, c.req.param("token")) ? Response.json({ ok: true }) : Response.json({ error: "unknown token" }, { status: 404 }),
  );
  control.post("/tokens/:token/revoke", async (c) => {
    const input = z.object({ subcode: z.number().int().optional() }).safeParse(await body(c.req.raw));
    if (!input.success) return Response.json({ error: z.prettifyError(input.error) }, { status: 400 });
    return revokeToken(ctx, c.req.param("token"), input.data.subcode) ? Response.json({ ok: true }) : Response.json({ error: "unknown token" }, { status: 404 });
  });
  control.post("/faults", async (c) => answer(addFault(ctx, await body(c.req.raw))));
  control.delete("/faults", () => {
    state.faults.length = 0;
    return Response.json({ ok: true });
  });
  control.post("/send-faults", async (c) => answer(failSends(ctx, await body(c.req.raw))));
  control.put("/sending", async (c) => answer(configureSending(ctx, await body(c.req.raw)), 200));
  control.post("/outage", async (c) => {
    const input = OutageInput.safeParse(await body(c.req.raw));
    if (!input.success) return Response.json({ error: z.prettifyError(input.error) }, { status: 400 });
    state.outage = input.data.mode;
    return Response.json({ ok: true });
  });
  control.post("/statuses/flush", async (c) => {
    const input = z.object({ all: z.boolean().optional() }).safeParse(await body(c.req.raw));
    if (!input.success) return Response.json({ error: z.prettifyError(input.error) }, { status: 400 });
    return Response.json({ emitted: await hooks.flushStatuses(input.data) });
  });
  control.post("/media", async (c) => {
    const outcome = addInboundMedia(ctx, await body(c.req.raw));
    if (!outcome.ok) return answer(outcome);
    const { product, id } = outcome.value;
    return Response.json({ id, url: await mediaUrl(ctx, new URL(c.req.url).origin, product, id) }, { status: 201 });
  });
  control.post("/templates", async (c) => answer(addTemplate(ctx, await body(c.req.raw))));
  control.get("/state", () => Response.json(snapshot(state, ctx.now())));
  control.post("/reset", () => {
    resetState(state);
    return Response.json({ ok: true });
  });
  return control;
}
