/**
 * @module
 * Sign-up, sign-in, sessions, email verification, password reset and the user's own profile.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditStatement, audit } from "../audit.ts";
import { requireSession, type AuthEnv } from "../auth/middleware.ts";
import { workspacesOf } from "../auth/workspace-access.ts";
import { SCRYPT_PARAMS, checkPasswordPolicy, hashPassword, verifyPassword } from "../auth/password.ts";
import { csrfTokenFor, endAllSessions, endSession, startSession } from "../auth/session.ts";
import { consumeToken, issueToken, verifyToken } from "../auth/signed-link.ts";
import { clientHash } from "../client-hash.ts";
import { memberships, policyAcceptances, sessions, users, workspaces } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { errorDoc, jsonBody } from "../api-schemas.ts";
import { mailerFor } from "../mail.ts";
import { POLICY_VERSION } from "../privacy-policy.ts";
import { hmacHex } from "../hash.ts";
import { hit, reset as resetRateLimit, type RateLimit } from "../rate-limit.ts";
import { validationHook } from "../validation.ts";

const VERIFY_TTL_S = 24 * 3600;
const RESET_TTL_S = 30 * 60;
const SIGNIN_LIMITS = { account: { limit: 10, windowSeconds: 15 * 60 }, client: { limit: 50, windowSeconds: 15 * 60 } };
/** Sign-ups per client address: generous for an office behind one address, a wall for scripts. */
export const SIGNUP_LIMIT = { limit: 100, windowSeconds: 3600 };
const RESET_LIMITS = { account: { limit: 5, windowSeconds: 15 * 60 }, client: { limit: 20, windowSeconds: 15 * 60 } };

/** One address, one account: case, surrounding spaces and Unicode normal form do not count. */
export const Email = z
  .string()
  .trim()
  .max(254)
  .transform((s) => s.normalize("NFC").toLowerCase())
  .pipe(z.email({ message: "Enter a valid email address" }))
  .openapi({ example: "ana@example.com" });
/** Text people type: a lone UTF-16 surrogate would be stored as U+FFFD, silently changing it. */
export const Text = (max: number, empty: string) =>
  z
    .string()
    .refine((s) => s.isWellFormed(), "Contains a broken character (invalid Unicode)")
    .transform((s) => s.trim())
    .pipe(z.string().min(1, empty).max(max, `Use at most ${max} characters`));
const Name = Text(100, "Enter your name");
const Phone = z
  .string()
  .trim()
  .regex(/^\+[1-9]\d{6,14}$/, "Use international format, e.g. +14155550123")
  .nullable();
// The policy (12–256) is checked by checkPasswordPolicy; this only bounds what is read at all.
const Password = z.string().max(1024, "Use at most 256 characters");


const User = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    phone: z.string().nullable(),
    createdAt: z.number().int(),
  })
  .openapi("User");
const Me = z
  .object({
    user: User,
    csrfToken: z.string().openapi({ description: "Send as X-CSRF-Token with every state-changing request" }),
    workspaces: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(["owner", "admin", "agent"]) })),
    policyVersion: z.string(),
    policyAccepted: z.boolean(),
  })
  .openapi("Me");
const Accepted = z.object({ ok: z.literal(true) });

type UserRow = typeof users.$inferSelect;
/**
 * Counts an attempt per account and per client; returns the seconds to wait when either is over its
 * limit. The account key is a keyed hash: rate_limits never holds an address someone typed.
 */
async function attemptsLeft(
  env: Cloudflare.Env,
  action: string,
  email: string,
  client: string,
  limits: { account: RateLimit; client: RateLimit },
): Promise<number | null> {
  const account = await hmacHex(env.SESSION_SECRET, `${action}\n${email}`);
  for (const [key, limit] of [
    [`${action}:account:${account}`, limits.account],
    [`${action}:client:${client}`, limits.client],
  ] as const) {
    const verdict = await hit(env.DB, key, limit);
    if (!verdict.allowed) return verdict.retryAfterSeconds;
  }
  return null;
}

