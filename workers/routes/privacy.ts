/**
 * @module
 * The privacy centre's API: our users' rights (requests ledger, export, account deletion,
 * restriction and objection switches), cookie consent and first-party analytics, and the tools a
 * workspace uses for its own customers (find, export, erase, restrict a contact; retention policy).
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { getCookie, setCookie } from "hono/cookie";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { WorkspaceParam, errorDoc, errorResponses, jsonBody } from "../api-schemas.ts";
import { audit } from "../audit.ts";
import { optionalSession, type AuthEnv, type OptionalAuthEnv } from "../auth/middleware.ts";
import { verifyPassword } from "../auth/password.ts";
import { DUMMY_HASH } from "./auth.ts";
import { issueToken, verifyToken } from "../auth/signed-link.ts";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { clientHash } from "../client-hash.ts";
import { exportJobs, retentionPolicies, rightsRequests, users } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { mailerFor } from "../mail.ts";
import { can } from "../permissions.ts";
import { hit } from "../rate-limit.ts";
import { validationHook } from "../validation.ts";
import { cancelAccountDeletion, deactivateAccount, graceDays, pendingErasure, planAccountDeletion } from "../privacy/account-erasure.ts";
import {
  CONSENT_COOKIE,
  CONSENT_MAX_AGE_S,
  analyticsRefusal,
  countEvent,
  currentConsent,
  privacySwitches,
  recordConsent,
  setPrivacySwitches,
  subjectOfUser,
  subjectOfVisitor,
} from "../privacy/consent.ts";
import { eraseContact, exportContact, findContact, isContactRestricted, searchContacts, setContactRestriction, type Contact } from "../privacy/contacts.ts";
import { advanceExport, exportStream, requestExport, type ExportJob } from "../privacy/export.ts";
import { completedRequest, publicRequest, requestsOfUser } from "../privacy/requests.ts";
import { retentionPreview } from "../privacy/retention.ts";

const DOWNLOAD_TTL_S = 3600;
/** Retention shorter than Meta's week of webhook retries would let a retried message come back. */
const MIN_KEEP_DAYS = 7;
const CANCEL_LIMIT = { limit: 10, windowSeconds: 15 * 60 };

const Ok = z.object({ ok: z.literal(true) });
const RightsRequestView = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.string(),
    receivedAt: z.number().int(),
    dueAt: z.number().int(),
    notBefore: z.number().int(),
    completedAt: z.number().int().nullable(),
    outcome: z.string().nullable(),
    receipt: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("RightsRequest");
const Switches = z.object({ processingRestricted: z.boolean(), analyticsObjection: z.boolean() }).openapi("PrivacySwitches");
const ExportView = z
  .object({
    id: z.string(),
    status: z.string(),
    createdAt: z.number().int(),
    readyAt: z.number().int().nullable(),
    expiresAt: z.number().int(),
    bytes: z.number().int(),
    downloadUrl: z.string().nullable().openapi({ description: "Signed link, valid one hour (present when ready)" }),
  })
  .openapi("Export");
const WorkspaceRef = z.object({ id: z.string(), name: z.string() });
const DeletionPlan = z
  .object({
    graceDays: z.number().int(),
    deleted: z.array(WorkspaceRef).openapi({ description: "Workspaces only you use: erased with your account" }),
    kept: z.array(WorkspaceRef).openapi({ description: "Workspaces you leave; they stay with their other members" }),
    blockers: z.array(WorkspaceRef.extend({ reason: z.string() })).openapi({ description: "Transfer ownership of these first" }),
  })
  .openapi("AccountDeletionPlan");
const ConsentView = z
  .object({ essential: z.literal(true), analytics: z.boolean(), preferences: z.boolean(), policyVersion: z.string(), recordedAt: z.number().int().nullable() })
  .openapi("Consent");
const ContactView = z
  .object({
    id: z.string(),
    channelId: z.string(),
    channelKind: z.string(),
    identity: z.string(),
    waId: z.string().nullable(),
    bsuid: z.string().nullable(),
    name: z.string().nullable(),
    username: z.string().nullable(),
    conversationId: z.string(),
    restricted: z.boolean(),
    updatedAt: z.number().int(),
  })
  .openapi("PrivacyContact");
const ContactParam = WorkspaceParam.extend({ contactId: z.string().min(1).max(128) });
const KeepDays = z.number().int().min(MIN_KEEP_DAYS).max(36500);

const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { "application/json": { schema } } });

// ── Our users' rights (session; `/me/*` is behind requireSession in routes/auth.ts) ──────────────

