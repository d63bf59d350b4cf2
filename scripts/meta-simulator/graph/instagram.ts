/**
 * @module
 * Instagram API with Instagram Login (SPEC §7.1, §7.3, §1.7): api.instagram.com's code exchange (its own
 * flat error shape), and on graph.instagram.com the long-lived exchange, the refresh, /me and
 * /me/subscribed_apps. Tokens of these hosts never work on graph.facebook.com and vice versa.
 */
import { Hono } from "hono";
import { graphJson, instagramOAuthError } from "./errors.ts";
import { authenticate, fail, pick, readParams, subscribedFields, success, topLevelFields, unsupported, type SimContext } from "./context.ts";
import { addGrant, addToken, hasScope, LONG_LIVED_SECONDS, SHORT_LIVED_INSTAGRAM_SECONDS, type Grant } from "./state.ts";

/** Webhook fields of Instagram Login subscriptions (SPEC §1.7). */
export const INSTAGRAM_FIELDS = [
  "comments",
  "live_comments",
  "message_echoes",
  "message_reactions",
  "messages",
  "messaging_handover",
  "messaging_optins",
  "messaging_postbacks",
  "messaging_referral",
  "messaging_seen",
  "standby",
];

/** api.instagram.com */
export function instagramApiRoutes(ctx: SimContext): Hono {
  const { state } = ctx;
  const api = new Hono();
  api.post("/oauth/access_token", async (c) => {
    const params = await readParams(c.req.raw);
    if (params.client_id !== state.instagramApp.id) return instagramOAuthError("Invalid platform app");
    if (params.client_secret !== state.instagramApp.secret) return instagramOAuthError("Error validating client secret.");
    if (params.grant_type !== "authorization_code") return instagramOAuthError("Invalid grant_type");
    const now = ctx.now();
    const code = params.code ? state.codes.get(params.code) : undefined;
    if (!code || code.kind !== "instagram_login" || code.usedAt !== null) {
      return instagramOAuthError("Matching code was not found or was already used");
    }
    if (code.expiresAt <= now) return instagramOAuthError("This authorization code has expired");
    // Instagram always wants the redirect_uri of the authorize step back (any, if the scenario set none).
    if (!params.redirect_uri || (code.redirectUri !== null && params.redirect_uri !== code.redirectUri)) {
      return instagramOAuthError(
        "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
      );
    }
    code.usedAt = now;
    const account = state.instagramAccounts.get(code.instagramAccountId ?? "");
    if (!account) return instagramOAuthError("Matching code was not found or was already used");
    const grant = addGrant(state, { appId: state.instagramApp.id, userId: account.scopedId, origin: "instagram_login", scopes: code.scopes, granular: [] });
    const token = addToken(state, grant, { host: "instagram", type: "INSTAGRAM", issuedAt: now, lifetime: SHORT_LIVED_INSTAGRAM_SECONDS, longLived: false });
    // Shape of Meta's "Business Login for Instagram" page; user_id is the app-scoped id (== GET /me `id`),
    // not the professional account id webhooks use (== GET /me `user_id`).
    return graphJson({ data: [{ access_token: token.value, user_id: account.scopedId, permissions: code.scopes.join(",") }] });
  });
  return api;
}

/** graph.instagram.com */
export function instagramGraphRoutes(ctx: SimContext): Hono {
  const { state } = ctx;
  const ig = new Hono();

  /** ig_exchange_token / ig_refresh_token: a new 60-day token in the same grant. */
  async function renew(request: Request, grantType: "ig_exchange_token" | "ig_refresh_token"): Promise<Response> {
    const params = await readParams(request);
    if (params.grant_type !== grantType) return fail(ctx, { code: 100, message: `(#100) grant_type must be ${grantType}` });
    if (grantType === "ig_exchange_token" && params.client_secret !== state.instagramApp.secret) {
      return fail(ctx, { code: 1, message: "Error validating client secret." });
    }
    const auth = await authenticate(ctx, request, params, "instagram");
    if (!auth.ok) return auth.response;
    const token = addToken(state, auth.grant, { host: "instagram", type: "INSTAGRAM", issuedAt: ctx.now(), lifetime: LONG_LIVED_SECONDS, longLived: true });
    return graphJson({ access_token: token.value, token_type: "bearer", expires_in: LONG_LIVED_SECONDS });
  }
  ig.get("/access_token", (c) => renew(c.req.raw, "ig_exchange_token"));
  ig.get("/refresh_access_token", (c) => renew(c.req.raw, "ig_refresh_token"));

  ig.get("/me", async (c) => {
    const params = await readParams(c.req.raw);
    const auth = await authenticate(ctx, c.req.raw, params, "instagram");
    if (!auth.ok) return auth.response;
    const account = accountOf(auth.grant);
    if (!account) return unsupported(ctx, "GET", "me");
    if (!hasScope(auth.grant, "instagram_business_basic")) return fail(ctx, { code: 10 });
    const record = {
      id: account.scopedId,
      user_id: account.id,
      username: account.username,
      name: account.name,
      account_type: "BUSINESS",
      profile_picture_url: `https://scontent.cdninstagram.com/v/${account.id}.jpg`,
    };
    return graphJson(pick(record, topLevelFields(params.fields, ["id"])));
  });

  ig.on(["GET", "POST", "DELETE"], "/:id/subscribed_apps", async (c) => {
    const id = c.req.param("id");
    const method = c.req.method;
    const params = await readParams(c.req.raw);
    const auth = await authenticate(ctx, c.req.raw, params, "instagram");
    if (!auth.ok) return auth.response;
    const account = accountOf(auth.grant);
    if (!account || (id !== "me" && id !== account.id && id !== account.scopedId)) return unsupported(ctx, method, id);
    if (!hasScope(auth.grant, "instagram_business_basic")) return fail(ctx, { code: 10 });
    const subscriptions = state.subscriptions.instagram;
    if (method === "GET") {
      const sub = subscriptions.get(account.id);
      return graphJson({ data: sub ? [{ id: state.instagramApp.id, name: state.instagramApp.name, subscribed_fields: sub.fields }] : [] });
    }
    if (method === "DELETE") {
      subscriptions.delete(account.id);
      return success();
    }
    const fields = subscribedFields(ctx, params, INSTAGRAM_FIELDS, hasScope(auth.grant, "instagram_business_manage_messages"), {
      code: 10,
      message: "(#10) Application does not have permission for this action: instagram_business_manage_messages is required",
    });
    if (fields instanceof Response) return fields;
    subscriptions.set(account.id, { appId: auth.token.appId, fields, at: ctx.now() });
    return success();
  });

  function accountOf(grant: Grant) {
    return [...state.instagramAccounts.values()].find((a) => a.scopedId === grant.userId);
  }

  return ig;
}
