/**
 * @module
 * What every simulated Graph endpoint needs: the state and clock, Meta-shaped error responses, request
 * parameters (Graph reads them from the query string and from form or JSON bodies alike), the access
 * token (`Authorization: Bearer|OAuth …` or `access_token`) and the `appsecret_proof` check Meta applies
 * when "Require App Secret" is on.
 */
import { graphErrorBody, graphErrorResponse, graphJson, type ErrorContext, type GraphErrorSpec } from "./errors.ts";
import { checkToken, hasScope, reaches, type Grant, type GraphState, type Host, type TokenRecord } from "./state.ts";

const encoder = new TextEncoder();

/** Hex HMAC-SHA256 with WebCrypto (Node and workerd alike): how Meta derives appsecret_proof. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

export type SimContext = {
  state: GraphState;
  /** Epoch seconds. */
  now(): number;
  /** Epoch milliseconds (status webhook timing). */
  nowMs(): number;
};

export type Params = Record<string, string>;

function errorContext(ctx: SimContext, expiredAt?: Date): ErrorContext {
  const context = { appId: ctx.state.app.id, businessId: ctx.state.businessId, now: new Date(ctx.now() * 1000) };
  return expiredAt ? { ...context, expiredAt } : context;
}

export function fail(ctx: SimContext, spec: GraphErrorSpec, expiredAt?: Date): Response {
  return graphErrorResponse(spec, errorContext(ctx, expiredAt));
}

export function errorBody(ctx: SimContext, spec: GraphErrorSpec, expiredAt?: Date) {
  return graphErrorBody(spec, errorContext(ctx, expiredAt));
}

/** Meta's answer for an object that does not exist or that the token cannot see (code 100, subcode 33). */
export function unsupported(ctx: SimContext, method: string, id: string): Response {
  return fail(ctx, {
    code: 100,
    subcode: 33,
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
  });
}

