/**
 * @module
 * Typed client for the Meta Graph API calls of channel onboarding and token health (SPEC §7, §1.7):
 * OAuth code exchange (Embedded Signup, Facebook Login for Business), long-lived user tokens, debug_token,
 * WhatsApp Business Accounts and numbers, Pages, Instagram Login, revocation.
 *
 * Every method answers a {@link GraphResult}: Meta's answer zod-parsed into our shape, or a
 * {@link GraphError} translated from Meta's error (SPEC §5.5) with a clear message for people. It never
 * throws for anything Meta or the network does.
 *
 * Secrets
 * - Access tokens travel only in `Authorization: Bearer`, with `appsecret_proof` (hex HMAC-SHA256 of the
 *   token keyed by the app secret) on every token-bearing call.
 * - Exceptions, because Meta defines these calls with query parameters: the code exchange and
 *   `fb_exchange_token` (`client_secret`, the code, the short-lived token), `ig_exchange_token`
 *   (`client_secret`), and `debug_token` (`input_token`; the app token itself goes in the header). The
 *   Instagram code exchange is a form POST, so its secret is in the body. Such URLs are never logged,
 *   returned or put into errors by this module; callers must not log request URLs either.
 * - Every message that leaves this module (Meta's `message` included) has the token, the code and the app
 *   secrets redacted.
 *
 * Bases come from env (GRAPH_API_BASE = https://graph.facebook.com/v25.0 in production; the simulator in
 * dev and tests): no host is hard-coded here. WebCrypto only (workerd).
 */
import { z } from "@hono/zod-openapi";
import { hmacHex } from "../hash.ts";
import { Id } from "./common.ts";

export type GraphEnv = {
  GRAPH_API_BASE: string;
  INSTAGRAM_GRAPH_BASE: string;
  INSTAGRAM_API_BASE: string;
  META_APP_ID: string;
  META_APP_SECRET: string;
  INSTAGRAM_APP_ID?: string;
  INSTAGRAM_APP_SECRET?: string;
  /**
   * Where Meta's media hosts (lookaside.fbsbx.com, …) are reached: unset in production (as Meta gives
   * them); in dev and tests the simulator, which serves them under `/{host}/…`, so recorded webhooks'
   * media addresses never leave the machine.
   */
  META_MEDIA_BASE?: string;
};

export type GraphErrorKind = "token_expired" | "permission" | "rate_limited" | "invalid_request" | "wrong_app" | "unavailable" | "unknown";

export type GraphError = {
  /** HTTP status of Meta's answer; 0 when there was none (network failure, refused before sending). */
  status: number;
  /** Meta's error code (0 when Meta sent none). api.instagram.com's OAuth errors carry 400 here, as Meta writes it. */
  code: number;
  subcode: number | null;
  /** Meta's message (secrets redacted), for logs and support. */
  message: string;
  /** Ours: what happened and what to do, for the people using the product. */
  userMessage: string;
  kind: GraphErrorKind;
  /** Worth retrying later with backoff (rate limits, outages). */
  retryable: boolean;
  /** The channel must be reconnected (token dead or permission missing): mark it "needs reconnection". */
  reconnect: boolean;
  /** From X-Business-Use-Case-Usage `estimated_time_to_regain_access` or Retry-After, when Meta said (always set by this client). */
  retryAfterSeconds?: number | null;
  /** WhatsApp's `error_data.details` (secrets redacted): the precise reason, which Meta asks to build on. */
  details?: string | null;
};

export type GraphResult<T> = { ok: true; data: T } | { ok: false; error: GraphError };

/** `expiresIn` in seconds; null when Meta gave none (Embedded Signup business tokens do not expire). */
export type AccessToken = { accessToken: string; expiresIn: number | null };
/** Instagram's long-lived exchange and refresh always state the lifetime (≈ 60 days). */
export type ExpiringAccessToken = { accessToken: string; expiresIn: number };