export const privacyRoutes = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me/rights-requests",
    summary: "Your privacy requests with their due dates and outcomes",
    responses: { 200: json("Newest first", z.object({ requests: z.array(RightsRequestView) })), 401: errorDoc("Not signed in") },
  }),
  async (c) => c.json({ requests: (await requestsOfUser(c.env.DB, c.var.user.id)).map(publicRequest) }, 200),
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me/privacy",
    summary: "Your restriction of processing and objection switches",
    responses: { 200: json("Switches", Switches), 401: errorDoc("Not signed in") },
  }),
  async (c) => c.json(await privacySwitches(c.env.DB, c.var.user.id), 200),
);

privacyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/me/privacy",
    summary: "Restrict processing or object to analytics (effective at once; recorded as rights requests)",
    request: { body: jsonBody(z.object({ processingRestricted: z.boolean().optional(), analyticsObjection: z.boolean().optional() }).strict()) },
    responses: { 200: json("Switches now in force", Switches), 400: errorDoc("Invalid request"), 401: errorDoc("Not signed in") },
  }),
  async (c) => {
    const change = c.req.valid("json");
    const userId = c.var.user.id;
    const now = Date.now();
    await setPrivacySwitches(c.env.DB, userId, change, now);
    const requests = [
      ...(change.processingRestricted === undefined ? [] : [{ kind: "restriction" as const, on: change.processingRestricted }]),
      ...(change.analyticsObjection === undefined ? [] : [{ kind: "objection" as const, on: change.analyticsObjection }]),
    ].map(({ kind, on }) => completedRequest({ kind, subjectType: "user", subjectId: userId, source: "self_service", outcome: on ? "Switched on" : "Switched off" }, now));
    if (requests.length > 0) await drizzle(c.env.DB).insert(rightsRequests).values(requests);
    await audit(c.env.DB, { action: "privacy.switches_changed", actorUserId: userId, targetType: "user", targetId: userId, detail: change });
    return c.json(await privacySwitches(c.env.DB, userId), 200);
  },
);

async function exportView(env: Cloudflare.Env, origin: string, job: ExportJob, now = Date.now()) {
  const ready = job.status === "ready" && job.expiresAt > now;
  const token = ready
    ? await issueToken(env.SESSION_SECRET, { purpose: "export-download", subject: job.id, data: { u: job.userId }, ttlSeconds: DOWNLOAD_TTL_S, now })
    : null;
  return {
    id: job.id,
    status: job.status,
    createdAt: job.createdAt,
    readyAt: job.readyAt,
    expiresAt: job.expiresAt,
    bytes: job.bytes,
    downloadUrl: token ? `${origin}/api/privacy/exports/${job.id}/download?token=${token}` : null,
  };
}

privacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/me/exports",
    summary: "Export everything we hold about you (JSON with a description of every field); built in the background",
    responses: {
      202: json("Started; poll GET /me/exports", ExportView),
      401: errorDoc("Not signed in"),
      409: errorDoc("An export is being built already"),
    },
  }),
  async (c) => {
    const userId = c.var.user.id;
    const running = await drizzle(c.env.DB).select({ id: exportJobs.id }).from(exportJobs).where(and(eq(exportJobs.userId, userId), eq(exportJobs.status, "pending"))).get();
    if (running) return errorResponse(c, 409, "export_in_progress", "An export is being built already; it will be listed when ready");
    const job = await requestExport(c.env, userId);
    // Built after the response; if the runtime cuts it short, the scheduled run resumes it.
    c.executionCtx.waitUntil(advanceExport(c.env, job.id).then(() => undefined));
    return c.json(await exportView(c.env, new URL(c.req.url).origin, job), 202);
  },
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me/exports",
    summary: "Your exports; ready ones carry a signed download link valid for one hour",
    responses: { 200: json("Newest first", z.object({ exports: z.array(ExportView) })), 401: errorDoc("Not signed in") },
  }),
  async (c) => {
    const jobs = await drizzle(c.env.DB).select().from(exportJobs).where(eq(exportJobs.userId, c.var.user.id)).orderBy(desc(exportJobs.createdAt)).limit(20);
    const origin = new URL(c.req.url).origin;
    return c.json({ exports: await Promise.all(jobs.map((job) => exportView(c.env, origin, job))) }, 200);
  },
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me/deletion",
    summary: "What deleting your account would do: workspaces erased with it, left, or blocking it",
    responses: { 200: json("The plan", DeletionPlan), 401: errorDoc("Not signed in") },
  }),
  async (c) => c.json({ graceDays: graceDays(c.env), ...(await planAccountDeletion(c.env.DB, c.var.user.id)) }, 200),
);

privacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/me/deletion",
    summary: "Delete your account: confirmed with your password, deactivated at once, erased after the grace period",
    request: { body: jsonBody(z.object({ password: z.string().max(1024) })) },
    responses: {
      202: json("Deactivated; erasure scheduled", z.object({ request: RightsRequestView, plan: DeletionPlan })),
      401: errorDoc("Not signed in, or wrong password"),
      409: errorDoc("You are the only owner of a workspace others use: transfer ownership first"),
    },
  }),
  async (c) => {
    const user = c.var.user;
    if (!(await verifyPassword(c.req.valid("json").password, user.passwordHash, c.env.PASSWORD_PEPPER)).ok) {
      return errorResponse(c, 401, "invalid_credentials", "The password is wrong");
    }
    const plan = await planAccountDeletion(c.env.DB, user.id);
    if (plan.blockers.length > 0) {
      return errorResponse(c, 409, "ownership_transfer_required", `Make another member owner of ${plan.blockers.map((w) => `"${w.name}"`).join(", ")} first: you are its only owner`);
    }
    const request = await deactivateAccount(c.env, user.id, plan);
    await mailerFor(c.env).send({
      to: user.email,
      subject: "Your WeChatting account will be deleted",
      text: `Hello ${user.name},\n\nyour account is deactivated and will be erased on ${new Date(request.notBefore).toUTCString()}.\nTo keep it, cancel before then in the app (sign-in page → "Cancel account deletion") with your email and password.`,
    });
    return c.json({ request: publicRequest(request), plan: { graceDays: graceDays(c.env), ...plan } }, 202);
  },
);

// ── Open to visitors: cancellation, download links, consent, analytics ──────────────────────────

export const publicPrivacyRoutes = new OpenAPIHono<OptionalAuthEnv>({ defaultHook: validationHook });

publicPrivacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/privacy/account-deletion/cancel",
    summary: "Cancel your account's deletion during the grace period (email and password; the account is reactivated)",
    security: [],
    request: { body: jsonBody(z.object({ email: z.string().trim().toLowerCase().max(254), password: z.string().max(1024) })) },
    responses: {
      200: json("Reactivated: sign in again", Ok),
      401: errorDoc("Wrong email or password, or no deletion to cancel"),
      429: errorDoc("Too many attempts; see Retry-After"),
    },
  }),
  async (c) => {
    const { email, password } = c.req.valid("json");
    const verdict = await hit(c.env.DB, `cancel-deletion:client:${await clientHash(c.env.SESSION_SECRET, c.req.raw)}`, CANCEL_LIMIT);
    if (!verdict.allowed) {
      c.header("Retry-After", String(verdict.retryAfterSeconds));
      return errorResponse(c, 429, "too_many_attempts", `Too many attempts; try again in ${verdict.retryAfterSeconds} s`);
    }
    const user = await drizzle(c.env.DB).select().from(users).where(eq(users.email, email)).get();
    // Always one hash to check, so timing does not tell which accounts exist.
    const passwordOk = (await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH, c.env.PASSWORD_PEPPER)).ok;
    const pending = user && passwordOk ? await pendingErasure(c.env.DB, user.id) : undefined;
    if (!user || !pending || !passwordOk) return errorResponse(c, 401, "invalid_credentials", "Wrong email or password, or no account deletion to cancel");
    await cancelAccountDeletion(c.env, user.id, pending);
    return c.json({ ok: true as const }, 200);
  },
);

// A link target, not an API call: plain route (the bundle is streamed, not a JSON response object).
publicPrivacyRoutes.get("/privacy/exports/:exportId/download", async (c) => {
  const exportId = c.req.param("exportId");
  const verdict = await verifyToken(c.env.SESSION_SECRET, (c.req.query("token") ?? "").slice(0, 4096), "export-download");
  if (!verdict.ok || verdict.claims.sub !== exportId) {
    return errorResponse(c, 400, `link_${verdict.ok ? "invalid" : verdict.reason}`, "This download link is invalid or has expired: ask for a new one in the privacy centre");
  }
  const job = await drizzle(c.env.DB).select().from(exportJobs).where(eq(exportJobs.id, exportId)).get();
  if (!job || job.userId !== verdict.claims.data?.u) return errorResponse(c, 400, "link_invalid", "This download link is invalid");
  if (job.status !== "ready" || job.expiresAt <= Date.now()) return errorResponse(c, 410, "export_expired", "This export has expired: ask for a new one");
  await audit(c.env.DB, { action: "privacy.export_downloaded", actorUserId: job.userId, targetType: "export", targetId: job.id, clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw) });
  return c.body(exportStream(c.env.DB, job), 200, {
    "content-type": "application/json; charset=utf-8",
    "content-disposition": `attachment; filename="wechatting-export-${job.id}.json"`,
    "cache-control": "no-store",
  });
});

