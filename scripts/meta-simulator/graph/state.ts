/**
 * @module
 * In-memory state of the Graph API simulator: the demo accounts (seeded from workers/demo-workspace.ts),
 * the app, issued login codes, grants (one per completed login, shared by every token derived from it, so
 * revoking a login kills its Page tokens too), tokens, subscriptions, registrations, revocations and
 * injected faults. Pure data + small operations; the HTTP faces live in facebook.ts, instagram.ts and
 * control.ts.
 *
 * Times are epoch seconds, read from the simulator's clock (`options.now`, milliseconds).
 */
import { demoChannels } from "../../../workers/demo-workspace.ts";
import { randomString, type GraphErrorSpec } from "./errors.ts";

export const GRAPH_VERSION = "v25.0";
/** `expires_in` of long-lived user and Instagram tokens, as Meta answers it (≈ 60 days). */
export const LONG_LIVED_SECONDS = 5_183_944;
/** Short-lived Facebook user tokens last "hours". */
export const SHORT_LIVED_USER_SECONDS = 5_400;
/** Short-lived Instagram tokens last one hour. */
export const SHORT_LIVED_INSTAGRAM_SECONDS = 3_600;
/** "data access" of user tokens (commonly 90 days). */
export const DATA_ACCESS_SECONDS = 90 * 86_400;

/** Code lifetimes: Embedded Signup codes live 30 s (SPEC §7.2), OAuth codes 10 min, Instagram codes 1 h. */
export const CODE_TTL_SECONDS: Record<CodeKind, number> = {
  whatsapp_embedded_signup: 30,
  facebook_login: 600,
  instagram_login: 3_600,
};

export const DEFAULT_SCOPES: Record<CodeKind, string[]> = {
  whatsapp_embedded_signup: ["whatsapp_business_management", "whatsapp_business_messaging"],
  facebook_login: [
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
    "instagram_basic",
    "instagram_manage_messages",
  ],
  instagram_login: ["instagram_business_basic", "instagram_business_manage_messages"],
};

export const DEMO_IDS = {
  appId: "600000000000001",
  instagramAppId: "610000000000001",
  businessId: "400000000000001",
  facebookUserId: "500000000000001",
  /** Embedded Signup creates one business-integration system user per onboarding: 510000000000001, …02, … */
  systemUserBase: 510_000_000_000_000,
} as const;

export type CodeKind = "whatsapp_embedded_signup" | "facebook_login" | "instagram_login";
export type TokenType = "USER" | "PAGE" | "SYSTEM_USER" | "INSTAGRAM";
/** Which host a token works on: Facebook Login tokens on graph.facebook.com, Instagram Login tokens on graph.instagram.com. */
export type Host = "facebook" | "instagram";

export type AppRecord = { id: string; secret: string; name: string };
export type WabaRecord = { id: string; name: string; currency: string; timezoneId: string };
export type PhoneRecord = { id: string; wabaId: string; displayPhoneNumber: string; verifiedName: string; qualityRating: string };
export type PageRecord = { id: string; name: string; category: string; instagramAccountId: string | null };
/** `id` is the professional account id webhooks use; `scopedId` the app-scoped id Instagram Login returns. */
export type InstagramAccountRecord = { id: string; scopedId: string; username: string; name: string; pageId: string | null };

export type GranularScope = { scope: string; target_ids?: string[] };

/** One completed login (or a minted token): every token derived from it shares its scopes and its fate. */
export type Grant = {
  id: string;
  appId: string;
  userId: string;
  origin: CodeKind | "minted";
  scopes: string[];
  granular: GranularScope[];
  revoked: { subcode: number; at: number } | null;
};

export type TokenRecord = {
  value: string;
  host: Host;
  type: TokenType;
  grantId: string;
  appId: string;
  userId: string;
  /** The Page a PAGE token acts as. */
  pageId: string | null;
  issuedAt: number;
  /** null = never expires. */
  expiresAt: number | null;
  longLived: boolean;
};

export type CodeRecord = {
  code: string;
  kind: CodeKind;
  appId: string;
  scopes: string[];
  wabaId: string | null;
  phoneNumberId: string | null;
  /** Embedded Signup: further WABAs shared in the same grant. */
  sharedWabaIds: string[];
  pages: string[];
  instagramAccountId: string | null;
  /** When set, the exchange must pass the same redirect_uri (OAuth redirect flows). */
  redirectUri: string | null;
  expiresAt: number;
  usedAt: number | null;
};