export type TokenDebug = {
  isValid: boolean;
  /** null when Meta cannot parse the token at all. */
  appId: string | null;
  /** USER, PAGE, SYSTEM_USER, APP … (null when unparseable). */
  type: string | null;
  /** Epoch seconds; null = never expires (Meta's 0) or unknown. */
  expiresAt: number | null;
  dataAccessExpiresAt: number | null;
  issuedAt: number | null;
  scopes: string[];
  /** The objects (WABAs, Pages, Instagram accounts) each scope reaches. */
  granularScopes: { scope: string; targetIds: string[] }[];
  userId: string | null;
  /** Why the token is invalid, translated like any Graph error (null when valid). */
  problem: GraphError | null;
};

export type PhoneNumber = { id: string; displayPhoneNumber: string; verifiedName: string; qualityRating: string | null };
export type Waba = { id: string; name: string };
export type Page = { id: string; name: string; accessToken: string; instagram: { id: string; username: string } | null };
export type InstagramLogin = { accessToken: string; userId: string; permissions: string[] };
export type InstagramProfile = {
  /** App-scoped id (what the code exchange returns as user_id). */
  id: string;
  /** The professional account id webhooks use (`entry[].id`, recipient ids): route by this one. */
  userId: string;
  username: string;
  name: string | null;
};

export interface GraphClient {
  /** Embedded Signup / Facebook Login code → token. `redirectUri` only for redirect-based logins (must match the dialog's). */
  exchangeCode(code: string, redirectUri?: string): Promise<GraphResult<AccessToken>>;
  /** Short-lived → long-lived (≈ 60 days) Facebook user token. */
  longLivedUserToken(token: string): Promise<GraphResult<AccessToken>>;
  /** Inspects a Facebook token with the app token. A token of another app → error kind "wrong_app". */
  debugToken(token: string): Promise<GraphResult<TokenDebug>>;
  getPhoneNumber(token: string, phoneNumberId: string): Promise<GraphResult<PhoneNumber>>;
  listPhoneNumbers(token: string, wabaId: string): Promise<GraphResult<PhoneNumber[]>>;
  getWaba(token: string, wabaId: string): Promise<GraphResult<Waba>>;
  subscribeApp(token: string, wabaId: string): Promise<GraphResult<void>>;
  unsubscribeApp(token: string, wabaId: string): Promise<GraphResult<void>>;
  registerPhoneNumber(token: string, phoneNumberId: string, pin: string): Promise<GraphResult<void>>;
  /** The Pages the user granted, each with its Page token and linked Instagram account (all result pages). */
  listPages(userToken: string): Promise<GraphResult<Page[]>>;
  subscribePage(pageToken: string, pageId: string, fields: readonly string[]): Promise<GraphResult<void>>;
  unsubscribePage(pageToken: string, pageId: string): Promise<GraphResult<void>>;
  exchangeInstagramCode(code: string, redirectUri: string): Promise<GraphResult<InstagramLogin>>;
  instagramLongLived(token: string): Promise<GraphResult<ExpiringAccessToken>>;
  /** Another 60 days for a long-lived Instagram token that is at least 24 h old and still valid. */
  refreshInstagramToken(token: string): Promise<GraphResult<ExpiringAccessToken>>;
  instagramMe(token: string): Promise<GraphResult<InstagramProfile>>;
  subscribeInstagram(token: string, fields: readonly string[]): Promise<GraphResult<void>>;
  /** DELETE /me/permissions with a user or business token: the login and every token derived from it die. */
  revokePermissions(token: string): Promise<GraphResult<void>>;
}

// ---------------------------------------------------------------------------------------------------------
// Meta's shapes

const Seconds = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);

const GraphErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().int().optional(),
    error_subcode: z.number().int().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    fbtrace_id: z.string().optional(),
    error_data: z.object({ details: z.string().optional() }).optional(),
  }),
});

/** api.instagram.com/oauth/access_token failures. */
const InstagramOAuthErrorBody = z.object({ error_type: z.string(), code: z.number().int(), error_message: z.string() });

