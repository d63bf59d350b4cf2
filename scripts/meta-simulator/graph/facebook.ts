/**
 * @module
 * graph.facebook.com: OAuth code exchange (Embedded Signup, Facebook Login for Business), fb_exchange_token,
 * debug_token, WhatsApp Business Accounts and phone numbers (read, subscribed_apps, register), Pages
 * (/me/accounts, subscribed_apps) and DELETE /me/permissions. SPEC §1.7, §7.
 */
import { Hono } from "hono";
import { graphJson } from "./errors.ts";
import {
  authenticate,
  checkProof,
  errorBody,
  fail,
  paged,
  pick,
  presentedToken,
  readParams,
  subscribedFields,
  success,
  topLevelFields,
  unsupported,
  whatsappAccess,
  type SimContext,
} from "./context.ts";
import {
  addGrant,
  addToken,
  checkToken,
  granularFor,
  hasScope,
  LONG_LIVED_SECONDS,
  nextSystemUserId,
  reaches,
  revokeGrant,
  SHORT_LIVED_USER_SECONDS,
  DATA_ACCESS_SECONDS,
  DEMO_IDS,
  type Grant,
  type TokenRecord,
} from "./state.ts";

/** Page webhook fields `POST /{page}/subscribed_apps` accepts (SPEC §1.7). */
export const PAGE_FIELDS = [
  "messages",
  "message_deliveries",
  "message_echoes",
  "message_edits",
  "message_reactions",
  "message_reads",
  "messaging_account_linking",
  "messaging_feedback",
  "messaging_game_plays",
  "messaging_handovers",
  "messaging_optins",
  "messaging_policy_enforcement",
  "messaging_postbacks",
  "messaging_referrals",
  "messaging_seen",
  "messenger_template_status_update",
  "response_feedback",
  "send_cart",
  "standby",
  "feed",
];