export type Fault = {
  method: string | null;
  /** Fail as a dropped connection (the caller's fetch rejects) instead of answering. */
  network: boolean;
  pathPattern: string;
  regex: RegExp;
  code: number;
  subcode: number | null;
  status: number | null;
  message: string | null;
  remaining: number;
  /** Send faults fail what reaches the customer: read receipts and typing indicators pass. */
  sparesReceipts: boolean;
};

/** An uploaded (or, via the control API, inbound) file: WhatsApp media ids, Messenger/Instagram attachment ids. */
export type MediaRecord = {
  id: string;
  product: "whatsapp" | "messenger" | "instagram";
  /** The phone number, Page or Instagram account it belongs to. */
  ownerId: string;
  mimeType: string;
  bytes: Uint8Array;
  filename: string | null;
  createdAt: number;
};

/** A message template of a WABA, one record per language as Meta lists them. */
export type TemplateRecord = {
  id: string;
  wabaId: string;
  name: string;
  language: string;
  status: "APPROVED" | "PENDING" | "REJECTED" | "PAUSED" | "DISABLED";
  category: "MARKETING" | "UTILITY" | "AUTHENTICATION";
  components: Record<string, unknown>[];
};

/** One call to a send endpoint, with the JSON exactly as Meta received it. */
export type SendRecord = {
  at: number;
  product: "whatsapp" | "messenger" | "instagram";
  host: Host;
  /** The node in the path: phone number id, Page id, Instagram account id or `me`. */
  node: string;
  kind: "message" | "sender_action" | "read";
  body: unknown;
  /** The id Meta answered (wamid / mid); null for refused calls, sender actions and read receipts. */
  externalId: string | null;
  error: { code: number; subcode: number | null } | null;
};

/** A status webhook waiting for its time (epoch ms); `body` is the exact JSON Meta would POST. */
export type ScheduledWebhook = { dueMs: number; seq: number; product: SendRecord["product"]; externalId: string; status: string; body: string };

export type StatusDelays = { sent: number; delivered: number | null; read: number | null };

/** Meta-like pacing: sent at once, delivered within a second or two, read a few seconds later. */
export const DEFAULT_STATUS_DELAYS: StatusDelays = { sent: 300, delivered: 1_500, read: 6_000 };

export type Revocation = { at: number; userId: string; grantId: string; origin: Grant["origin"]; subcode: number; source: "api" | "simulator"; tokenType: TokenType };

export type GraphState = {
  app: AppRecord;
  instagramApp: AppRecord;
  businessId: string;
  /** Meta's "Require App Secret" app setting: every user/page/system-user token call needs appsecret_proof. */
  requireAppsecretProof: boolean;
  /** The apps' Valid OAuth Redirect URIs; null accepts any http(s) address. */
  redirectUris: string[] | null;
  wabas: Map<string, WabaRecord>;
  phoneNumbers: Map<string, PhoneRecord>;
  pages: Map<string, PageRecord>;
  instagramAccounts: Map<string, InstagramAccountRecord>;
  codes: Map<string, CodeRecord>;
  grants: Map<string, Grant>;
  tokens: Map<string, TokenRecord>;
  /** `${grantId}:${pageId}` → the Page token /me/accounts hands out for it (stable, like Meta's). */
  pageTokens: Map<string, string>;
  faults: Fault[];
  subscriptions: {
    whatsapp: Map<string, { appId: string; overrideCallbackUri: string | null; at: number }>;
    pages: Map<string, { appId: string; fields: string[]; at: number }>;
    instagram: Map<string, { appId: string; fields: string[]; at: number }>;
  };
  registrations: Map<string, { pin: string; at: number }>;
  revocations: Revocation[];
  nextSystemUser: number;
  media: Map<string, MediaRecord>;
  templates: TemplateRecord[];
  sends: SendRecord[];
  scheduled: ScheduledWebhook[];
  nextScheduled: number;
  /** Meta down: connections refused, or 503 pages without a Graph body. */
  outage: "refused" | "unavailable" | null;
  /** WhatsApp's pair rate limit (one message per 6 s to the same user → 131056). */
  pairRateLimit: boolean;
  /** `${phone number id}:${recipient}` → epoch ms of the last accepted message. */
  lastPairSend: Map<string, number>;
  statusDelays: StatusDelays;
  /** What a reset goes back to (the simulator's options). */
  sendingDefaults: { statusDelays: StatusDelays; pairRateLimit: boolean };
};