const TokenBody = z.object({ access_token: z.string().min(1), token_type: z.string().optional(), expires_in: Seconds.optional() });
const toAccessToken = (body: z.output<typeof TokenBody>): AccessToken => ({ accessToken: body.access_token, expiresIn: body.expires_in ?? null });
const ExpiringTokenBody = TokenBody.extend({ expires_in: Seconds });
const toExpiringToken = (body: z.output<typeof ExpiringTokenBody>): ExpiringAccessToken => ({ accessToken: body.access_token, expiresIn: body.expires_in });

const Success = z.object({ success: z.literal(true) });

const DebugBody = z.object({
  data: z.object({
    app_id: Id.optional(),
    type: z.string().optional(),
    application: z.string().optional(),
    expires_at: Seconds.optional(),
    data_access_expires_at: Seconds.optional(),
    issued_at: Seconds.optional(),
    is_valid: z.boolean(),
    scopes: z.array(z.string()).default([]),
    granular_scopes: z.array(z.object({ scope: z.string(), target_ids: z.array(Id).optional() })).default([]),
    user_id: Id.optional(),
    error: z.object({ code: z.number().int(), message: z.string(), subcode: z.number().int().optional() }).optional(),
  }),
});

const PhoneBody = z.object({
  id: Id,
  display_phone_number: z.string(),
  verified_name: z.string(),
  quality_rating: z.string().optional(),
});
const toPhone = (p: z.output<typeof PhoneBody>): PhoneNumber => ({
  id: p.id,
  displayPhoneNumber: p.display_phone_number,
  verifiedName: p.verified_name,
  qualityRating: p.quality_rating ?? null,
});

const Paging = z.object({ cursors: z.object({ after: z.string().optional() }).optional(), next: z.string().optional() }).optional();

const PagesBody = z.object({
  data: z.array(
    z.object({
      id: Id,
      name: z.string(),
      access_token: z.string().min(1),
      instagram_business_account: z.object({ id: Id, username: z.string() }).optional(),
    }),
  ),
  paging: Paging,
});

const InstagramLoginItem = z.object({
  access_token: z.string().min(1),
  user_id: Id,
  permissions: z.union([z.string().transform((s) => s.split(",").filter(Boolean)), z.array(z.string())]).optional(),
});
/** Meta documents `{data:[{…}]}`; older answers are the flat object. */
const InstagramLoginBody = z.union([z.object({ data: z.tuple([InstagramLoginItem], InstagramLoginItem) }), InstagramLoginItem]);

const InstagramMeBody = z.object({ id: Id, user_id: Id, username: z.string(), name: z.string().optional() });

// ---------------------------------------------------------------------------------------------------------
// Error translation (SPEC §5.5)

/** How a failure reads depends on what was being done: a 190 on the app token means our app config is wrong. */
export type Flavor = "default" | "code_exchange" | "app_token";

const RATE_LIMIT_CODES = new Set([4, 17, 32, 613, 130429, 131056, 133016]);
const UNAVAILABLE_CODES = new Set([1, 2, 131000, 131016, 133004]);
const TOKEN_CODES = new Set([0, 102, 190]);
const INVALID_CODES = new Set([100, 104, 2500, 131008, 131009, 133005, 133006, 133010]);

function classify(status: number, code: number, message: string, flavor: Flavor): GraphErrorKind {
  if (code === 101 || /Error validating (application|client secret)|Invalid appsecret_proof|Invalid platform app|Invalid client secret/i.test(message)) {
    return "wrong_app";
  }
  if (flavor === "app_token" && TOKEN_CODES.has(code)) return "wrong_app";
  if (TOKEN_CODES.has(code)) return "token_expired";
  if (code === 3 || code === 10 || (code >= 200 && code <= 299) || code === 131005 || code === 368) return "permission";
  if (RATE_LIMIT_CODES.has(code) || (code >= 80000 && code <= 80014)) return "rate_limited";
  if (UNAVAILABLE_CODES.has(code)) return "unavailable";
  if (INVALID_CODES.has(code) || (code >= 132000 && code <= 132016)) return "invalid_request";
  if (status >= 500) return "unavailable";
  if (status === 429) return "rate_limited";
  return "unknown";
}

const RECONNECT = "Reconnect this channel to keep receiving and sending messages.";