/**
 * Re-authentication of a signed-in user (changing the address or the password): the password is
 * checked under the sign-in limits of the account, so a stolen session cannot guess it either.
 * Answers the refusal to send, or null when the password is right.
 */
async function refuseWrongPassword(c: Context<AuthEnv>, password: string) {
  const user = c.var.user;
  const client = await clientHash(c.env.SESSION_SECRET, c.req.raw);
  const limited = await attemptsLeft(c.env, "signin", user.email, client, SIGNIN_LIMITS);
  if (limited) {
    c.header("Retry-After", String(limited));
    return errorResponse(c, 429, "too_many_attempts", `Too many password attempts; try again in ${limited} s`);
  }
  if (!(await verifyPassword(password, user.passwordHash, c.env.PASSWORD_PEPPER)).ok) {
    return errorResponse(c, 401, "invalid_credentials", "The password is wrong");
  }
  return null;
}

const publicUser = (u: UserRow) => ({
  id: u.id,
  name: u.name,
  email: u.email,
  emailVerified: u.emailVerifiedAt !== null,
  phone: u.phone,
  createdAt: u.createdAt,
});

export const auth = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

/** The user's acceptance of the policy version in force, if any: without it they must accept again. */
const currentPolicyAcceptance = (db: D1Database, userId: string) =>
  drizzle(db)
    .select()
    .from(policyAcceptances)
    .where(and(eq(policyAcceptances.userId, userId), eq(policyAcceptances.version, POLICY_VERSION)))
    .get();

async function me(c: { env: Cloudflare.Env }, user: UserRow, sessionId: string) {
  const [rows, accepted] = await Promise.all([
    workspacesOf(c.env.DB, user.id),
    currentPolicyAcceptance(c.env.DB, user.id),
  ]);
  return {
    user: publicUser(user),
    csrfToken: await csrfTokenFor(c.env.SESSION_SECRET, sessionId),
    workspaces: rows,
    policyVersion: POLICY_VERSION,
    policyAccepted: accepted !== undefined,
  };
}