export type SimulatorOptions = {
  appId?: string;
  appSecret?: string;
  appName?: string;
  instagramAppId?: string;
  instagramAppSecret?: string;
  /** Default true, as with "Require App Secret" switched on. */
  requireAppsecretProof?: boolean;
  /** Valid OAuth Redirect URIs (exact match, as Meta's strict mode); default any http(s) address. */
  redirectUris?: string[];
  /** Clock in epoch milliseconds (default Date.now). */
  now?: () => number;
  /** Delays (ms after the send) of the status webhooks; null = that status never comes. */
  statusDelays?: Partial<StatusDelays>;
  /** Enforce WhatsApp's pair rate limit (default off). */
  pairRateLimit?: boolean;
  /** Where the simulator is served, for the media URLs the in-process operations hand out (default http://graph.simulator, the tests'). */
  origin?: string;
  /** Receives each status webhook body (exact JSON, unsigned) when it is due: see GraphSimulator.flushStatuses. */
  webhookSink?: (body: string) => Promise<void>;
};

type SeedChannel = { kind: string; externalId: string; wabaId?: string | null; name?: string | null; handle?: string | null; pageId?: string | null };

export function createState(options: SimulatorOptions): GraphState {
  const state: GraphState = {
    app: { id: options.appId ?? DEMO_IDS.appId, secret: options.appSecret ?? "test-app-secret", name: options.appName ?? "WeChatting" },
    instagramApp: {
      id: options.instagramAppId ?? DEMO_IDS.instagramAppId,
      secret: options.instagramAppSecret ?? "test-instagram-app-secret",
      name: `${options.appName ?? "WeChatting"} (Instagram)`,
    },
    businessId: DEMO_IDS.businessId,
    requireAppsecretProof: options.requireAppsecretProof ?? true,
    redirectUris: options.redirectUris ?? null,
    wabas: new Map(),
    phoneNumbers: new Map(),
    pages: new Map(),
    instagramAccounts: new Map(),
    codes: new Map(),
    grants: new Map(),
    tokens: new Map(),
    pageTokens: new Map(),
    faults: [],
    subscriptions: { whatsapp: new Map(), pages: new Map(), instagram: new Map() },
    registrations: new Map(),
    revocations: [],
    nextSystemUser: 1,
    media: new Map(),
    templates: [],
    sends: [],
    scheduled: [],
    nextScheduled: 1,
    outage: null,
    pairRateLimit: options.pairRateLimit ?? false,
    lastPairSend: new Map(),
    statusDelays: { ...DEFAULT_STATUS_DELAYS, ...options.statusDelays },
    sendingDefaults: { statusDelays: { ...DEFAULT_STATUS_DELAYS, ...options.statusDelays }, pairRateLimit: options.pairRateLimit ?? false },
  };
  seed(state);
  return state;
}

/** Back to the seeded demo accounts; everything issued or recorded is forgotten (the object stays the same). */
export function resetState(state: GraphState): void {
  for (const map of [state.wabas, state.phoneNumbers, state.pages, state.instagramAccounts, state.codes, state.grants, state.tokens, state.pageTokens]) {
    map.clear();
  }
  state.subscriptions.whatsapp.clear();
  state.subscriptions.pages.clear();
  state.subscriptions.instagram.clear();
  state.registrations.clear();
  state.faults.length = 0;
  state.revocations.length = 0;
  state.nextSystemUser = 1;
  state.media.clear();
  state.sends.length = 0;
  state.scheduled.length = 0;
  state.nextScheduled = 1;
  state.outage = null;
  state.lastPairSend.clear();
  state.statusDelays = { ...state.sendingDefaults.statusDelays };
  state.pairRateLimit = state.sendingDefaults.pairRateLimit;
  seed(state);
}

function seed(state: GraphState): void {
  const channels: readonly SeedChannel[] = demoChannels;
  let igIndex = 0;
  for (const channel of channels) {
    const name = channel.name ?? channel.externalId;
    if (channel.kind === "whatsapp" && channel.wabaId) {
      state.wabas.set(channel.wabaId, { id: channel.wabaId, name, currency: "USD", timezoneId: "1" });
      state.phoneNumbers.set(channel.externalId, {
        id: channel.externalId,
        wabaId: channel.wabaId,
        // GET /<PHONE_NUMBER_ID> answers the formatted number ("+1 555-000-1111"); webhooks carry the digits.
        displayPhoneNumber: channel.handle ?? channel.externalId,
        verifiedName: name,
        qualityRating: "GREEN",
      });
    } else if (channel.kind === "messenger") {
      state.pages.set(channel.externalId, { id: channel.externalId, name: channel.handle ?? name, category: "Shopping & retail", instagramAccountId: null });
    }
  }
  for (const channel of channels) {
    if (channel.kind !== "instagram") continue;
    igIndex += 1;
    const pageId = channel.pageId ?? null;
    state.instagramAccounts.set(channel.externalId, {
      id: channel.externalId,
      scopedId: String(27_000_000_000_000_000n + BigInt(igIndex)),
      username: (channel.handle ?? channel.externalId).replace(/^@/, ""),
      name: channel.name ?? channel.externalId,
      pageId,
    });
    const page = pageId ? state.pages.get(pageId) : undefined;
    if (page) page.instagramAccountId = channel.externalId;
  }
  state.templates.length = 0;
  for (const wabaId of state.wabas.keys()) state.templates.push(...seedTemplates(wabaId));
}

