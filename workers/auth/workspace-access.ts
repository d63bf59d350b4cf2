/**
 * @module
 * Every `/workspaces/{workspaceId}/…` request runs as a member of that workspace. The membership is
 * read on every request, so a removed member or a lowered role takes effect at once. A workspace
 * the user is not a member of answers 404, exactly like one that does not exist.
 */
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { createMiddleware } from "hono/factory";
import { memberships, workspaces, type Role } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { can, type Permission } from "../permissions.ts";
import type { AuthEnv } from "./middleware.ts";

export type WorkspaceEnv = AuthEnv & {
  Variables: AuthEnv["Variables"] & { workspaceId: string; role: Role };
};

/** The workspaces a user belongs to, with their role, by name. */
export function workspacesOf(db: D1Database, userId: string) {
  return drizzle(db)
    .select({ id: workspaces.id, name: workspaces.name, role: memberships.role })
    .from(memberships)
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(eq(memberships.userId, userId))
    .orderBy(workspaces.name);
}

export const requireMember = () =>
  createMiddleware<WorkspaceEnv>(async (c, next) => {
    const workspaceId = c.req.param("workspaceId");
    const membership = workspaceId
      ? await drizzle(c.env.DB)
          .select({ role: memberships.role })
          .from(memberships)
          .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, c.var.user.id)))
          .get()
      : undefined;
    if (!workspaceId || !membership) return errorResponse(c, 404, "not_found", "No such workspace");
    c.set("workspaceId", workspaceId);
    c.set("role", membership.role);
    await next();
  });

export const requirePermission = (permission: Permission) =>
  createMiddleware<WorkspaceEnv>(async (c, next) => {
    if (!can(c.var.role, permission)) {
      return errorResponse(c, 403, "forbidden", `Your role (${c.var.role}) does not allow ${permission}`);
    }
    await next();
  });