async function sendVerification(env: Cloudflare.Env, origin: string, user: { id: string; email: string; name: string }, purpose: "verify-email" | "change-email") {
  const token = await issueToken(env.SESSION_SECRET, {
    purpose,
    subject: user.id,
    data: { email: user.email },
    ttlSeconds: VERIFY_TTL_S,
  });
  await mailerFor(env).send({
    to: user.email,
    subject: "Confirm your email address for WeChatting",
    text: `Hello ${user.name},\n\nconfirm this address by opening:\n${origin}/verify-email?token=${token}\n\nThe link works once and expires in 24 hours. If you did not ask for it, ignore this mail.`,
  });
}

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/signup",
    summary: "Create an account (18+ and the current privacy policy required) and sign in",
    request: {
      body: jsonBody(
        z.object({
          name: Name,
          email: Email,
          phone: Phone.optional(),
          password: Password,
          adult: z.literal(true, { message: "You must confirm that you are 18 or older to use WeChatting" }),
          acceptPolicyVersion: z.literal(POLICY_VERSION, {
            message: `Accept the current privacy policy (version ${POLICY_VERSION})`,
          }),
          workspaceName: z.string().trim().min(1).max(100).optional(),
        }),
      ),
    },
    responses: {
      201: { description: "Signed in", content: { "application/json": { schema: Me } } },
      400: errorDoc("A field is invalid; the message names it"),
      409: errorDoc("An account with this email exists"),
      429: errorDoc("Too many sign-ups from this client address; see Retry-After"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const client = await clientHash(c.env.SESSION_SECRET, c.req.raw);
    const verdict = await hit(c.env.DB, `signup:client:${client}`, SIGNUP_LIMIT);
    if (!verdict.allowed) {
      c.header("Retry-After", String(verdict.retryAfterSeconds));
      return errorResponse(c, 429, "too_many_attempts", `Too many sign-ups from this address; try again in ${verdict.retryAfterSeconds} s`);
    }
    const problem = checkPasswordPolicy(body.password, { email: body.email, name: body.name });
    if (problem) return errorResponse(c, 400, "invalid_request", `password: ${problem}`);
    const db = drizzle(c.env.DB);
    if (await db.select({ id: users.id }).from(users).where(eq(users.email, body.email)).get()) {
      return errorResponse(c, 409, "email_taken", "An account with this email already exists: sign in or reset the password");
    }
    const now = Date.now();
    const user: UserRow = {
      id: `u_${crypto.randomUUID()}`,
      email: body.email,
      emailVerifiedAt: null,
      name: body.name,
      phone: body.phone ?? null,
      passwordHash: await hashPassword(body.password, c.env.PASSWORD_PEPPER),
      adultConfirmedAt: now,
      status: "active",
      createdAt: now,
      updatedAt: now,
    };
    const workspaceId = `ws_${crypto.randomUUID()}`;
    try {
      await db.batch([
        db.insert(users).values(user),
        db.insert(policyAcceptances).values({ userId: user.id, version: POLICY_VERSION, acceptedAt: now }),
        db.insert(workspaces).values({ id: workspaceId, name: body.workspaceName ?? `${body.name}'s workspace`, createdAt: now }),
        db.insert(memberships).values({ workspaceId, userId: user.id, role: "owner", createdAt: now }),
        auditStatement(c.env.DB, { action: "auth.signup", actorUserId: user.id, targetType: "user", targetId: user.id, clientHash: client }, now),
      ]);
    } catch (e) {
      // Two sign-ups racing for one address: the unique index decides.
      if (String(e).includes("UNIQUE")) return errorResponse(c, 409, "email_taken", "An account with this email already exists");
      throw e;
    }
    const session = await startSession(c, user.id, now);
    await sendVerification(c.env, new URL(c.req.url).origin, user, "verify-email");
    return c.json(await me(c, user, session.id), 201);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/signin",
    summary: "Sign in with email and password (a new session every time)",
    request: { body: jsonBody(z.object({ email: Email, password: Password })) },
    responses: {
      200: { description: "Signed in", content: { "application/json": { schema: Me } } },
      400: errorDoc("Invalid request"),
      401: errorDoc("Wrong email or password"),
      403: errorDoc("Account deactivated"),
      429: errorDoc("Too many attempts; see Retry-After"),
    },
  }),
  async (c) => {
    const { email, password } = c.req.valid("json");
    const client = await clientHash(c.env.SESSION_SECRET, c.req.raw);
    const limited = await attemptsLeft(c.env, "signin", email, client, SIGNIN_LIMITS);
    if (limited) {
      c.header("Retry-After", String(limited));
      return errorResponse(c, 429, "too_many_attempts", `Too many sign-in attempts; try again in ${limited} s`);
    }
    const db = drizzle(c.env.DB);
    const user = await db.select().from(users).where(eq(users.email, email)).get();
    // Verify against a real hash even for unknown emails, so timing does not reveal accounts.
    const check = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH, c.env.PASSWORD_PEPPER);
    if (!user || !check.ok) {
      await audit(c.env.DB, { action: "auth.signin_failed", actorUserId: user?.id ?? null, clientHash: client, detail: { known: !!user } });
      return errorResponse(c, 401, "invalid_credentials", "Wrong email or password");
    }
    if (user.status !== "active") return errorResponse(c, 403, "account_deactivated", "This account is deactivated");
    if (check.needsRehash) {
      await db
        .update(users)
        .set({ passwordHash: await hashPassword(password, c.env.PASSWORD_PEPPER), updatedAt: Date.now() })
        .where(eq(users.id, user.id));
    }
    // A success clears the account's counter, so regular use never runs into the limit.
    await resetRateLimit(c.env.DB, `signin:account:${await hmacHex(c.env.SESSION_SECRET, `signin\n${email}`)}`);
    const session = await startSession(c, user.id);
    await audit(c.env.DB, { action: "auth.signin", actorUserId: user.id, targetType: "user", targetId: user.id, clientHash: client });
    return c.json(await me(c, user, session.id), 200);
  },
);