publicPrivacyRoutes.use("/consent", optionalSession());
publicPrivacyRoutes.use("/analytics", optionalSession());

/** Whose choice this is: the signed-in user, or the visitor's consent cookie (if any). */
function consentSubject(c: Context<OptionalAuthEnv>): string | null {
  if (c.var.user) return subjectOfUser(c.var.user.id);
  const id = getCookie(c, CONSENT_COOKIE, "host");
  return id && /^[0-9a-f-]{36}$/.test(id) ? subjectOfVisitor(id) : null;
}

publicPrivacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/consent",
    summary: "The cookie and analytics choice in force (essential only until you opt in)",
    security: [],
    responses: { 200: json("Consent", ConsentView) },
  }),
  async (c) => c.json(await currentConsent(c.env.DB, consentSubject(c)), 200),
);

publicPrivacyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/consent",
    summary: "Record a cookie and analytics choice (giving and withdrawing alike), with the policy version and time",
    security: [],
    request: { body: jsonBody(z.object({ analytics: z.boolean(), preferences: z.boolean() }).strict()) },
    responses: { 200: json("Recorded", ConsentView), 400: errorDoc("Invalid request"), 403: errorDoc("Cross-site request, or missing CSRF token with a session") },
  }),
  async (c) => {
    let subject = consentSubject(c);
    if (!subject) {
      const id = crypto.randomUUID();
      setCookie(c, CONSENT_COOKIE, id, { path: "/", secure: true, httpOnly: true, sameSite: "Lax", maxAge: CONSENT_MAX_AGE_S, prefix: "host" });
      subject = subjectOfVisitor(id);
    }
    return c.json(await recordConsent(c.env.DB, subject, c.req.valid("json")), 200);
  },
);

publicPrivacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/analytics",
    summary: "Count a product event (aggregated per day, no identifiers); only with analytics consent",
    security: [],
    request: { body: jsonBody(z.object({ event: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "Use a short lower-case event name") })) },
    responses: { 204: { description: "Counted" }, 400: errorDoc("Invalid event name"), 403: errorDoc("No analytics consent, or an objection or restriction") },
  }),
  async (c) => {
    const refusal = await analyticsRefusal(c.env.DB, consentSubject(c), c.var.user?.id ?? null);
    if (refusal) {
      const why = { no_consent: "analytics were not consented to", objection: "you object to analytics", restricted: "you restricted processing" }[refusal];
      return errorResponse(c, 403, "analytics_refused", `Not recorded: ${why}`);
    }
    await countEvent(c.env.DB, c.req.valid("json").event);
    return c.body(null, 204);
  },
);

// ── A workspace's tools for its own customers ───────────────────────────────────────────────────

export const workspacePrivacyRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });
const contactsManage = requirePermission("contacts.manage");

/**
 * Restricted contacts are hidden from agents: a conversation of one answers 404 to them, like one
 * that does not exist. Admins (contacts.manage) still reach it to answer the customer's request.
 */
export const hideRestrictedConversations = () =>
  createMiddleware<WorkspaceEnv>(async (c, next) => {
    const conversationId = c.req.param("id");
    if (conversationId && !can(c.var.role, "contacts.manage") && (await isContactRestricted(c.env.DB, `ct_${conversationId}`))) {
      return errorResponse(c, 404, "not_found", "No such conversation");
    }
    await next();
  });
workspacePrivacyRoutes.use("/workspaces/:workspaceId/conversations/:id", hideRestrictedConversations());
workspacePrivacyRoutes.use("/workspaces/:workspaceId/conversations/:id/*", hideRestrictedConversations());

