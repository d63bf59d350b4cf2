/**
 * @module
 * Connecting, listing and disconnecting a workspace's WhatsApp, Instagram and Messenger accounts.
 * Every Meta call goes through the Graph client (simulated locally); tokens go straight into the
 * vault and never leave the Worker — not in responses, logs, URLs or error messages.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { WorkspaceParam, errorDoc, errorResponses, jsonBody } from "../api-schemas.ts";
import { consumeToken, issueToken, verifyToken } from "../auth/signed-link.ts";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { deleteChannelHistory, disconnectChannel } from "../channels/disconnect.ts";
import { ChannelConflict, connectionConflict, saveConnectedChannel, type Channel, type ConnectedAccount } from "../channels/store.ts";
import { channelStatuses, channels } from "../db/schema.ts";
import { Product } from "../events.ts";
import { errorResponse } from "../http-error.ts";
import { graphClient, type GraphError, type TokenDebug } from "../meta/graph-client.ts";
import { LOGIN_KINDS, loginDialogUrl } from "../meta/login-dialog.ts";
import { validationHook } from "../validation.ts";

/** Warn this long before a token expires. */
export const EXPIRY_WARNING_MS = 7 * 24 * 3600_000;
const STATE_TTL_S = 15 * 60;
const MESSENGER_FIELDS = ["messages", "message_echoes", "message_deliveries", "message_reads", "message_reactions", "messaging_postbacks", "messaging_referrals", "standby"];
const INSTAGRAM_FIELDS = ["messages", "message_reactions", "messaging_seen", "messaging_postbacks", "messaging_referral", "standby"];
const WHATSAPP_SCOPE = "whatsapp_business_messaging";
/** WhatsApp: "Two step verification PIN Mismatch". */
const PIN_MISMATCH = 133005;

const ChannelView = z
  .object({
    id: z.string(),
    kind: Product,
    name: z.string(),
    handle: z.string().nullable(),
    externalId: z.string().openapi({ description: "phone_number_id, Page id or Instagram account id" }),
    status: z.enum(channelStatuses),
    problem: z.string().nullable().openapi({ description: "Why the channel needs attention, and what to do" }),
    tokenExpiresAt: z.number().int().nullable(),
    expiresSoon: z.boolean().openapi({ description: "The token expires within 7 days" }),
    healthCheckedAt: z.number().int().nullable(),
    connectedAt: z.number().int().nullable(),
  })
  .openapi("Channel");

export function channelView(ch: Channel, now = Date.now()) {
  return {
    id: ch.id,
    kind: ch.kind,
    name: ch.name,
    handle: ch.handle,
    externalId: ch.externalId,
    status: ch.status,
    problem: ch.healthProblem,
    tokenExpiresAt: ch.tokenExpiresAt,
    expiresSoon: ch.tokenExpiresAt !== null && ch.tokenExpiresAt - now < EXPIRY_WARNING_MS,
    healthCheckedAt: ch.healthCheckedAt,
    connectedAt: ch.connectedAt,
  };
}

export const channelRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

const manage = requirePermission("channels.manage");

const Connected = { description: "Connected", content: { "application/json": { schema: z.object({ channels: z.array(ChannelView) }) } } };
const connectErrors = {
  ...errorResponses,
  409: errorDoc("The account is connected to another workspace"),
  502: errorDoc("Meta refused or failed: the message says why and what to do"),
};

function metaError(c: Context, error: GraphError) {
  return errorResponse(c, 502, `meta_${error.kind}`, error.userMessage);
}

channelRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/channels",
    summary: "The workspace's channels with their health and token expiry",
    middleware: requirePermission("channels.read"),
    request: { params: WorkspaceParam },
    responses: { 200: { description: "Channels", content: { "application/json": { schema: z.object({ channels: z.array(ChannelView) }) } } }, ...errorResponses },
  }),
  async (c) => {
    const rows = await drizzle(c.env.DB).select().from(channels).where(eq(channels.workspaceId, c.var.workspaceId)).orderBy(channels.name);
    return c.json({ channels: rows.map((ch) => channelView(ch)) }, 200);
  },
);

