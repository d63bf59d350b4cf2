/**
 * @module
 * The audit log of security-relevant events: who did what to what, when, from which (hashed)
 * client address. Never a raw address, a password or a token.
 */
import { drizzle } from "drizzle-orm/d1";
import { auditLog } from "./db/schema.ts";

export type AuditEntry = {
  action: string;
  workspaceId?: string | null;
  actorUserId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  clientHash?: string | null;
  detail?: Record<string, string | number | boolean | null>;
};

export function auditStatement(db: D1Database, entry: AuditEntry, at = Date.now()) {
  return drizzle(db)
    .insert(auditLog)
    .values({
      id: crypto.randomUUID(),
      workspaceId: entry.workspaceId ?? null,
      actorUserId: entry.actorUserId ?? null,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      clientHash: entry.clientHash ?? null,
      at,
      detail: entry.detail ?? null,
    });
}

export async function audit(db: D1Database, entry: AuditEntry, at = Date.now()): Promise<void> {
  await auditStatement(db, entry, at);
}