/** A valid hash of a random password, for constant-work sign-in failures. */
export const DUMMY_HASH = `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${"A".repeat(22)}==$${"A".repeat(43)}=`;

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/password-reset",
    summary: "Mail a single-use reset link (answers the same whether or not the account exists)",
    request: { body: jsonBody(z.object({ email: Email })) },
    responses: {
      202: { description: "If the account exists, a link was mailed", content: { "application/json": { schema: Accepted } } },
      400: errorDoc("Invalid request"),
      429: errorDoc("Too many requests; see Retry-After"),
    },
  }),
  async (c) => {
    const { email } = c.req.valid("json");
    const client = await clientHash(c.env.SESSION_SECRET, c.req.raw);
    const limited = await attemptsLeft(c.env, "reset", email, client, RESET_LIMITS);
    if (limited) {
      c.header("Retry-After", String(limited));
      return errorResponse(c, 429, "too_many_attempts", `Too many reset requests; try again in ${limited} s`);
    }
    const user = await drizzle(c.env.DB).select().from(users).where(eq(users.email, email)).get();
    if (user && user.status === "active") {
      const token = await issueToken(c.env.SESSION_SECRET, {
        purpose: "reset-password",
        subject: user.id,
        // Binding the link to the current hash makes it die as soon as the password changes.
        data: { pw: user.passwordHash.slice(-16) },
        ttlSeconds: RESET_TTL_S,
      });
      await mailerFor(c.env).send({
        to: user.email,
        subject: "Reset your WeChatting password",
        text: `Hello ${user.name},\n\nset a new password here:\n${new URL(c.req.url).origin}/reset-password?token=${token}\n\nThe link works once and expires in 30 minutes. If you did not ask for it, ignore this mail: your password stays as it is.`,
      });
      await audit(c.env.DB, { action: "auth.password_reset_requested", actorUserId: user.id, targetType: "user", targetId: user.id, clientHash: client });
    }
    return c.json({ ok: true as const }, 202);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/password-reset/confirm",
    summary: "Set a new password with a reset link; signs out every session",
    request: { body: jsonBody(z.object({ token: z.string().max(4096), password: Password })) },
    responses: {
      200: { description: "Password changed", content: { "application/json": { schema: Accepted } } },
      400: errorDoc("Invalid, expired or already used link, or a weak password"),
    },
  }),
  async (c) => {
    const { token, password } = c.req.valid("json");
    const verdict = await verifyToken(c.env.SESSION_SECRET, token, "reset-password");
    if (!verdict.ok) return errorResponse(c, 400, `link_${verdict.reason}`, linkMessage(verdict.reason));
    const db = drizzle(c.env.DB);
    const user = await db.select().from(users).where(eq(users.id, verdict.claims.sub)).get();
    if (!user || user.passwordHash.slice(-16) !== verdict.claims.data?.pw) {
      return errorResponse(c, 400, "link_invalid", linkMessage("invalid"));
    }
    const problem = checkPasswordPolicy(password, { email: user.email, name: user.name });
    if (problem) return errorResponse(c, 400, "invalid_request", `password: ${problem}`);
    if (!(await consumeToken(c.env.DB, verdict.claims))) return errorResponse(c, 400, "link_used", linkMessage("used"));
    await db.batch([
      db.update(users).set({ passwordHash: await hashPassword(password, c.env.PASSWORD_PEPPER), updatedAt: Date.now() }).where(eq(users.id, user.id)),
      db.delete(sessions).where(eq(sessions.userId, user.id)),
      auditStatement(c.env.DB, {
        action: "auth.password_reset",
        actorUserId: user.id,
        targetType: "user",
        targetId: user.id,
        clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
      }),
    ]);
    return c.json({ ok: true as const }, 200);
  },
);