/** A few templates per WABA, as a real account has them: approved in several languages, paused, rejected. */
function seedTemplates(wabaId: string): TemplateRecord[] {
  let n = 0;
  const template = (name: string, language: string, status: TemplateRecord["status"], category: TemplateRecord["category"], components: Record<string, unknown>[]): TemplateRecord => ({
    id: `${wabaId.slice(-6)}${String(++n).padStart(9, "0")}`,
    wabaId,
    name,
    language,
    status,
    category,
    components,
  });
  const body = (text: string) => ({ type: "BODY", text });
  return [
    template("hello_world", "en_US", "APPROVED", "UTILITY", [
      { type: "HEADER", format: "TEXT", text: "Hello World" },
      body("Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API."),
      { type: "FOOTER", text: "WhatsApp Business Platform sample message" },
    ]),
    template("order_update", "en_US", "APPROVED", "UTILITY", [body("Hi {{1}}, your order {{2}} has shipped."), { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Track it" }] }]),
    template("order_update", "es", "APPROVED", "UTILITY", [body("Hola {{1}}, tu pedido {{2}} ha sido enviado."), { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Seguirlo" }] }]),
    template("order_update", "pt_BR", "APPROVED", "UTILITY", [body("Olá {{1}}, seu pedido {{2}} foi enviado."), { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Rastrear" }] }]),
    template("we_miss_you", "en_US", "APPROVED", "MARKETING", [
      { type: "HEADER", format: "IMAGE", example: { header_handle: ["4::aW1hZ2UvanBlZw==:ARb"] } },
      body("We miss you, {{1}}! Here is 10% off your next order."),
    ]),
    template("spring_sale", "en_US", "PAUSED", "MARKETING", [body("Spring sale: {{1}} off everything this week!")]),
    template("account_alert", "en_US", "REJECTED", "UTILITY", [body("Your account {{1}} needs attention.")]),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Issuing

export function newTokenValue(host: Host): string {
  return (host === "instagram" ? "IGAA" : "EAAI") + randomString(120);
}

export function newCode(): string {
  return "AQ" + randomString(86, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

export function nextSystemUserId(state: GraphState): string {
  return String(DEMO_IDS.systemUserBase + state.nextSystemUser++);
}

/** Granular scopes as debug_token reports them: the WhatsApp/Page/Instagram scopes list the objects granted. */
export function granularFor(scopes: readonly string[], targets: { wabaIds?: string[]; pageIds?: string[]; instagramIds?: string[] }): GranularScope[] {
  const targetsOf = (scope: string): string[] | undefined => {
    if (scope.startsWith("whatsapp_")) return targets.wabaIds;
    if (scope.startsWith("pages_")) return targets.pageIds;
    if (scope === "instagram_basic" || scope === "instagram_manage_messages") return targets.instagramIds;
    return undefined;
  };
  return scopes.flatMap((scope) => {
    const ids = targetsOf(scope);
    return ids ? [{ scope, target_ids: [...ids] }] : scope === "business_management" ? [{ scope }] : [];
  });
}

export function addGrant(state: GraphState, grant: Omit<Grant, "id" | "revoked">): Grant {
  const full: Grant = { ...grant, id: `grant_${state.grants.size + 1}_${randomString(6)}`, revoked: null };
  state.grants.set(full.id, full);
  return full;
}

export function addToken(
  state: GraphState,
  grant: Grant,
  token: { host: Host; type: TokenType; issuedAt: number; lifetime: number | null; longLived: boolean; pageId?: string | null; value?: string },
): TokenRecord {
  const record: TokenRecord = {
    value: token.value ?? newTokenValue(token.host),
    host: token.host,
    type: token.type,
    grantId: grant.id,
    appId: grant.appId,
    userId: token.type === "PAGE" && token.pageId ? token.pageId : grant.userId,
    pageId: token.pageId ?? null,
    issuedAt: token.issuedAt,
    expiresAt: token.lifetime === null ? null : token.issuedAt + token.lifetime,
    longLived: token.longLived,
  };
  state.tokens.set(record.value, record);
  return record;
}

// ---------------------------------------------------------------------------------------------------------
// Checking

export type TokenCheck = { ok: true; token: TokenRecord; grant: Grant } | { ok: false; spec: GraphErrorSpec; expiredAt?: Date };

/** Meta's verdict on a presented token: unknown → 190, revoked → 190/<subcode>, expired → 190/463. */
export function checkToken(state: GraphState, value: string, host: Host, now: number): TokenCheck {
  const token = state.tokens.get(value);
  const grant = token ? state.grants.get(token.grantId) : undefined;
  if (!token || !grant || token.host !== host) return { ok: false, spec: { code: 190 } };
  if (grant.revoked) return { ok: false, spec: { code: 190, subcode: grant.revoked.subcode } };
  if (token.expiresAt !== null && token.expiresAt <= now) {
    return { ok: false, spec: { code: 190, subcode: 463 }, expiredAt: new Date(token.expiresAt * 1000) };
  }
  return { ok: true, token, grant };
}

export function hasScope(grant: Grant, scope: string): boolean {
  return grant.scopes.includes(scope);
}

/** Whether the grant reaches an object through a scope: scopes with target ids are limited to them. */
export function reaches(grant: Grant, scope: string, objectId: string): boolean {
  if (!hasScope(grant, scope)) return false;
  const granular = grant.granular.find((g) => g.scope === scope);
  return !granular?.target_ids || granular.target_ids.includes(objectId);
}

export function revokeGrant(state: GraphState, grant: Grant, token: TokenRecord, subcode: number, source: Revocation["source"], now: number): void {
  if (grant.revoked) return;
  grant.revoked = { subcode, at: now };
  state.revocations.push({ at: now, userId: grant.userId, grantId: grant.id, origin: grant.origin, subcode, source, tokenType: token.type });
}

/** The next matching fault, consumed; null when none matches. */
export function takeFault(state: GraphState, call: { method: string; path: string; receipt: boolean }): Fault | null {
  const index = state.faults.findIndex(
    (f) => f.remaining > 0 && (!f.method || f.method === call.method) && f.regex.test(call.path) && !(f.sparesReceipts && call.receipt),
  );
  if (index < 0) return null;
  const fault = state.faults[index]!;
  fault.remaining -= 1;
  if (fault.remaining <= 0) state.faults.splice(index, 1);
  return fault;
}

// ---------------------------------------------------------------------------------------------------------
// Snapshot for GET /__simulator/state

export function snapshot(state: GraphState, now: number) {
  const isValid = (t: TokenRecord) => !state.grants.get(t.grantId)?.revoked && (t.expiresAt === null || t.expiresAt > now);
  return {
    now,
    app: { id: state.app.id, name: state.app.name },
    instagramApp: { id: state.instagramApp.id },
    accounts: {
      wabas: [...state.wabas.values()],
      phoneNumbers: [...state.phoneNumbers.values()],
      pages: [...state.pages.values()],
      instagram: [...state.instagramAccounts.values()],
    },
    subscriptions: {
      whatsapp: [...state.subscriptions.whatsapp].map(([wabaId, s]) => ({ wabaId, ...s })),
      pages: [...state.subscriptions.pages].map(([pageId, s]) => ({ pageId, ...s })),
      instagram: [...state.subscriptions.instagram].map(([instagramAccountId, s]) => ({ instagramAccountId, ...s })),
    },
    registrations: [...state.registrations].map(([phoneNumberId, r]) => ({ phoneNumberId, at: r.at })),
    revocations: [...state.revocations],
    tokens: [...state.tokens.values()].map((t) => {
      const grant = state.grants.get(t.grantId);
      return { ...t, scopes: grant?.scopes ?? [], valid: isValid(t), revoked: Boolean(grant?.revoked) };
    }),
    codes: [...state.codes.values()].map((c) => ({ code: c.code, kind: c.kind, expiresAt: c.expiresAt, used: c.usedAt !== null })),
    faults: state.faults.map((f) => ({ method: f.method, pathPattern: f.pathPattern, code: f.code, subcode: f.subcode, network: f.network, remaining: f.remaining })),
    sends: [...state.sends],
    media: [...state.media.values()].map((m) => ({ id: m.id, product: m.product, ownerId: m.ownerId, mimeType: m.mimeType, size: m.bytes.byteLength, filename: m.filename })),
    templates: [...state.templates],
    scheduledWebhooks: state.scheduled.map(({ dueMs, product, externalId, status }) => ({ dueMs, product, externalId, status })),
    outage: state.outage,
    pairRateLimit: state.pairRateLimit,
    statusDelays: { ...state.statusDelays },
  };
}

export type GraphSnapshot = ReturnType<typeof snapshot>;