function userMessageFor(kind: GraphErrorKind, code: number, subcode: number | null, flavor: Flavor, retryAfterSeconds: number | null, metaUserMessage: string | null): string {
  switch (kind) {
    case "token_expired":
      switch (subcode) {
        case 458:
          return `Meta says WeChatting's access to this account was removed (the app was removed or its permissions were revoked). ${RECONNECT}`;
        case 459:
        case 464:
          return `Meta says the account that connected this channel needs attention: log in to Facebook and follow the instructions there, then reconnect this channel.`;
        case 460:
          return `Meta ended the login because the account's password was changed or for security reasons. ${RECONNECT}`;
        case 492:
          return `Meta says the person who connected this channel no longer has a role on the Page. Someone with a role on the Page should reconnect this channel.`;
        case 463:
          return `Meta says the access token has expired. ${RECONNECT}`;
        default:
          return code === 190 && subcode === null
            ? `Meta no longer accepts the access token of this channel. ${RECONNECT}`
            : `Meta says the access token has expired or is no longer valid. ${RECONNECT}`;
      }
    case "permission":
      if (code === 368) {
        return "Meta has temporarily blocked this account for policy violations. Check the account in Meta Business Suite; sending stays paused until Meta lifts the block.";
      }
      return "Meta says WeChatting is missing a permission for this. Reconnect this channel and keep every requested permission and account selected.";
    case "rate_limited": {
      const minutes = retryAfterSeconds ? Math.max(1, Math.ceil(retryAfterSeconds / 60)) : null;
      return `Meta is limiting how often WeChatting may call it right now. We will try again automatically${minutes ? ` in about ${minutes} minute${minutes === 1 ? "" : "s"}` : " shortly"}; nothing is lost.`;
    }
    case "unavailable":
      return "Meta is temporarily unavailable. We will try again automatically; if it lasts, check metastatus.com.";
    case "wrong_app":
      return flavor === "app_token" || code === 101 || code === 1 || code === 400
        ? "Meta did not accept WeChatting's app id or app secret. This is a server configuration problem: an administrator should check the Meta app settings."
        : "This login or token belongs to a different Meta app than WeChatting's. Connect the account through WeChatting (or create the token for the WeChatting app) and try again.";
    case "invalid_request":
      if (flavor === "code_exchange") {
        if (subcode === 36007) return "The Meta login took too long and its code expired. Start connecting again.";
        if (subcode === 36009) return "This Meta login was already used. Start connecting again.";
        if (subcode === 36008) return "The Meta login finished on a different address than it started. Start connecting again from this page.";
        return "Meta did not accept the login code. Start connecting again.";
      }
      if (code === 133005) return "The two-step verification PIN does not match the one set for this number. Enter the number's current PIN, or reset it in WhatsApp Manager.";
      if (code === 133006) return "This phone number must be verified again in WhatsApp Manager before it can be connected.";
      if (code === 100 && subcode === 33) {
        return "Meta could not find this account, or the login used has no access to it. Check the id, or reconnect and select this account.";
      }
      return metaUserMessage
        ? `Meta rejected the request: ${metaUserMessage}`
        : "Meta rejected the request as invalid. Check the details and try again; if it keeps happening, contact support.";
    case "unknown":
      return "Meta answered in a way WeChatting did not expect. Try again; if it keeps happening, contact support.";
  }
}

function makeError(parts: { status: number; code: number; subcode: number | null; message: string; kind: GraphErrorKind; flavor?: Flavor; retryAfterSeconds?: number | null; metaUserMessage?: string | null }): GraphError {
  const retryAfterSeconds = parts.retryAfterSeconds ?? null;
  return {
    status: parts.status,
    code: parts.code,
    subcode: parts.subcode,
    message: parts.message,
    userMessage: userMessageFor(parts.kind, parts.code, parts.subcode, parts.flavor ?? "default", retryAfterSeconds, parts.metaUserMessage ?? null),
    kind: parts.kind,
    retryable: parts.kind === "rate_limited" || parts.kind === "unavailable",
    reconnect: parts.kind === "token_expired" || (parts.kind === "permission" && parts.code !== 368),
    retryAfterSeconds,
  };
}