/** Security notices go to the address the account had, so a takeover cannot go unnoticed. */
async function tellAccountOwner(env: Cloudflare.Env, user: { email: string; name: string }, what: string): Promise<void> {
  await mailerFor(env).send({
    to: user.email,
    subject: "Security notice from WeChatting",
    text: `Hello ${user.name},\n\n${what}\n\nIf this was you, there is nothing to do. If it was not, reset your password at once and tell your workspace owner.`,
  });
}

function linkMessage(reason: "expired" | "invalid" | "wrong_purpose" | "used"): string {
  return {
    expired: "This link has expired: ask for a new one",
    invalid: "This link is not valid",
    wrong_purpose: "This link is not meant for this",
    used: "This link has already been used: ask for a new one",
  }[reason];
}

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/verify-email",
    summary: "Confirm an email address (sign-up or email change) with its single-use link",
    request: { body: jsonBody(z.object({ token: z.string().max(4096) })) },
    responses: {
      200: { description: "Email confirmed", content: { "application/json": { schema: z.object({ email: z.string() }) } } },
      400: errorDoc("Invalid, expired or already used link"),
      409: errorDoc("The address now belongs to another account"),
    },
  }),
  async (c) => {
    const { token } = c.req.valid("json");
    // One endpoint confirms both kinds of link; the purpose stays bound inside each token.
    const first = await verifyToken(c.env.SESSION_SECRET, token, "verify-email");
    const change =
      !first.ok && first.reason === "wrong_purpose" ? await verifyToken(c.env.SESSION_SECRET, token, "change-email") : first;
    if (!change.ok) return errorResponse(c, 400, `link_${change.reason}`, linkMessage(change.reason));
    const email = change.claims.data?.email;
    const db = drizzle(c.env.DB);
    const user = await db.select().from(users).where(eq(users.id, change.claims.sub)).get();
    // A sign-up link confirms the address it was mailed to, and only while that is still the account's address.
    if (!user || !email || (change.claims.aud === "verify-email" && email !== user.email)) return errorResponse(c, 400, "link_invalid", linkMessage("invalid"));
    const taken = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
    if (taken && taken.id !== user.id) return errorResponse(c, 409, "email_taken", "This address now belongs to another account");
    if (!(await consumeToken(c.env.DB, change.claims))) return errorResponse(c, 400, "link_used", linkMessage("used"));
    const now = Date.now();
    await db.batch([
      db.update(users).set({ email, emailVerifiedAt: now, updatedAt: now }).where(eq(users.id, user.id)),
      auditStatement(c.env.DB, {
        action: email === user.email ? "auth.email_verified" : "auth.email_changed",
        actorUserId: user.id,
        targetType: "user",
        targetId: user.id,
      }),
    ]);
    if (email !== user.email) {
      await tellAccountOwner(c.env, user, `Your WeChatting sign-in email was changed to ${email}.`);
    }
    return c.json({ email }, 200);
  },
);

// Everything below needs a session.
auth.use("/auth/session", requireSession());
auth.use("/auth/signout", requireSession());
auth.use("/auth/signout-all", requireSession());
auth.use("/auth/sessions", requireSession());
auth.use("/auth/sessions/*", requireSession());
auth.use("/auth/verify-email/resend", requireSession());
auth.use("/me", requireSession());
auth.use("/me/*", requireSession());

