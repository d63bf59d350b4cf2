/**
 * @module
 * Workspaces, their members and roles, invitations and the audit log.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, count, desc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Cursor, Limit, WorkspaceParam, errorDoc, errorResponses, jsonBody } from "../api-schemas.ts";
import { audit, auditStatement } from "../audit.ts";
import { consumeToken, issueToken, verifyToken } from "../auth/signed-link.ts";
import { requireMember, requirePermission, workspacesOf, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { clientHash } from "../client-hash.ts";
import { decodeCursor } from "../cursor.ts";
import { TimeIdCursor, newestFirst, olderThan, page } from "../keyset.ts";
import { auditLog, invitations, memberships, roles, users, workspaces, type Role } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { mailerFor } from "../mail.ts";
import { can } from "../permissions.ts";
import { disconnectMember } from "../live.ts";
import { validationHook } from "../validation.ts";
import { Email, Text } from "./auth.ts";

const INVITATION_TTL_S = 7 * 24 * 3600;

const RoleSchema = z.enum(roles);
const WorkspaceName = Text(100, "Enter a name");
const Workspace = z.object({ id: z.string(), name: z.string(), role: RoleSchema }).openapi("Workspace");
const Member = z
  .object({ userId: z.string(), name: z.string(), email: z.string(), role: RoleSchema, joinedAt: z.number().int() })
  .openapi("Member");
const Invitation = z
  .object({ id: z.string(), email: z.string(), role: RoleSchema, createdAt: z.number().int(), expiresAt: z.number().int() })
  .openapi("Invitation");
const Ok = z.object({ ok: z.literal(true) });
const ok = { description: "Done", content: { "application/json": { schema: Ok } } };

export const workspaceRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

workspaceRoutes.use("/workspaces/:workspaceId", requireMember());
workspaceRoutes.use("/workspaces/:workspaceId/*", requireMember());

workspaceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces",
    summary: "The workspaces the user belongs to, with their role",
    responses: {
      200: { description: "Workspaces", content: { "application/json": { schema: z.object({ workspaces: z.array(Workspace) }) } } },
      401: errorDoc("Not signed in"),
    },
  }),
  async (c) => {
    return c.json({ workspaces: await workspacesOf(c.env.DB, c.var.user.id) }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces",
    summary: "Create a workspace; the creator owns it",
    request: { body: jsonBody(z.object({ name: WorkspaceName })) },
    responses: { 201: { description: "Created", content: { "application/json": { schema: Workspace } } }, 400: errorDoc("Invalid name"), 401: errorDoc("Not signed in") },
  }),
  async (c) => {
    const { name } = c.req.valid("json");
    const id = `ws_${crypto.randomUUID()}`;
    const now = Date.now();
    const db = drizzle(c.env.DB);
    await db.batch([
      db.insert(workspaces).values({ id, name, createdAt: now }),
      db.insert(memberships).values({ workspaceId: id, userId: c.var.user.id, role: "owner", createdAt: now }),
      auditStatement(c.env.DB, { action: "workspace.created", workspaceId: id, actorUserId: c.var.user.id, targetType: "workspace", targetId: id, clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw) }, now),
    ]);
    return c.json({ id, name, role: "owner" as const }, 201);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/workspaces/{workspaceId}",
    summary: "Rename a workspace",
    middleware: [requirePermission("workspace.rename")] as const,
    request: { params: WorkspaceParam, body: jsonBody(z.object({ name: WorkspaceName })) },
    responses: { 200: { description: "Renamed", content: { "application/json": { schema: Workspace } } }, ...errorResponses },
  }),
  async (c) => {
    const { name } = c.req.valid("json");
    await drizzle(c.env.DB).update(workspaces).set({ name }).where(eq(workspaces.id, c.var.workspaceId));
    await audit(c.env.DB, { action: "workspace.renamed", workspaceId: c.var.workspaceId, actorUserId: c.var.user.id, clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw) });
    return c.json({ id: c.var.workspaceId, name, role: c.var.role }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/members",
    summary: "Members and their roles",
    middleware: [requirePermission("members.read")] as const,
    request: { params: WorkspaceParam },
    responses: { 200: { description: "Members", content: { "application/json": { schema: z.object({ members: z.array(Member) }) } } }, ...errorResponses },
  }),
  async (c) => {
    const rows = await drizzle(c.env.DB)
      .select({ userId: users.id, name: users.name, email: users.email, role: memberships.role, joinedAt: memberships.createdAt })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.workspaceId, c.var.workspaceId))
      .orderBy(users.name);
    return c.json({ members: rows }, 200);
  },
);

const MemberParams = WorkspaceParam.extend({ userId: z.string().min(1).max(64) });

async function ownerCount(db: D1Database, workspaceId: string): Promise<number> {
  const row = await drizzle(db)
    .select({ n: count() })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.role, "owner")))
    .get();
  return row?.n ?? 0;
}

/** Who may change whom: owners are managed by owners only, and a workspace never loses its last owner. */
async function checkMemberChange(
  db: D1Database,
  actorRole: Role,
  workspaceId: string,
  target: Role,
  next: Role | null,
): Promise<string | null> {
  if ((target === "owner" || next === "owner") && !can(actorRole, "owners.manage")) return "Only owners can grant, change or remove the owner role";
  if (target === "owner" && next !== "owner" && (await ownerCount(db, workspaceId)) <= 1) {
    return "A workspace needs at least one owner: make someone else owner first";
  }
  return null;
}

workspaceRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/workspaces/{workspaceId}/members/{userId}",
    summary: "Change a member's role (effective on their next request)",
    middleware: [requirePermission("members.manage")] as const,
    request: { params: MemberParams, body: jsonBody(z.object({ role: RoleSchema })) },
    responses: { 200: ok, 409: errorDoc("Would leave the workspace without an owner"), ...errorResponses },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    const { role } = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const where = and(eq(memberships.workspaceId, c.var.workspaceId), eq(memberships.userId, userId));
    const member = await db.select({ role: memberships.role }).from(memberships).where(where).get();
    if (!member) return errorResponse(c, 404, "not_found", "No such member");
    const problem = await checkMemberChange(c.env.DB, c.var.role, c.var.workspaceId, member.role, role);
    if (problem) return errorResponse(c, problem.startsWith("A workspace") ? 409 : 403, "forbidden", problem);
    await db.batch([
      db.update(memberships).set({ role }).where(where),
      auditStatement(c.env.DB, {
        action: "member.role_changed",
        workspaceId: c.var.workspaceId,
        actorUserId: c.var.user.id,
        targetType: "user",
        targetId: userId,
        detail: { from: member.role, to: role },
        clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
      }),
    ]);
    // Live sockets were authorised for the old role: the browser reconnects under the new one.
    if (role !== member.role) await disconnectMember(c.env, c.var.workspaceId, userId, "role changed");
    return c.json({ ok: true as const }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/workspaces/{workspaceId}/members/{userId}",
    summary: "Remove a member (or leave, for yourself); effective on their next request",
    request: { params: MemberParams },
    responses: { 200: ok, 409: errorDoc("Would leave the workspace without an owner"), ...errorResponses },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    const leaving = userId === c.var.user.id;
    if (!leaving && !can(c.var.role, "members.manage")) {
      return errorResponse(c, 403, "forbidden", `Your role (${c.var.role}) does not allow members.manage`);
    }
    const db = drizzle(c.env.DB);
    const where = and(eq(memberships.workspaceId, c.var.workspaceId), eq(memberships.userId, userId));
    const member = await db.select({ role: memberships.role }).from(memberships).where(where).get();
    if (!member) return errorResponse(c, 404, "not_found", "No such member");
    const problem = await checkMemberChange(c.env.DB, leaving ? "owner" : c.var.role, c.var.workspaceId, member.role, null);
    if (problem) return errorResponse(c, problem.startsWith("A workspace") ? 409 : 403, "forbidden", problem);
    await db.batch([
      db.delete(memberships).where(where),
      auditStatement(c.env.DB, {
        action: leaving ? "member.left" : "member.removed",
        workspaceId: c.var.workspaceId,
        actorUserId: c.var.user.id,
        targetType: "user",
        targetId: userId,
        clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
      }),
    ]);
    await disconnectMember(c.env, c.var.workspaceId, userId, leaving ? "left the workspace" : "removed from the workspace");
    return c.json({ ok: true as const }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/invitations",
    summary: "Invite someone by email with a signed, expiring, single-use link",
    middleware: [requirePermission("invitations.manage")] as const,
    request: { params: WorkspaceParam, body: jsonBody(z.object({ email: Email, role: RoleSchema })) },
    responses: { 201: { description: "Invited", content: { "application/json": { schema: Invitation } } }, ...errorResponses },
  }),
  async (c) => {
    const { email, role } = c.req.valid("json");
    if (role === "owner" && !can(c.var.role, "owners.manage")) return errorResponse(c, 403, "forbidden", "Only owners can invite owners");
    const now = Date.now();
    const invitation = {
      id: `inv_${crypto.randomUUID()}`,
      workspaceId: c.var.workspaceId,
      email,
      role,
      invitedBy: c.var.user.id,
      createdAt: now,
      expiresAt: now + INVITATION_TTL_S * 1000,
      acceptedAt: null,
      revokedAt: null,
    };
    const db = drizzle(c.env.DB);
    const workspace = await db.select({ name: workspaces.name }).from(workspaces).where(eq(workspaces.id, c.var.workspaceId)).get();
    await db.batch([
      db.insert(invitations).values(invitation),
      auditStatement(c.env.DB, {
        action: "invitation.created",
        workspaceId: c.var.workspaceId,
        actorUserId: c.var.user.id,
        targetType: "invitation",
        targetId: invitation.id,
        detail: { role },
        clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
      }),
    ]);
    const token = await issueToken(c.env.SESSION_SECRET, {
      purpose: "invite",
      subject: invitation.id,
      data: { workspaceId: c.var.workspaceId },
      ttlSeconds: INVITATION_TTL_S,
    });
    await mailerFor(c.env).send({
      to: email,
      // Names are user input and may hold line breaks; a subject must be one line (workers/mail.ts).
      subject: `${c.var.user.name} invited you to ${workspace?.name ?? "a workspace"} on WeChatting`.replace(/[\r\n]+/g, " "),
      text: `${c.var.user.name} invited you to join "${workspace?.name}" as ${role}.\n\nAccept here (sign up first with this address if you have no account):\n${new URL(c.req.url).origin}/invitations/accept?token=${token}\n\nThe link works once and expires in 7 days.`,
    });
    const { id, createdAt, expiresAt } = invitation;
    return c.json({ id, email, role, createdAt, expiresAt }, 201);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/invitations",
    summary: "Pending invitations",
    middleware: [requirePermission("invitations.manage")] as const,
    request: { params: WorkspaceParam },
    responses: { 200: { description: "Pending", content: { "application/json": { schema: z.object({ invitations: z.array(Invitation) }) } } }, ...errorResponses },
  }),
  async (c) => {
    const rows = await drizzle(c.env.DB)
      .select({ id: invitations.id, email: invitations.email, role: invitations.role, createdAt: invitations.createdAt, expiresAt: invitations.expiresAt })
      .from(invitations)
      .where(
        and(
          eq(invitations.workspaceId, c.var.workspaceId),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
          gt(invitations.expiresAt, Date.now()),
        ),
      )
      .orderBy(desc(invitations.createdAt));
    return c.json({ invitations: rows }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/workspaces/{workspaceId}/invitations/{invitationId}",
    summary: "Revoke a pending invitation",
    middleware: [requirePermission("invitations.manage")] as const,
    request: { params: WorkspaceParam.extend({ invitationId: z.string().min(1).max(64) }) },
    responses: { 200: ok, ...errorResponses },
  }),
  async (c) => {
    const { invitationId } = c.req.valid("param");
    const revoked = await drizzle(c.env.DB)
      .update(invitations)
      .set({ revokedAt: Date.now() })
      .where(and(eq(invitations.id, invitationId), eq(invitations.workspaceId, c.var.workspaceId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
      .returning({ id: invitations.id });
    if (revoked.length === 0) return errorResponse(c, 404, "not_found", "No such pending invitation");
    await audit(c.env.DB, { action: "invitation.revoked", workspaceId: c.var.workspaceId, actorUserId: c.var.user.id, targetType: "invitation", targetId: invitationId, clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw) });
    return c.json({ ok: true as const }, 200);
  },
);

workspaceRoutes.openapi(
  createRoute({
    method: "post",
    path: "/invitations/accept",
    summary: "Accept an invitation with its link (signed in with the invited address)",
    request: { body: jsonBody(z.object({ token: z.string().max(4096) })) },
    responses: {
      200: { description: "Joined", content: { "application/json": { schema: Workspace } } },
      400: errorDoc("Invalid, expired, used or revoked link"),
      401: errorDoc("Not signed in"),
      403: errorDoc("Signed in with another address than the invited one"),
    },
  }),
  async (c) => {
    const verdict = await verifyToken(c.env.SESSION_SECRET, c.req.valid("json").token, "invite");
    if (!verdict.ok) return errorResponse(c, 400, `link_${verdict.reason}`, "This invitation link is not valid or has expired");
    const db = drizzle(c.env.DB);
    const invitation = await db.select().from(invitations).where(eq(invitations.id, verdict.claims.sub)).get();
    if (!invitation || invitation.revokedAt !== null || invitation.acceptedAt !== null || invitation.expiresAt <= Date.now()) {
      return errorResponse(c, 400, "link_invalid", "This invitation was revoked, already accepted or has expired");
    }
    if (invitation.email !== c.var.user.email) {
      return errorResponse(c, 403, "wrong_account", `This invitation is for ${invitation.email}: sign in with that address`);
    }
    if (!(await consumeToken(c.env.DB, verdict.claims))) return errorResponse(c, 400, "link_used", "This invitation link has already been used");
    const now = Date.now();
    await db.batch([
      db
        .insert(memberships)
        .values({ workspaceId: invitation.workspaceId, userId: c.var.user.id, role: invitation.role, createdAt: now })
        // Someone who is a member already keeps their role: an invitation never demotes (or promotes) them.
        .onConflictDoNothing(),
      db.update(invitations).set({ acceptedAt: now }).where(eq(invitations.id, invitation.id)),
      auditStatement(c.env.DB, {
        action: "invitation.accepted",
        workspaceId: invitation.workspaceId,
        actorUserId: c.var.user.id,
        targetType: "invitation",
        targetId: invitation.id,
        clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
      }),
    ]);
    const [workspace, membership] = await Promise.all([
      db.select({ name: workspaces.name }).from(workspaces).where(eq(workspaces.id, invitation.workspaceId)).get(),
      db
        .select({ role: memberships.role })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, invitation.workspaceId), eq(memberships.userId, c.var.user.id)))
        .get(),
    ]);
    return c.json({ id: invitation.workspaceId, name: workspace?.name ?? "", role: membership?.role ?? invitation.role }, 200);
  },
);