export function facebookRoutes(ctx: SimContext): Hono {
  const { state } = ctx;
  const fb = new Hono();

  // ---- OAuth -------------------------------------------------------------------------------------------
  fb.get("/oauth/access_token", async (c) => {
    const params = await readParams(c.req.raw);
    if (params.grant_type === "client_credentials" || params.client_id !== undefined || params.client_secret !== undefined) {
      if (params.client_id !== state.app.id) {
        return fail(ctx, { code: 101, message: params.client_id ? "Error validating application. Invalid application ID." : "Missing client_id parameter." });
      }
      if (params.client_secret !== state.app.secret) return fail(ctx, { code: 1, message: "Error validating client secret." });
    } else {
      return fail(ctx, { code: 101, message: "Missing client_id parameter." });
    }
    const now = ctx.now();

    if (params.grant_type === "client_credentials") {
      return graphJson({ access_token: `${state.app.id}|${state.app.secret}`, token_type: "bearer" });
    }

    if (params.grant_type === "fb_exchange_token") {
      const check = checkToken(state, params.fb_exchange_token ?? "", "facebook", now);
      if (!check.ok) return fail(ctx, check.spec, check.expiredAt);
      if (check.token.type !== "USER") return fail(ctx, { code: 100, message: "(#100) fb_exchange_token must be a user access token" });
      const token = addToken(state, check.grant, { host: "facebook", type: "USER", issuedAt: now, lifetime: LONG_LIVED_SECONDS, longLived: true });
      return graphJson({ access_token: token.value, token_type: "bearer", expires_in: LONG_LIVED_SECONDS });
    }

    if (!params.code) return fail(ctx, { code: 100, message: "(#100) Missing code parameter." });
    const code = state.codes.get(params.code);
    if (!code || code.kind === "instagram_login") return fail(ctx, { code: 100, type: "OAuthException", message: "Invalid verification code format." });
    if (code.usedAt !== null) return fail(ctx, { code: 100, subcode: 36009, type: "OAuthException", message: "This authorization code has been used." });
    if (code.expiresAt <= now) return fail(ctx, { code: 100, subcode: 36007, type: "OAuthException", message: "This authorization code has expired." });
    if (code.redirectUri !== null && params.redirect_uri !== code.redirectUri) {
      return fail(ctx, {
        code: 100,
        subcode: 36008,
        type: "OAuthException",
        message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
      });
    }
    code.usedAt = now;

    if (code.kind === "whatsapp_embedded_signup") {
      const wabaIds = code.wabaId ? [code.wabaId, ...code.sharedWabaIds] : [];
      const grant = addGrant(state, {
        appId: state.app.id,
        userId: nextSystemUserId(state),
        origin: code.kind,
        scopes: code.scopes,
        granular: granularFor(code.scopes, { wabaIds }),
      });
      // The business token of a Business Integration System User: no expiry, so no expires_in.
      const token = addToken(state, grant, { host: "facebook", type: "SYSTEM_USER", issuedAt: now, lifetime: null, longLived: true });
      return graphJson({ access_token: token.value, token_type: "bearer" });
    }
    const grant = addGrant(state, {
      appId: state.app.id,
      userId: DEMO_IDS.facebookUserId,
      origin: code.kind,
      scopes: code.scopes,
      granular: granularFor(code.scopes, { pageIds: code.pages, instagramIds: linkedInstagram(code.pages) }),
    });
    const token = addToken(state, grant, { host: "facebook", type: "USER", issuedAt: now, lifetime: SHORT_LIVED_USER_SECONDS, longLived: false });
    return graphJson({ access_token: token.value, token_type: "bearer", expires_in: SHORT_LIVED_USER_SECONDS });
  });

  fb.get("/debug_token", async (c) => {
    const request = c.req.raw;
    const params = await readParams(request);
    const caller = presentedToken(request, params);
    if (!caller) return fail(ctx, { code: 104 });
    const now = ctx.now();
    if (caller.includes("|")) {
      if (caller !== `${state.app.id}|${state.app.secret}`) return fail(ctx, { code: 190, message: "Invalid OAuth access token signature." });
      const proofError = params.appsecret_proof ? await checkProof(ctx, caller, state.app.secret, params.appsecret_proof) : null;
      if (proofError) return proofError;
    } else {
      const auth = await authenticate(ctx, request, params, "facebook");
      if (!auth.ok) return auth.response;
    }
    if (!params.input_token) return fail(ctx, { code: 100, message: "(#100) The parameter input_token is required" });
    const token = state.tokens.get(params.input_token);
    const grant = token && state.grants.get(token.grantId);
    if (!token || !grant || token.host !== "facebook") {
      return graphJson({ data: { error: { code: 190, message: "Invalid OAuth access token - Cannot parse access token" }, is_valid: false, scopes: [] } });
    }
    const check = checkToken(state, token.value, "facebook", now);
    const data: Record<string, unknown> = {
      app_id: token.appId,
      type: token.type,
      application: token.appId === state.app.id ? state.app.name : "Another App",
      data_access_expires_at: token.type === "USER" ? token.issuedAt + DATA_ACCESS_SECONDS : 0,
      expires_at: token.expiresAt ?? 0,
      is_valid: check.ok,
      issued_at: token.issuedAt,
      scopes: grant.scopes,
      granular_scopes: grant.granular,
      user_id: grant.userId,
    };
    if (token.type === "PAGE") data.profile_id = token.pageId;
    if (!check.ok) {
      // debug_token reports why the input token is invalid inside `data`, with `subcode` (not `error_subcode`).
      const { error } = errorBody(ctx, check.spec, check.expiredAt);
      data.error = { code: error.code, message: error.message, ...(error.error_subcode ? { subcode: error.error_subcode } : {}) };
    }
    return graphJson({ data });
  });

  // ---- The token's own node ----------------------------------------------------------------------------
  fb.get("/me", async (c) => {
    const params = await readParams(c.req.raw);
    const auth = await authenticate(ctx, c.req.raw, params, "facebook");
    if (!auth.ok) return auth.response;
    const { token } = auth;
    if (token.type === "PAGE") {
      const page = state.pages.get(token.pageId ?? "");
      return graphJson({ id: token.pageId, name: page?.name ?? "" });
    }
    return graphJson({ id: token.userId, name: token.type === "SYSTEM_USER" ? `${state.app.name} system user` : "Demo Owner" });
  });

  fb.get("/me/accounts", async (c) => {
    const request = c.req.raw;
    const params = await readParams(request);
    const auth = await authenticate(ctx, request, params, "facebook");
    if (!auth.ok) return auth.response;
    const { token, grant } = auth;
    if (token.type === "PAGE") return fail(ctx, { code: 100, message: "(#100) Tried accessing nonexisting field (accounts) on node type (Page)" });
    if (!hasScope(grant, "pages_show_list")) return fail(ctx, { code: 10, message: "(#10) This endpoint requires the 'pages_show_list' permission" });
    const pages = [...state.pages.values()].filter((p) => reaches(grant, "pages_show_list", p.id));
    const fields = topLevelFields(params.fields, ["access_token", "category", "name", "id", "tasks"]);
    const body = paged(request, params, token.value, pages);
    const data = body.data.map((page) => {
      const ig = page.instagramAccountId ? state.instagramAccounts.get(page.instagramAccountId) : undefined;
      const canSeeInstagram = grant.scopes.some((s) => s.startsWith("instagram_"));
      return pick(
        {
          id: page.id,
          name: page.name,
          category: page.category,
          tasks: ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
          access_token: pageToken(grant, token, page.id).value,
          instagram_business_account: ig && canSeeInstagram ? { id: ig.id, username: ig.username } : undefined,
        },
        fields,
      );
    });
    return graphJson({ ...body, data });
  });

  fb.delete("/me/permissions", async (c) => {
    const params = await readParams(c.req.raw);
    const auth = await authenticate(ctx, c.req.raw, params, "facebook");
    if (!auth.ok) return auth.response;
    if (auth.token.type === "PAGE") return fail(ctx, { code: 100, message: "(#100) Unsupported delete request. A user access token is required to revoke permissions." });
    revokeGrant(state, auth.grant, auth.token, 458, "api", ctx.now());
    return success();
  });

  // ---- WhatsApp Business Accounts, phone numbers, Pages --------------------------------------------------
  fb.get("/:id/phone_numbers", async (c) => {
    const id = c.req.param("id");
    const access = await whatsappAccess(ctx, c.req.raw, id, "GET");
    if (access instanceof Response) return access;
    const phones = [...state.phoneNumbers.values()].filter((p) => p.wabaId === id).map(phoneNode);
    return graphJson({ data: phones, paging: { cursors: { before: btoa("0"), after: btoa(String(phones.length)) } } });
  });

  fb.on(["GET", "POST", "DELETE"], "/:id/subscribed_apps", async (c) => {
    const id = c.req.param("id");
    const method = c.req.method;
    if (state.wabas.has(id)) {
      const access = await whatsappAccess(ctx, c.req.raw, id, method);
      if (access instanceof Response) return access;
      const subscriptions = state.subscriptions.whatsapp;
      if (method === "GET") {
        const sub = subscriptions.get(id);
        const app = { id: state.app.id, link: `https://www.facebook.com/games/?app_id=${state.app.id}`, name: state.app.name };
        return graphJson({ data: sub ? [{ whatsapp_business_api_data: app }] : [] });
      }
      if (method === "DELETE") {
        subscriptions.delete(id);
        return success();
      }
      const override = access.params.override_callback_uri ?? null;
      if (override && !access.params.verify_token) return fail(ctx, { code: 100, message: "(#100) The parameter verify_token is required" });
      subscriptions.set(id, { appId: access.token.appId, overrideCallbackUri: override, at: ctx.now() });
      return success();
    }
    if (state.pages.has(id)) return pageSubscription(c.req.raw, id, method);
    return unsupported(ctx, method, id);
  });

  fb.post("/:id/register", async (c) => {
    const id = c.req.param("id");
    const phone = state.phoneNumbers.get(id);
    if (!phone) return unsupported(ctx, "POST", id);
    const access = await whatsappAccess(ctx, c.req.raw, phone.wabaId, "POST", id);
    if (access instanceof Response) return access;
    const { params } = access;
    if (params.messaging_product !== "whatsapp") return fail(ctx, { code: 100, message: "(#100) The parameter messaging_product is required." });
    if (!params.pin) return fail(ctx, { code: 100, message: "(#100) The parameter pin is required." });
    if (!/^\d{6}$/.test(params.pin)) return fail(ctx, { code: 100, message: "(#100) Param pin must be 6 digits" });
    const existing = state.registrations.get(id);
    if (existing && existing.pin !== params.pin) return fail(ctx, { code: 133005 });
    state.registrations.set(id, { pin: params.pin, at: ctx.now() });
    return success();
  });

  fb.get("/:id", async (c) => {
    const id = c.req.param("id");
    const request = c.req.raw;
    const waba = state.wabas.get(id);
    if (waba) {
      const access = await whatsappAccess(ctx, request, id, "GET");
      if (access instanceof Response) return access;
      const record = { id: waba.id, name: waba.name, currency: waba.currency, timezone_id: waba.timezoneId, message_template_namespace: `ns_${waba.id}` };
      return graphJson(pick(record, topLevelFields(access.params.fields, ["id", "name", "currency", "timezone_id", "message_template_namespace"])));
    }
    const phone = state.phoneNumbers.get(id);
    if (phone) {
      const access = await whatsappAccess(ctx, request, phone.wabaId, "GET", id);
      if (access instanceof Response) return access;
      const node = phoneNode(phone);
      return graphJson(pick(node, topLevelFields(access.params.fields, Object.keys(node))));
    }
    const page = state.pages.get(id);
    if (page) {
      const params = await readParams(request);
      const auth = await authenticate(ctx, request, params, "facebook");
      if (!auth.ok) return auth.response;
      const visible = auth.token.type === "PAGE" ? auth.token.pageId === id : reaches(auth.grant, "pages_show_list", id);
      if (!visible) return unsupported(ctx, "GET", id);
      const record = { id: page.id, name: page.name, category: page.category, access_token: auth.token.type === "PAGE" ? undefined : pageToken(auth.grant, auth.token, id).value };
      return graphJson(pick(record, topLevelFields(params.fields, ["id", "name"])));
    }
    return unsupported(ctx, "GET", id);
  });

  // ---- helpers -------------------------------------------------------------------------------------------

  function linkedInstagram(pageIds: readonly string[]): string[] {
    return pageIds.flatMap((id) => state.pages.get(id)?.instagramAccountId ?? []);
  }

  function phoneNode(phone: { id: string; displayPhoneNumber: string; verifiedName: string; qualityRating: string }) {
    return {
      verified_name: phone.verifiedName,
      code_verification_status: "VERIFIED",
      display_phone_number: phone.displayPhoneNumber,
      quality_rating: phone.qualityRating,
      platform_type: "CLOUD_API",
      throughput: { level: "STANDARD" },
      id: phone.id,
    };
  }

  /** The stable Page token of a grant: long-lived user tokens give Page tokens that never expire. */
  function pageToken(grant: Grant, user: TokenRecord, pageId: string): TokenRecord {
    const key = `${grant.id}:${pageId}:${user.longLived ? "long" : "short"}`;
    const existing = state.pageTokens.get(key);
    const known = existing ? state.tokens.get(existing) : undefined;
    if (known) return known;
    const now = ctx.now();
    const lifetime = user.longLived || user.expiresAt === null ? null : Math.max(0, user.expiresAt - now);
    const token = addToken(state, grant, { host: "facebook", type: "PAGE", issuedAt: now, lifetime, longLived: user.longLived, pageId });
    state.pageTokens.set(key, token.value);
    return token;
  }

  async function pageSubscription(request: Request, pageId: string, method: string): Promise<Response> {
    const params = await readParams(request);
    const auth = await authenticate(ctx, request, params, "facebook");
    if (!auth.ok) return auth.response;
    const { token, grant } = auth;
    if (token.type !== "PAGE") return fail(ctx, { code: 210 });
    if (token.pageId !== pageId) return unsupported(ctx, method, pageId);
    const subscriptions = state.subscriptions.pages;
    if (method === "GET") {
      const sub = subscriptions.get(pageId);
      const app = { category: "Business", link: `https://www.facebook.com/games/?app_id=${state.app.id}`, name: state.app.name, id: state.app.id };
      return graphJson({ data: sub ? [{ ...app, subscribed_fields: sub.fields }] : [] });
    }
    if (!hasScope(grant, "pages_manage_metadata")) {
      return fail(ctx, { code: 200, message: "(#200) The user must be an administrator, editor, or moderator of the page and the app must have the pages_manage_metadata permission" });
    }
    if (method === "DELETE") {
      subscriptions.delete(pageId);
      return success();
    }
    const fields = subscribedFields(ctx, params, PAGE_FIELDS, hasScope(grant, "pages_messaging"), {
      code: 200,
      message: "(#200) To subscribe to the messages field, one of these permissions is needed: pages_messaging",
    });
    if (fields instanceof Response) return fields;
    subscriptions.set(pageId, { appId: token.appId, fields, at: ctx.now() });
    return success();
  }

  return fb;
}