auth.openapi(
  createRoute({
    method: "get",
    path: "/auth/session",
    summary: "The signed-in user, their workspaces and the CSRF token",
    responses: { 200: { description: "Signed in", content: { "application/json": { schema: Me } } }, 401: errorDoc("Not signed in") },
  }),
  async (c) => c.json(await me(c, c.var.user, c.var.session.id), 200),
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/signout",
    summary: "End this session",
    responses: { 200: { description: "Signed out", content: { "application/json": { schema: Accepted } } }, 401: errorDoc("Not signed in") },
  }),
  async (c) => {
    await endSession(c, c.var.session.id);
    await audit(c.env.DB, { action: "auth.signout", actorUserId: c.var.user.id });
    return c.json({ ok: true as const }, 200);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/signout-all",
    summary: "Sign out everywhere else (every other session of this user)",
    responses: { 200: { description: "Other sessions ended", content: { "application/json": { schema: Accepted } } }, 401: errorDoc("Not signed in") },
  }),
  async (c) => {
    await endAllSessions(c.env.DB, c.var.user.id, c.var.session.id);
    await audit(c.env.DB, { action: "auth.sessions_revoked", actorUserId: c.var.user.id, detail: { scope: "others" } });
    return c.json({ ok: true as const }, 200);
  },
);

const SessionInfo = z
  .object({
    id: z.string(),
    current: z.boolean(),
    createdAt: z.number().int(),
    lastSeenAt: z.number().int(),
    expiresAt: z.number().int(),
    userAgent: z.string().nullable(),
  })
  .openapi("Session");

auth.openapi(
  createRoute({
    method: "get",
    path: "/auth/sessions",
    summary: "The user's active sessions",
    responses: {
      200: { description: "Active sessions", content: { "application/json": { schema: z.object({ sessions: z.array(SessionInfo) }) } } },
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    const rows = await drizzle(c.env.DB)
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, c.var.user.id), gt(sessions.expiresAt, Date.now())))
      .orderBy(sessions.createdAt);
    return c.json(
      {
        sessions: rows.map((s) => ({
          id: s.id,
          current: s.id === c.var.session.id,
          createdAt: s.createdAt,
          lastSeenAt: s.lastSeenAt,
          expiresAt: s.expiresAt,
          userAgent: s.userAgent,
        })),
      },
      200,
    );
  },
);