const AuditEntry = z
  .object({
    id: z.string(),
    at: z.number().int(),
    action: z.string(),
    actorUserId: z.string().nullable(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    clientHash: z.string().nullable(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullable(),
  })
  .openapi("AuditEntry");

workspaceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/audit",
    summary: "The workspace's audit log, newest first",
    middleware: [requirePermission("audit.read")] as const,
    request: { params: WorkspaceParam, query: z.object({ limit: Limit, cursor: Cursor }) },
    responses: {
      200: { description: "Entries", content: { "application/json": { schema: z.object({ entries: z.array(AuditEntry), nextCursor: z.string().nullable() }) } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, TimeIdCursor) : undefined;
    if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
    const db = drizzle(c.env.DB);
    const rows = await db
      .select()
      .from(auditLog)
      .where(
        and(
          // The workspace's own events, and its members' account events (sign-ins, password and
          // email changes) which belong to no workspace.
          or(
            eq(auditLog.workspaceId, c.var.workspaceId),
            and(
              isNull(auditLog.workspaceId),
              inArray(
                auditLog.actorUserId,
                db.select({ id: memberships.userId }).from(memberships).where(eq(memberships.workspaceId, c.var.workspaceId)),
              ),
            ),
          ),
          olderThan(auditLog.at, auditLog.id, after),
        ),
      )
      .orderBy(...newestFirst(auditLog.at, auditLog.id))
      .limit(limit + 1);
    const { items, nextCursor } = page(rows, limit, (r) => ({ t: r.at, id: r.id }));
    return c.json({ entries: items.map(({ workspaceId: _, ...entry }) => entry), nextCursor }, 200);
  },
);