async function contactOr404<T>(c: Context<WorkspaceEnv>, contactId: string, then: (contact: Contact) => Promise<T>) {
  const contact = await findContact(c.env.DB, c.var.workspaceId, contactId);
  return contact ? then(contact) : errorResponse(c, 404, "not_found", "No such contact in this workspace");
}

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/privacy/contacts",
    summary: "Find a contact across channels by name, username, wa_id, BSUID, IGSID or PSID",
    middleware: [contactsManage] as const,
    request: { params: WorkspaceParam, query: z.object({ q: z.string().trim().min(2, "Type at least 2 characters").max(200) }) },
    responses: { 200: json("Matches (at most 50)", z.object({ contacts: z.array(ContactView) })), ...errorResponses },
  }),
  async (c) => c.json({ contacts: await searchContacts(c.env.DB, c.var.workspaceId, c.req.valid("query").q) }, 200),
);

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/privacy/contacts/{contactId}/export",
    summary: "Everything the workspace holds about a contact: profile, conversation, messages (audited)",
    middleware: [contactsManage] as const,
    request: { params: ContactParam },
    responses: { 200: json("The contact's data", z.object({ format: z.string() }).passthrough()), ...errorResponses },
  }),
  async (c) => contactOr404(c, c.req.valid("param").contactId, async (contact) => c.json(await exportContact(c.env, contact, c.var.user.id), 200)),
);

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/privacy/contacts/{contactId}/erasure",
    summary: "Erase a contact: profile, conversation and messages, in D1 and the conversation's Durable Object",
    middleware: [contactsManage] as const,
    request: { params: ContactParam },
    responses: { 200: json("The deletion receipt (no personal data)", z.object({ requestId: z.string(), erasedAt: z.number().int(), categories: z.array(z.string()) }).passthrough()), ...errorResponses },
  }),
  async (c) => contactOr404(c, c.req.valid("param").contactId, async (contact) => c.json(await eraseContact(c.env, contact, c.var.user.id), 200)),
);

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/workspaces/{workspaceId}/privacy/contacts/{contactId}/restriction",
    summary: "Restrict a contact (kept, hidden from agents, no outbound messages) or lift the restriction",
    middleware: [contactsManage] as const,
    request: { params: ContactParam, body: jsonBody(z.object({ restricted: z.boolean() })) },
    responses: { 200: json("Now in force", z.object({ restricted: z.boolean(), requestId: z.string() })), ...errorResponses },
  }),
  async (c) => contactOr404(c, c.req.valid("param").contactId, async (contact) => c.json(await setContactRestriction(c.env, contact, c.req.valid("json").restricted, c.var.user.id), 200)),
);

const RetentionView = z.object({ keepDays: z.number().int().nullable().openapi({ description: "null: messages are kept until deleted" }) }).openapi("RetentionPolicy");

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/retention",
    summary: "The workspace's message retention policy (off by default)",
    middleware: [requirePermission("retention.manage")] as const,
    request: { params: WorkspaceParam },
    responses: { 200: json("Policy", RetentionView), ...errorResponses },
  }),
  async (c) => {
    const policy = await drizzle(c.env.DB).select().from(retentionPolicies).where(eq(retentionPolicies.workspaceId, c.var.workspaceId)).get();
    return c.json({ keepDays: policy?.keepDays ?? null }, 200);
  },
);

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/workspaces/{workspaceId}/retention",
    summary: `Keep messages N days (${MIN_KEEP_DAYS} or more), or null to keep them; the daily run deletes older ones`,
    middleware: [requirePermission("retention.manage")] as const,
    request: { params: WorkspaceParam, body: jsonBody(z.object({ keepDays: KeepDays.nullable() })) },
    responses: { 200: json("Policy", RetentionView), ...errorResponses },
  }),
  async (c) => {
    const { keepDays } = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const workspaceId = c.var.workspaceId;
    if (keepDays === null) await db.delete(retentionPolicies).where(eq(retentionPolicies.workspaceId, workspaceId));
    else {
      const policy = { workspaceId, keepDays, updatedAt: Date.now(), updatedBy: c.var.user.id };
      await db.insert(retentionPolicies).values(policy).onConflictDoUpdate({ target: retentionPolicies.workspaceId, set: policy });
    }
    await audit(c.env.DB, { action: "privacy.retention_policy_set", workspaceId, actorUserId: c.var.user.id, detail: { keepDays } });
    return c.json({ keepDays }, 200);
  },
);

workspacePrivacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/retention/preview",
    summary: "Dry run: what a policy of keepDays would delete now (nothing is deleted)",
    middleware: [requirePermission("retention.manage")] as const,
    request: { params: WorkspaceParam, query: z.object({ keepDays: z.coerce.number().pipe(KeepDays) }) },
    responses: { 200: json("Counts", z.object({ keepDays: z.number().int(), cutoff: z.number().int(), messages: z.number().int(), conversations: z.number().int() })), ...errorResponses },
  }),
  async (c) => c.json(await retentionPreview(c.env.DB, c.var.workspaceId, c.req.valid("query").keepDays), 200),
);
