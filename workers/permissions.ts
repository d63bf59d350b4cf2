/**
 * @module
 * The permission matrix: the one place that says which role may do what (the README shows the
 * same table). Routes ask `can(role, permission)`; nothing else compares role names.
 */
import type { Role } from "./db/schema.ts";

export const PERMISSIONS = {
  "conversations.read": ["owner", "admin", "agent"],
  "channels.read": ["owner", "admin", "agent"],
  /** Connect, reconnect and disconnect channels (consent is the business's to give or withdraw). */
  "channels.manage": ["owner", "admin"],
  "members.read": ["owner", "admin", "agent"],
  "members.manage": ["owner", "admin"],
  /** Granting, changing or removing the owner role. */
  "owners.manage": ["owner"],
  "invitations.manage": ["owner", "admin"],
  "audit.read": ["owner", "admin"],
  "workspace.rename": ["owner", "admin"],
  /** Find, export, erase and restrict the workspace's contacts (answering its customers' requests). */
  "contacts.manage": ["owner", "admin"],
  /** Set the workspace's message retention policy. */
  "retention.manage": ["owner", "admin"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}