auth.openapi(
  createRoute({
    method: "delete",
    path: "/auth/sessions/{id}",
    summary: "Revoke one of the user's sessions",
    request: { params: z.object({ id: z.string().regex(/^[0-9a-f]{64}$/) }) },
    responses: {
      200: { description: "Revoked", content: { "application/json": { schema: Accepted } } },
      401: errorDoc("Not signed in"),
      404: errorDoc("No such session of yours"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const deleted = await drizzle(c.env.DB)
      .delete(sessions)
      .where(and(eq(sessions.id, id), eq(sessions.userId, c.var.user.id)))
      .returning({ id: sessions.id });
    if (deleted.length === 0) return errorResponse(c, 404, "not_found", "No such session");
    await audit(c.env.DB, { action: "auth.session_revoked", actorUserId: c.var.user.id, targetType: "session", targetId: id.slice(0, 12) });
    return c.json({ ok: true as const }, 200);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/auth/verify-email/resend",
    summary: "Mail a new confirmation link for the current address",
    responses: {
      202: { description: "Mailed", content: { "application/json": { schema: Accepted } } },
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    if (c.var.user.emailVerifiedAt === null) await sendVerification(c.env, new URL(c.req.url).origin, c.var.user, "verify-email");
    return c.json({ ok: true as const }, 202);
  },
);

auth.openapi(
  createRoute({
    method: "get",
    path: "/me",
    summary: "The signed-in user's profile; policyAcceptanceRequired when a new privacy-policy version awaits acceptance",
    responses: {
      200: { description: "Profile", content: { "application/json": { schema: User.extend({ policyAcceptanceRequired: z.boolean() }) } } },
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    const accepted = await currentPolicyAcceptance(c.env.DB, c.var.user.id);
    return c.json({ ...publicUser(c.var.user), policyAcceptanceRequired: accepted === undefined }, 200);
  },
);

auth.openapi(
  createRoute({
    method: "patch",
    path: "/me",
    summary: "Correct name or phone",
    request: { body: jsonBody(z.object({ name: Name.optional(), phone: Phone.optional() }).strict()) },
    responses: {
      200: { description: "Updated profile", content: { "application/json": { schema: User } } },
      400: errorDoc("A field is invalid"),
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    const changes = c.req.valid("json");
    const [updated] = await drizzle(c.env.DB)
      .update(users)
      .set({ ...changes, updatedAt: Date.now() })
      .where(eq(users.id, c.var.user.id))
      .returning();
    await audit(c.env.DB, { action: "profile.updated", actorUserId: c.var.user.id, detail: { fields: Object.keys(changes).join(",") } });
    return c.json(publicUser(updated!), 200);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/me/email",
    summary: "Change the email address: confirm with the password, then through a link mailed to the new address",
    request: { body: jsonBody(z.object({ email: Email, password: Password })) },
    responses: {
      202: { description: "Confirmation link mailed to the new address", content: { "application/json": { schema: Accepted } } },
      400: errorDoc("Invalid request"),
      401: errorDoc("Not signed in, or wrong password"),
      409: errorDoc("Address in use"),
      429: errorDoc("Too many wrong passwords for this account; see Retry-After"),
    },
  }),
  async (c) => {
    const { email, password } = c.req.valid("json");
    const user = c.var.user;
    const refused = await refuseWrongPassword(c, password);
    if (refused) return refused;
    const taken = await drizzle(c.env.DB).select({ id: users.id }).from(users).where(eq(users.email, email)).get();
    if (taken) return errorResponse(c, 409, "email_taken", "This address belongs to an account already");
    await sendVerification(c.env, new URL(c.req.url).origin, { id: user.id, email, name: user.name }, "change-email");
    await audit(c.env.DB, { action: "auth.email_change_requested", actorUserId: user.id, targetType: "user", targetId: user.id });
    return c.json({ ok: true as const }, 202);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/me/password",
    summary: "Change the password (the current one is required); signs out every other session",
    request: { body: jsonBody(z.object({ currentPassword: Password, newPassword: Password })) },
    responses: {
      200: { description: "Changed", content: { "application/json": { schema: Accepted } } },
      400: errorDoc("Weak new password"),
      401: errorDoc("Not signed in, or wrong current password"),
      429: errorDoc("Too many wrong passwords for this account; see Retry-After"),
    },
  }),
  async (c) => {
    const { currentPassword, newPassword } = c.req.valid("json");
    const user = c.var.user;
    const refused = await refuseWrongPassword(c, currentPassword);
    if (refused) return refused;
    const problem = checkPasswordPolicy(newPassword, { email: user.email, name: user.name });
    if (problem) return errorResponse(c, 400, "invalid_request", `newPassword: ${problem}`);
    const db = drizzle(c.env.DB);
    await db.update(users).set({ passwordHash: await hashPassword(newPassword, c.env.PASSWORD_PEPPER), updatedAt: Date.now() }).where(eq(users.id, user.id));
    await endAllSessions(c.env.DB, user.id, c.var.session.id);
    await audit(c.env.DB, { action: "auth.password_changed", actorUserId: user.id, targetType: "user", targetId: user.id });
    await tellAccountOwner(c.env, user, "Your WeChatting password was changed, and your other sessions were signed out.");
    return c.json({ ok: true as const }, 200);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/me/policy-acceptance",
    summary: "Accept the current privacy-policy version (asked again whenever a new version is published)",
    request: { body: jsonBody(z.object({ version: z.literal(POLICY_VERSION, { message: `The current version is ${POLICY_VERSION}` }) })) },
    responses: {
      200: { description: "Recorded with version and time", content: { "application/json": { schema: Accepted } } },
      400: errorDoc("Not the current version"),
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    const { version } = c.req.valid("json");
    await drizzle(c.env.DB)
      .insert(policyAcceptances)
      .values({ userId: c.var.user.id, version, acceptedAt: Date.now() })
      .onConflictDoNothing();
    await audit(c.env.DB, { action: "policy.accepted", actorUserId: c.var.user.id, detail: { version } });
    return c.json({ ok: true as const }, 200);
  },
);