/** Query parameters merged with a form or JSON body (body wins, like Graph). */
export async function readParams(request: Request): Promise<Params> {
  const params: Params = Object.fromEntries(new URL(request.url).searchParams);
  if (request.method === "GET" || request.method === "HEAD") return params;
  const type = request.headers.get("content-type") ?? "";
  // Bytes, then decode: workerd warns when .text() reads a form body.
  const text = new TextDecoder().decode(await request.clone().arrayBuffer());
  if (!text) return params;
  if (type.includes("application/json")) {
    try {
      const body: unknown = JSON.parse(text);
      if (body && typeof body === "object" && !Array.isArray(body)) {
        for (const [key, value] of Object.entries(body)) {
          params[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
      }
    } catch {
      // Meta ignores a body it cannot read and complains about the missing parameter instead.
    }
  } else {
    for (const [key, value] of new URLSearchParams(text)) params[key] = value;
  }
  return params;
}

/** The presented access token: the Authorization header (Bearer or OAuth) or the access_token parameter. */
export function presentedToken(request: Request, params: Params): string | null {
  const header = request.headers.get("authorization");
  const match = header ? /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1] ?? params.access_token ?? null;
}

export function appSecretOf(state: GraphState, appId: string): string {
  if (appId === state.app.id) return state.app.secret;
  if (appId === state.instagramApp.id) return state.instagramApp.secret;
  // A token of someone else's app: we never know that app's secret, so no proof of ours matches.
  return `secret-of-app-${appId}`;
}

/** Meta's appsecret_proof rule: when present it must match; when "Require App Secret" is on it must be present. */
export async function checkProof(ctx: SimContext, token: string, secret: string, proof: string | undefined): Promise<Response | null> {
  if (proof === undefined || proof === "") {
    if (!ctx.state.requireAppsecretProof) return null;
    return fail(ctx, { code: 100, type: "GraphMethodException", message: "API calls from the server require an appsecret_proof argument" });
  }
  if (proof.toLowerCase() !== (await hmacHex(secret, token))) {
    return fail(ctx, { code: 100, type: "GraphMethodException", message: "Invalid appsecret_proof provided in the API argument" });
  }
  return null;
}

export type Authenticated = { ok: true; token: TokenRecord; grant: Grant } | { ok: false; response: Response };

/** Token present, known on this host, unrevoked, unexpired, and proven with the app secret. */
export async function authenticate(ctx: SimContext, request: Request, params: Params, host: Host): Promise<Authenticated> {
  const value = presentedToken(request, params);
  if (!value) return { ok: false, response: fail(ctx, { code: 104 }) };
  const check = checkToken(ctx.state, value, host, ctx.now());
  if (!check.ok) return { ok: false, response: fail(ctx, check.spec, check.expiredAt) };
  const proofError = await checkProof(ctx, value, appSecretOf(ctx.state, check.token.appId), params.appsecret_proof);
  if (proofError) return { ok: false, response: proofError };
  return check;
}

/**
 * A WhatsApp call on a WABA (or one of its numbers or media): token, proof, a token that is not a Page's,
 * the scope (management for WABA reads and writes, messaging for sends and media), then the target.
 */
export async function whatsappAccess(
  ctx: SimContext,
  request: Request,
  wabaId: string,
  method: string,
  objectId = wabaId,
  scope: "whatsapp_business_management" | "whatsapp_business_messaging" = "whatsapp_business_management",
): Promise<Response | { params: Params; token: TokenRecord; grant: Grant }> {
  const params = await readParams(request);
  const auth = await authenticate(ctx, request, params, "facebook");
  if (!auth.ok) return auth.response;
  if (auth.token.type === "PAGE") return unsupported(ctx, method, objectId);
  if (!hasScope(auth.grant, scope)) {
    return fail(ctx, { code: 200, message: "(#200) Permissions error", userTitle: "Missing permission", userMessage: `${scope} is required.` });
  }
  if (!reaches(auth.grant, scope, wabaId)) return unsupported(ctx, method, objectId);
  return { params, token: auth.token, grant: auth.grant };
}

/**
 * One page of a Graph edge: `limit` (default 25, at most 100) and base64 offset cursors, with a `next`
 * link that carries the access token in its URL like Meta's (well-behaved clients page by cursor).
 */
export function paged<T>(request: Request, params: Params, token: string, items: readonly T[]): { data: T[]; paging?: Record<string, unknown> } {
  const limit = Math.max(1, Math.min(100, Number(params.limit) || 25));
  const start = params.after ? Number(atob(params.after)) || 0 : 0;
  const data = items.slice(start, start + limit);
  if (data.length === 0) return { data };
  const cursors = { before: btoa(String(start)), after: btoa(String(start + data.length)) };
  const paging: Record<string, unknown> = { cursors };
  if (start + limit < items.length) {
    const next = new URL(request.url);
    next.searchParams.set("after", cursors.after);
    next.searchParams.set("access_token", token);
    paging.next = next.toString();
  }
  return { data, paging };
}

/** `fields=a,b{c,d},e` → top-level names (`["a", "b", "e"]`); nested selections are answered in full. */
export function topLevelFields(fields: string | undefined, defaults: readonly string[]): string[] {
  if (!fields) return [...defaults];
  const names: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of fields) {
    if (char === "{") depth += 1;
    else if (char === "}") depth -= 1;
    else if (char === "," && depth === 0) {
      names.push(current.trim());
      current = "";
    } else if (depth === 0) current += char;
  }
  names.push(current.trim());
  return names.filter(Boolean);
}

/** Only the requested fields (plus `id`, which Graph always returns). */
export function pick(record: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (record[field] !== undefined) out[field] = record[field];
  if (record.id !== undefined) out.id = record.id;
  return out;
}

/**
 * `subscribed_fields` of a subscribed_apps POST, checked like Meta: required, each one of `allowed`, and
 * messaging fields only with the messaging permission. Returns the fields or Meta's error.
 */
export function subscribedFields(ctx: SimContext, params: Params, allowed: readonly string[], canMessage: boolean, missing: GraphErrorSpec): string[] | Response {
  const fields = (params.subscribed_fields ?? "").split(",").map((f) => f.trim()).filter(Boolean);
  if (fields.length === 0) return fail(ctx, { code: 100, message: "(#100) The parameter subscribed_fields is required." });
  const bad = fields.findIndex((f) => !allowed.includes(f));
  if (bad >= 0) {
    return fail(ctx, { code: 100, message: `(#100) Param subscribed_fields[${bad}] must be one of {${allowed.join(", ")}} - got "${fields[bad]}".` });
  }
  if (!canMessage && fields.some((f) => f.startsWith("messag") || f === "standby")) return fail(ctx, missing);
  return fields;
}

export function success(): Response {
  return graphJson({ success: true });
}