/** Seconds until Meta lets us back in: BUC `estimated_time_to_regain_access` (minutes) or Retry-After. */
function retryAfter(headers: Headers): number | null {
  let minutes = 0;
  const buc = headers.get("x-business-use-case-usage");
  if (buc) {
    try {
      const usage = JSON.parse(buc) as Record<string, { estimated_time_to_regain_access?: number }[]>;
      for (const entries of Object.values(usage)) {
        for (const entry of Array.isArray(entries) ? entries : []) minutes = Math.max(minutes, Number(entry.estimated_time_to_regain_access) || 0);
      }
    } catch {
      // A malformed header is no reason to fail the call.
    }
  }
  if (minutes > 0) return minutes * 60;
  const seconds = Number(headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

/** Meta's answer as JSON; undefined when it is empty or not JSON (outage pages, proxies). */
export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export function redactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const values = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => values.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
}

/** Meta's failure (any status, or an `error` object on a 200) → GraphError; null when the body is not one. */
export function translate(status: number, body: unknown, headers: Headers, flavor: Flavor, redact: (text: string) => string): GraphError | null {
  const graph = GraphErrorBody.safeParse(body);
  if (graph.success) {
    const e = graph.data.error;
    const message = redact(e.message ?? "");
    const code = e.code ?? 0;
    const subcode = e.error_subcode ?? null;
    const kind = e.code === undefined ? classify(status, -1, message, flavor) : classify(status, code, message, flavor);
    const retryAfterSeconds = kind === "rate_limited" ? retryAfter(headers) : null;
    const metaUserMessage = e.error_user_msg ? redact(e.error_user_msg) : null;
    const details = e.error_data?.details ? redact(e.error_data.details) : null;
    return { ...makeError({ status, code, subcode, message, kind, flavor, retryAfterSeconds, metaUserMessage }), details };
  }
  const instagram = InstagramOAuthErrorBody.safeParse(body);
  if (instagram.success) {
    const message = redact(instagram.data.error_message);
    const kind = classify(status, -1, message, flavor) === "wrong_app" ? "wrong_app" : "invalid_request";
    return makeError({ status, code: instagram.data.code, subcode: null, message, kind, flavor: flavor === "default" ? "code_exchange" : flavor });
  }
  return null;
}

const localError = (kind: GraphErrorKind, message: string, flavor: Flavor = "default"): { ok: false; error: GraphError } => ({
  ok: false,
  error: makeError({ status: 0, code: 0, subcode: null, message, kind, flavor }),
});

// ---------------------------------------------------------------------------------------------------------
// The client

const META_APP = "The Meta app (META_APP_ID/META_APP_SECRET)";
const INSTAGRAM_APP = "The Instagram app (INSTAGRAM_APP_ID/INSTAGRAM_APP_SECRET)";
const NUMERIC_ID = /^\d{1,20}$/;
const FIELD = /^[a-z_]{1,64}$/;
const TIMEOUT_MS = 20_000;

type Call<S extends z.ZodType> = {
  method: "GET" | "POST" | "DELETE";
  url: string;
  query?: Record<string, string | undefined>;
  /** The bearer token and the secret that proves it (appsecret_proof). */
  auth?: { token: string; secret: string };
  form?: Record<string, string>;
  json?: unknown;
  schema: S;
  flavor?: Flavor;
  /** Values of this call to redact besides the app secrets and the bearer token (codes, input tokens). */
  secrets?: (string | undefined)[];
};

export function graphClient(env: GraphEnv, fetcher?: typeof fetch): GraphClient {
  // Resolved per call: a test's fetch spy installed after the client was made still applies.
  const doFetch: typeof fetch = (input, init) => (fetcher ?? globalThis.fetch)(input, init);
  const graph = env.GRAPH_API_BASE.replace(/\/+$/, "");
  const igGraph = env.INSTAGRAM_GRAPH_BASE.replace(/\/+$/, "");
  const igApi = env.INSTAGRAM_API_BASE.replace(/\/+$/, "");
  const appToken = `${env.META_APP_ID}|${env.META_APP_SECRET}`;

  async function call<S extends z.ZodType>(c: Call<S>): Promise<GraphResult<z.output<S>>> {
    if (c.auth && !c.auth.secret) return localError("wrong_app", "The app secret is not configured on this server.", "app_token");
    const redact = redactor([env.META_APP_SECRET, env.INSTAGRAM_APP_SECRET, appToken, c.auth?.token, ...(c.secrets ?? [])]);
    const url = new URL(c.url);
    for (const [key, value] of Object.entries(c.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const headers = new Headers({ accept: "application/json" });
    if (c.auth) {
      headers.set("authorization", `Bearer ${c.auth.token}`);
      url.searchParams.set("appsecret_proof", await hmacHex(c.auth.secret, c.auth.token));
    }
    let body: string | undefined;
    if (c.form) {
      headers.set("content-type", "application/x-www-form-urlencoded");
      body = new URLSearchParams(c.form).toString();
    } else if (c.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(c.json);
    }

    let response: Response;
    try {
      response = await doFetch(url.toString(), { method: c.method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      const reason = error instanceof Error && error.name === "TimeoutError" ? "timed out" : "failed";
      return localError("unavailable", `The request to Meta ${reason}.`);
    }
    const parsed = await readJson(response);
    const failure = translate(response.status, parsed, response.headers, c.flavor ?? "default", redact);
    if (failure) return { ok: false, error: failure };
    if (!response.ok) {
      const kind = classify(response.status, -1, "", c.flavor ?? "default");
      return { ok: false, error: makeError({ status: response.status, code: 0, subcode: null, message: `Meta answered HTTP ${response.status} without an error body.`, kind }) };
    }
    const result = c.schema.safeParse(parsed);
    if (!result.success) {
      const issues = result.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
      return { ok: false, error: makeError({ status: response.status, code: 0, subcode: null, message: `Unexpected answer from Meta: ${issues}`, kind: "unknown" }) };
    }
    return { ok: true, data: result.data };
  }

  const map = <T, U>(result: GraphResult<T>, f: (data: T) => U): GraphResult<U> => (result.ok ? { ok: true, data: f(result.data) } : result);
  const done = (result: GraphResult<unknown>): GraphResult<void> => map(result, () => undefined);

  const facebook = (token: string) => ({ token, secret: env.META_APP_SECRET });
  const instagram = (token: string) => ({ token, secret: env.INSTAGRAM_APP_SECRET ?? "" });
  const checkIds = (...ids: string[]) => ids.find((id) => !NUMERIC_ID.test(id));
  const checkFields = (fields: readonly string[]) => (fields.length === 0 ? "(none)" : fields.find((f) => !FIELD.test(f)));
  // The input is never echoed: a swapped argument could be a token.
  const badId = () => localError("invalid_request", "An account id must be Meta's numeric id.");
  const badFields = (field: string) => localError("invalid_request", `Not a webhook field: ${JSON.stringify(field.slice(0, 40))}.`);
  const configured = () => Boolean(env.META_APP_ID && env.META_APP_SECRET);
  const instagramConfigured = () => Boolean(env.INSTAGRAM_APP_ID && env.INSTAGRAM_APP_SECRET);
  const notConfigured = (what: string) => localError("wrong_app", `${what} is not configured on this server.`, "app_token");

  /** ig_exchange_token and ig_refresh_token: both answer a 60-day token. */
  async function instagramToken(path: string, query: Record<string, string | undefined>, token: string): Promise<GraphResult<ExpiringAccessToken>> {
    if (!instagramConfigured()) return notConfigured(INSTAGRAM_APP);
    const result = await call({ method: "GET", url: `${igGraph}/${path}`, query, auth: instagram(token), schema: ExpiringTokenBody });
    return map(result, toExpiringToken);
  }

  return {
    async exchangeCode(code, redirectUri) {
      if (!configured()) return notConfigured(META_APP);
      const result = await call({
        method: "GET",
        url: `${graph}/oauth/access_token`,
        query: { client_id: env.META_APP_ID, client_secret: env.META_APP_SECRET, code, redirect_uri: redirectUri },
        schema: TokenBody,
        flavor: "code_exchange",
        secrets: [code],
      });
      return map(result, toAccessToken);
    },

    async longLivedUserToken(token) {
      if (!configured()) return notConfigured(META_APP);
      const result = await call({
        method: "GET",
        url: `${graph}/oauth/access_token`,
        query: { grant_type: "fb_exchange_token", client_id: env.META_APP_ID, client_secret: env.META_APP_SECRET, fb_exchange_token: token },
        schema: TokenBody,
        secrets: [token],
      });
      return map(result, toAccessToken);
    },

    async debugToken(token) {
      if (!configured()) return notConfigured(META_APP);
      const redact = redactor([env.META_APP_SECRET, appToken, token]);
      const result = await call({
        method: "GET",
        url: `${graph}/debug_token`,
        query: { input_token: token },
        auth: { token: appToken, secret: env.META_APP_SECRET },
        schema: DebugBody,
        flavor: "app_token",
        secrets: [token],
      });
      if (!result.ok) return result;
      const d = result.data.data;
      if (d.app_id !== undefined && d.app_id !== env.META_APP_ID) {
        return {
          ok: false,
          error: makeError({ status: 200, code: 0, subcode: null, message: `The token was issued for app ${d.app_id}, not ${env.META_APP_ID}.`, kind: "wrong_app" }),
        };
      }
      const problem = d.error
        ? makeError({
            status: 200,
            code: d.error.code,
            subcode: d.error.subcode ?? null,
            message: redact(d.error.message),
            kind: classify(200, d.error.code, d.error.message, "default"),
          })
        : null;
      return {
        ok: true,
        data: {
          isValid: d.is_valid,
          appId: d.app_id ?? null,
          type: d.type ?? null,
          expiresAt: d.expires_at ? d.expires_at : null,
          dataAccessExpiresAt: d.data_access_expires_at ? d.data_access_expires_at : null,
          issuedAt: d.issued_at ?? null,
          scopes: d.scopes,
          granularScopes: d.granular_scopes.map((g) => ({ scope: g.scope, targetIds: g.target_ids ?? [] })),
          userId: d.user_id ?? null,
          problem: d.is_valid ? null : (problem ?? makeError({ status: 200, code: 190, subcode: null, message: "debug_token: is_valid is false", kind: "token_expired" })),
        },
      };
    },

    async getPhoneNumber(token, phoneNumberId) {
      if (checkIds(phoneNumberId)) return badId();
      const result = await call({
        method: "GET",
        url: `${graph}/${phoneNumberId}`,
        query: { fields: "id,display_phone_number,verified_name,quality_rating" },
        auth: facebook(token),
        schema: PhoneBody,
      });
      return map(result, toPhone);
    },

    async listPhoneNumbers(token, wabaId) {
      if (checkIds(wabaId)) return badId();
      const result = await call({
        method: "GET",
        url: `${graph}/${wabaId}/phone_numbers`,
        query: { fields: "id,display_phone_number,verified_name,quality_rating", limit: "100" },
        auth: facebook(token),
        schema: z.object({ data: z.array(PhoneBody) }),
      });
      return map(result, (body) => body.data.map(toPhone));
    },

    async getWaba(token, wabaId) {
      if (checkIds(wabaId)) return badId();
      const result = await call({
        method: "GET",
        url: `${graph}/${wabaId}`,
        query: { fields: "id,name" },
        auth: facebook(token),
        schema: z.object({ id: Id, name: z.string() }),
      });
      return map(result, ({ id, name }) => ({ id, name }));
    },

    async subscribeApp(token, wabaId) {
      if (checkIds(wabaId)) return badId();
      return done(await call({ method: "POST", url: `${graph}/${wabaId}/subscribed_apps`, auth: facebook(token), schema: Success }));
    },

    async unsubscribeApp(token, wabaId) {
      if (checkIds(wabaId)) return badId();
      return done(await call({ method: "DELETE", url: `${graph}/${wabaId}/subscribed_apps`, auth: facebook(token), schema: Success }));
    },

    async registerPhoneNumber(token, phoneNumberId, pin) {
      if (checkIds(phoneNumberId)) return badId();
      if (!/^\d{6}$/.test(pin)) return localError("invalid_request", "The two-step verification PIN must be 6 digits.");
      return done(
        await call({
          method: "POST",
          url: `${graph}/${phoneNumberId}/register`,
          json: { messaging_product: "whatsapp", pin },
          auth: facebook(token),
          schema: Success,
          secrets: [pin],
        }),
      );
    },

    async listPages(userToken) {
      const pages: Page[] = [];
      let after: string | undefined;
      // Cursor paging (Meta's `next` links carry the token in the URL, so they are never followed).
      for (let round = 0; round < 20; round++) {
        const result = await call({
          method: "GET",
          url: `${graph}/me/accounts`,
          query: { fields: "id,name,access_token,instagram_business_account{id,username}", limit: "100", after },
          auth: facebook(userToken),
          schema: PagesBody,
        });
        if (!result.ok) return result;
        for (const page of result.data.data) {
          const ig = page.instagram_business_account;
          pages.push({ id: page.id, name: page.name, accessToken: page.access_token, instagram: ig ? { id: ig.id, username: ig.username } : null });
        }
        after = result.data.paging?.cursors?.after;
        if (!result.data.paging?.next || !after || result.data.data.length === 0) break;
      }
      return { ok: true, data: pages };
    },

    async subscribePage(pageToken, pageId, fields) {
      if (checkIds(pageId)) return badId();
      const badField = checkFields(fields);
      if (badField) return badFields(badField);
      return done(
        await call({
          method: "POST",
          url: `${graph}/${pageId}/subscribed_apps`,
          query: { subscribed_fields: fields.join(",") },
          auth: facebook(pageToken),
          schema: Success,
        }),
      );
    },

    async unsubscribePage(pageToken, pageId) {
      if (checkIds(pageId)) return badId();
      return done(await call({ method: "DELETE", url: `${graph}/${pageId}/subscribed_apps`, auth: facebook(pageToken), schema: Success }));
    },

    async exchangeInstagramCode(code, redirectUri) {
      if (!instagramConfigured()) return notConfigured(INSTAGRAM_APP);
      const result = await call({
        method: "POST",
        url: `${igApi}/oauth/access_token`,
        form: {
          client_id: env.INSTAGRAM_APP_ID ?? "",
          client_secret: env.INSTAGRAM_APP_SECRET ?? "",
          grant_type: "authorization_code",
          redirect_uri: redirectUri,
          code,
        },
        schema: InstagramLoginBody,
        flavor: "code_exchange",
        secrets: [code],
      });
      return map(result, (body) => {
        const item = "data" in body ? body.data[0] : body;
        return { accessToken: item.access_token, userId: item.user_id, permissions: item.permissions ?? [] };
      });
    },

    instagramLongLived(token) {
      return instagramToken("access_token", { grant_type: "ig_exchange_token", client_secret: env.INSTAGRAM_APP_SECRET }, token);
    },

    refreshInstagramToken(token) {
      return instagramToken("refresh_access_token", { grant_type: "ig_refresh_token" }, token);
    },

    async instagramMe(token) {
      if (!instagramConfigured()) return notConfigured(INSTAGRAM_APP);
      const result = await call({
        method: "GET",
        url: `${igGraph}/me`,
        query: { fields: "user_id,username,name" },
        auth: instagram(token),
        schema: InstagramMeBody,
      });
      return map(result, (me) => ({ id: me.id, userId: me.user_id, username: me.username, name: me.name ?? null }));
    },

    async subscribeInstagram(token, fields) {
      if (!instagramConfigured()) return notConfigured(INSTAGRAM_APP);
      const badField = checkFields(fields);
      if (badField) return badFields(badField);
      return done(
        await call({
          method: "POST",
          url: `${igGraph}/me/subscribed_apps`,
          query: { subscribed_fields: fields.join(",") },
          auth: instagram(token),
          schema: Success,
        }),
      );
    },

    async revokePermissions(token) {
      return done(await call({ method: "DELETE", url: `${graph}/me/permissions`, auth: facebook(token), schema: Success }));
    },
  };
}