/** Saves accounts one by one; the first conflict answers 409 (accounts saved before it stay connected). */
// `any`: each route has its own path and input types; these helpers use neither.
async function connectAll(c: Context<WorkspaceEnv, any, any>, accounts: ConnectedAccount[]) {
  const saved: Channel[] = [];
  try {
    for (const account of accounts) saved.push(await saveConnectedChannel(c.env, { workspaceId: c.var.workspaceId, userId: c.var.user.id }, account));
  } catch (error) {
    if (error instanceof ChannelConflict) return errorResponse(c, 409, "channel_conflict", error.message);
    throw error;
  }
  return c.json({ channels: saved.map((ch) => channelView(ch)) }, 201);
}

channelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/channels/whatsapp/manual",
    summary: "Connect a WhatsApp number with a system-user token, validated at Meta before anything is saved",
    middleware: manage,
    request: {
      params: WorkspaceParam,
      body: jsonBody(
        z.object({
          phoneNumberId: z.string().regex(/^\d{1,32}$/),
          wabaId: z.string().regex(/^\d{1,32}$/),
          accessToken: z.string().min(20).max(1024),
        }),
      ),
    },
    responses: { 201: Connected, ...connectErrors },
  }),
  async (c) => {
    const { phoneNumberId, wabaId, accessToken } = c.req.valid("json");
    const account = await verifyWhatsApp(c.env, accessToken, { wabaId, phoneNumberId });
    if (!account.ok) return metaError(c, account.error);
    const conflict = await connectionConflict(c.env.DB, c.var.workspaceId, "whatsapp", account.data.externalId);
    if (conflict) return errorResponse(c, 409, "channel_conflict", conflict);
    const subscribed = await graphClient(c.env).subscribeApp(accessToken, wabaId);
    if (!subscribed.ok) return metaError(c, subscribed.error);
    return connectAll(c, [account.data]);
  },
);

function randomPin(): string {
  return String(crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000).padStart(6, "0");
}

type Verified<T> = { ok: true; data: T } | { ok: false; error: GraphError };

type WhatsAppTarget = { wabaId: string; phoneNumberId: string };

/**
 * The token must be valid, issued for our app, allowed to message, and reach the WABA and number:
 * the ones given, or (`null`) the one its grant shows beyond doubt ({@link sharedNumber}).
 */
async function verifyWhatsApp(env: Cloudflare.Env, token: string, chosen: WhatsAppTarget | null): Promise<Verified<ConnectedAccount & { wabaId: string }>> {
  const graph = graphClient(env);
  const debug = await graph.debugToken(token);
  if (!debug.ok) return debug;
  const info = debug.data;
  const problem = !info.isValid
    ? "Meta says this token is not valid. Generate a new system-user token and try again."
    : info.appId !== env.META_APP_ID
      ? "This token was issued for another Meta app. Generate it for the WeChatting app."
      : !info.scopes.includes(WHATSAPP_SCOPE)
        ? `This token lacks the ${WHATSAPP_SCOPE} permission. Add it to the system user and generate a new token.`
        : null;
  if (problem) return { ok: false, error: localError(problem, info.isValid ? "permission" : "token_expired") };
  const target = chosen ? { ok: true as const, data: chosen } : await sharedNumber(env, token, info.granularScopes);
  if (!target.ok) return target;
  const { wabaId, phoneNumberId } = target.data;
  const [number, waba] = await Promise.all([graph.getPhoneNumber(token, phoneNumberId), graph.getWaba(token, wabaId)]);
  if (!number.ok) return number;
  if (!waba.ok) return waba;
  return {
    ok: true,
    data: {
      kind: "whatsapp",
      externalId: number.data.id,
      wabaId: waba.data.id,
      name: number.data.verifiedName || waba.data.name,
      handle: number.data.displayPhoneNumber,
      metaUserId: info.userId,
      token,
      tokenExpiresAt: info.expiresAt === null ? null : info.expiresAt * 1000,
    },
  };
}

function localError(userMessage: string, kind: GraphError["kind"]): GraphError {
  return { status: 400, code: 0, subcode: null, message: userMessage, userMessage, kind, retryable: false, reconnect: false };
}

// ── Facebook Login for Business (Pages, and the Instagram accounts linked to them) and Instagram Login ──

const OAuthKind = z.enum(LOGIN_KINDS);

channelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/channels/oauth/state",
    summary: "Start connecting: a signed OAuth `state` bound to this session and workspace, and Meta's login dialog to open",
    description: "Open `dialogUrl` in a pop-up; Meta sends it back to `redirectUri` with `code` and `state`, which finish the connection.",
    middleware: manage,
    request: { params: WorkspaceParam, body: jsonBody(z.object({ kind: OAuthKind })) },
    responses: {
      200: {
        description: "State to pass to the login dialog",
        content: {
          "application/json": {
            schema: z.object({
              state: z.string(),
              expiresIn: z.number().int(),
              redirectUri: z.string().openapi({ description: "This origin's /oauth/callback: register it in the Meta app" }),
              dialogUrl: z.string().nullable().openapi({ description: "Meta's login dialog; null when the flow is not configured (see `problem`)" }),
              problem: z.string().nullable(),
            }),
          },
        },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { kind } = c.req.valid("json");
    const state = await issueToken(c.env.SESSION_SECRET, {
      purpose: "oauth-state",
      subject: c.var.session.id,
      data: { workspaceId: c.var.workspaceId, kind },
      ttlSeconds: STATE_TTL_S,
    });
    const redirectUri = `${new URL(c.req.url).origin}/oauth/callback`;
    const dialog = loginDialogUrl(c.env, kind, { state, redirectUri });
    const problem = dialog.ok ? null : `This way of connecting is not set up on this server (${dialog.missing} is missing): use another way, or ask the operator.`;
    return c.json({ state, expiresIn: STATE_TTL_S, redirectUri, dialogUrl: dialog.ok ? dialog.url : null, problem }, 200);
  },
);

const OAuthFinish = z.object({
  code: z.string().min(1).max(2048),
  state: z.string().min(1).max(4096),
  redirectUri: z.url().max(2048),
});

/** The state must have been issued to this very session, for this workspace and this flow. */
async function checkState(c: Context<WorkspaceEnv, any, any>, state: string, kind: z.infer<typeof OAuthKind>): Promise<string | null> {
  const verdict = await verifyToken(c.env.SESSION_SECRET, state, "oauth-state");
  if (!verdict.ok) return verdict.reason === "expired" ? "The login took too long: start connecting again" : "The login state is not valid: start connecting again";
  const { sub, data } = verdict.claims;
  if (sub !== c.var.session.id || data?.workspaceId !== c.var.workspaceId || data?.kind !== kind) {
    return "This login was started in another session or workspace: start connecting again";
  }
  // One state finishes one login: an answer handed back twice (a second tab, a replayed callback) connects nothing.
  if (!(await consumeToken(c.env.DB, verdict.claims))) return "This login was already finished: start connecting again";
  return null;
}

channelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/channels/whatsapp/embedded-signup",
    summary: "Finish WhatsApp Embedded Signup: exchange the code, subscribe the app to the WABA, register the number",
    description:
      "Without `wabaId` and `phoneNumberId` (the dialog's redirect does not carry them), they come from the business token's grant, but only when it holds exactly one WABA with exactly one number; otherwise nothing changes at Meta and the error lists what was shared.",
    middleware: manage,
    request: {
      params: WorkspaceParam,
      body: jsonBody(
        OAuthFinish.extend({
          code: z.string().min(1).max(2048).openapi({ description: "The dialog's code (valid 30 s)" }),
          redirectUri: OAuthFinish.shape.redirectUri.optional().openapi({ description: "The dialog's redirect_uri, when it had one" }),
          wabaId: z.string().regex(/^\d{1,32}$/).optional(),
          phoneNumberId: z.string().regex(/^\d{1,32}$/).optional(),
          pin: z.string().regex(/^\d{6}$/, "The two-step verification PIN has 6 digits").optional(),
        }).refine((b) => (b.wabaId === undefined) === (b.phoneNumberId === undefined), { message: "Give both wabaId and phoneNumberId, or neither", path: ["phoneNumberId"] }),
      ),
    },
    responses: { 201: Connected, ...connectErrors },
  }),
  async (c) => {
    const { code, state, redirectUri, pin, ...chosen } = c.req.valid("json");
    const stateProblem = await checkState(c, state, "whatsapp");
    if (stateProblem) return errorResponse(c, 400, "invalid_state", stateProblem);
    const graph = graphClient(c.env);
    const exchanged = await graph.exchangeCode(code, redirectUri);
    if (!exchanged.ok) return metaError(c, exchanged.error);
    const token = exchanged.data.accessToken;
    const account = await verifyWhatsApp(c.env, token, chosen.wabaId && chosen.phoneNumberId ? { wabaId: chosen.wabaId, phoneNumberId: chosen.phoneNumberId } : null);
    if (!account.ok) return metaError(c, account.error);
    const { wabaId, externalId: phoneNumberId } = account.data;
    const conflict = await connectionConflict(c.env.DB, c.var.workspaceId, "whatsapp", account.data.externalId);
    if (conflict) return errorResponse(c, 409, "channel_conflict", conflict);
    const subscribed = await graph.subscribeApp(token, wabaId);
    if (!subscribed.ok) return metaError(c, subscribed.error);
    // The PIN becomes the number's two-step verification PIN: a random one unless the business chose
    // it. A number registered before (a reconnection) answers 133005 to a new random PIN: it is
    // registered already, with the PIN its owner knows, so that is no reason to stop.
    const registered = await graph.registerPhoneNumber(token, phoneNumberId, pin ?? randomPin());
    if (!registered.ok && !(pin === undefined && registered.error.code === PIN_MISMATCH)) return metaError(c, registered.error);
    return connectAll(c, [account.data]);
  },
);

/**
 * The number Embedded Signup onboarded, when the business token says which without doubt: exactly
 * one WABA granted, holding exactly one number. Anything else would be a guess, and the guess would
 * be subscribed and registered (a new PIN) at Meta, so it is refused before any change there.
 */
async function sharedNumber(env: Cloudflare.Env, token: string, granted: TokenDebug["granularScopes"]): Promise<Verified<WhatsAppTarget>> {
  const wabaIds = granted.find((g) => g.scope === "whatsapp_business_management")?.targetIds ?? [];
  if (wabaIds.length === 0) return { ok: false, error: localError("No WhatsApp Business account was shared with WeChatting. Connect again and finish every step of Meta's window.", "permission") };
  if (wabaIds.length > 1) {
    return { ok: false, error: localError(`Meta shared ${wabaIds.length} WhatsApp Business accounts (${wabaIds.join(", ")}). Connect again and choose one, or connect the number with a system-user token.`, "invalid_request") };
  }
  const wabaId = wabaIds[0]!;
  const numbers = await graphClient(env).listPhoneNumbers(token, wabaId);
  if (!numbers.ok) return numbers;
  if (numbers.data.length === 0) return { ok: false, error: localError("The WhatsApp Business account has no phone number yet. Add one in Meta's window, then connect again.", "invalid_request") };
  if (numbers.data.length > 1) {
    const listed = numbers.data.map((n) => n.displayPhoneNumber).join(", ");
    return { ok: false, error: localError(`The WhatsApp Business account holds several numbers (${listed}), and Meta did not say which one was chosen. Connect the number you want with a system-user token under "Other ways to connect".`, "invalid_request") };
  }
  const phoneNumberId = numbers.data[0]!.id;
  return { ok: true, data: { wabaId, phoneNumberId } };
}

channelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/channels/messenger/connect",
    summary: "Finish Facebook Login for Business: connect the Pages (and their linked Instagram accounts)",
    middleware: manage,
    request: {
      params: WorkspaceParam,
      body: jsonBody(OAuthFinish.extend({ pageIds: z.array(z.string().regex(/^\d{1,32}$/)).max(100).optional() })),
    },
    responses: { 201: Connected, ...connectErrors },
  }),
  async (c) => {
    const { code, state, redirectUri, pageIds } = c.req.valid("json");
    const stateProblem = await checkState(c, state, "messenger");
    if (stateProblem) return errorResponse(c, 400, "invalid_state", stateProblem);
    const graph = graphClient(c.env);
    const short = await graph.exchangeCode(code, redirectUri);
    if (!short.ok) return metaError(c, short.error);
    const long = await graph.longLivedUserToken(short.data.accessToken);
    if (!long.ok) return metaError(c, long.error);
    const debug = await graph.debugToken(long.data.accessToken);
    if (!debug.ok) return metaError(c, debug.error);
    const pages = await graph.listPages(long.data.accessToken);
    if (!pages.ok) return metaError(c, pages.error);
    const chosen = pages.data.filter((p) => !pageIds || pageIds.includes(p.id));
    if (chosen.length === 0) return errorResponse(c, 400, "no_pages", "No Facebook Page was shared with WeChatting: choose at least one Page in the login dialog");
    const accounts: ConnectedAccount[] = [];
    for (const page of chosen) {
      const subscribed = await graph.subscribePage(page.accessToken, page.id, MESSENGER_FIELDS);
      if (!subscribed.ok) return metaError(c, subscribed.error);
      // Page tokens from a long-lived user token do not expire; Meta invalidates them on revocation.
      const common = { metaUserId: debug.data.userId, token: page.accessToken, tokenExpiresAt: null };
      accounts.push({ kind: "messenger", externalId: page.id, name: page.name, handle: page.name, ...common });
      if (page.instagram) {
        accounts.push({
          kind: "instagram",
          externalId: page.instagram.id,
          pageId: page.id,
          name: page.instagram.username,
          handle: `@${page.instagram.username}`,
          ...common,
        });
      }
    }
    return connectAll(c, accounts);
  },
);

channelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/channels/instagram/connect",
    summary: "Finish Instagram Login: long-lived token (refreshed before its 60 days run out), webhook subscription",
    middleware: manage,
    request: { params: WorkspaceParam, body: jsonBody(OAuthFinish) },
    responses: { 201: Connected, ...connectErrors },
  }),
  async (c) => {
    const { code, state, redirectUri } = c.req.valid("json");
    const stateProblem = await checkState(c, state, "instagram");
    if (stateProblem) return errorResponse(c, 400, "invalid_state", stateProblem);
    const graph = graphClient(c.env);
    const short = await graph.exchangeInstagramCode(code, redirectUri);
    if (!short.ok) return metaError(c, short.error);
    const long = await graph.instagramLongLived(short.data.accessToken);
    if (!long.ok) return metaError(c, long.error);
    const me = await graph.instagramMe(long.data.accessToken);
    if (!me.ok) return metaError(c, me.error);
    const subscribed = await graph.subscribeInstagram(long.data.accessToken, INSTAGRAM_FIELDS);
    if (!subscribed.ok) return metaError(c, subscribed.error);
    return connectAll(c, [
      {
        kind: "instagram",
        externalId: me.data.userId,
        name: me.data.name || me.data.username,
        handle: `@${me.data.username}`,
        metaUserId: short.data.userId,
        token: long.data.accessToken,
        tokenExpiresAt: Date.now() + long.data.expiresIn * 1000,
      },
    ]);
  },
);

channelRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/workspaces/{workspaceId}/channels/{channelId}",
    summary: "Disconnect (withdraw consent): revoke at Meta, destroy the token, stop ingesting; keep or delete the history",
    middleware: manage,
    request: {
      params: WorkspaceParam.extend({ channelId: z.string().min(1).max(64) }),
      query: z.object({ history: z.enum(["keep", "delete"]).default("keep") }),
    },
    responses: {
      200: { description: "Disconnected", content: { "application/json": { schema: z.object({ channel: ChannelView, revokedAtMeta: z.boolean(), deletedConversations: z.number().int() }) } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { channelId } = c.req.valid("param");
    const { history } = c.req.valid("query");
    const db = drizzle(c.env.DB);
    const channel = await db.select().from(channels).where(and(eq(channels.id, channelId), eq(channels.workspaceId, c.var.workspaceId))).get();
    if (!channel) return errorResponse(c, 404, "not_found", "No such channel");
    const revoked = await disconnectChannel(c.env, channel, { action: "channel.disconnected", actorUserId: c.var.user.id, detail: { history } });
    const deleted = history === "delete" ? await deleteChannelHistory(c.env, channel) : 0;
    const updated = await db.select().from(channels).where(eq(channels.id, channel.id)).get();
    return c.json({ channel: channelView(updated!), revokedAtMeta: revoked, deletedConversations: deleted }, 200);
  },
);
