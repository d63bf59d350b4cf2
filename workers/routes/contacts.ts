/**
 * @module
 * A contact's profile: what Meta tells us (name, wa_id, BSUID, username) per channel, and what the
 * business adds (a display name, notes), which admins edit. The same WhatsApp number reached through
 * several of the workspace's numbers is shown as one person with several identities.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, eq, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { WorkspaceParam, errorResponses, jsonBody } from "../api-schemas.ts";
import { auditStatement } from "../audit.ts";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { channels, contactProfiles, contacts, conversations } from "../db/schema.ts";
import { Product } from "../events.ts";
import { errorResponse } from "../http-error.ts";
import { publishConversations } from "../live.ts";
import { validationHook } from "../validation.ts";

const Identity = z.object({
  contactId: z.string(),
  channel: z.object({ id: z.string(), kind: Product, name: z.string() }),
  identity: z.string().openapi({ description: "BSUID when Meta sent one, else wa_id / IGSID / PSID" }),
  waId: z.string().nullable(),
  bsuid: z.string().nullable(),
  username: z.string().nullable(),
  metaName: z.string().nullable().openapi({ description: "The name the customer's profile shows at Meta" }),
  conversationId: z.string().nullable(),
});

const ContactProfile = z
  .object({
    id: z.string(),
    name: z.string().nullable().openapi({ description: "The display name the business gave, else the name Meta reports" }),
    displayName: z.string().nullable(),
    notes: z.string().nullable(),
    identities: z.array(Identity).openapi({ description: "This contact first, then the same person on the workspace's other channels" }),
    updatedAt: z.number().int().nullable(),
    updatedBy: z.string().nullable(),
  })
  .openapi("ContactProfile");

const ContactParams = WorkspaceParam.extend({ contactId: z.string().regex(/^ct_[0-9a-f]{64}$/, "not a contact id") });
const profileResponse = { description: "The contact's profile", content: { "application/json": { schema: ContactProfile } } };

export const contactRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

async function profileOf(db: D1Database, workspaceId: string, contactId: string): Promise<z.infer<typeof ContactProfile> | null> {
  const orm = drizzle(db);
  const contact = await orm.select().from(contacts).where(and(eq(contacts.id, contactId), eq(contacts.workspaceId, workspaceId))).get();
  if (!contact) return null;
  const profile = await orm.select().from(contactProfiles).where(eq(contactProfiles.contactId, contactId)).get();
  const related = await orm
    .select({ contact: contacts, channel: { id: channels.id, kind: channels.kind, name: channels.name }, conversationId: conversations.id })
    .from(contacts)
    .innerJoin(channels, eq(channels.id, contacts.channelId))
    .leftJoin(conversations, eq(conversations.contactId, contacts.id))
    .where(and(eq(contacts.workspaceId, workspaceId), contact.waId ? or(eq(contacts.id, contactId), eq(contacts.waId, contact.waId)) : eq(contacts.id, contactId)))
    .all();
  const identities = related
    .sort((a, b) => Number(b.contact.id === contactId) - Number(a.contact.id === contactId))
    .map(({ contact: c, channel, conversationId }) => ({
      contactId: c.id,
      channel,
      identity: c.identity,
      waId: c.waId,
      bsuid: c.bsuid,
      username: c.username,
      metaName: c.name,
      conversationId,
    }));
  return {
    id: contact.id,
    name: profile?.displayName ?? contact.name,
    displayName: profile?.displayName ?? null,
    notes: profile?.notes ?? null,
    identities,
    updatedAt: profile?.updatedAt ?? null,
    updatedBy: profile?.updatedBy ?? null,
  };
}

contactRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/contacts/{contactId}",
    summary: "A contact's profile: identities per channel, the business's name for them and notes",
    middleware: [requirePermission("conversations.read")] as const,
    request: { params: ContactParams },
    responses: { 200: profileResponse, ...errorResponses },
  }),
  async (c) => {
    const profile = await profileOf(c.env.DB, c.var.workspaceId, c.req.valid("param").contactId);
    return profile ? c.json(profile, 200) : errorResponse(c, 404, "not_found", "No such contact");
  },
);

contactRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/workspaces/{workspaceId}/contacts/{contactId}",
    summary: "Edit a contact's display name and notes (owners and admins)",
    middleware: [requirePermission("contacts.manage")] as const,
    request: {
      params: ContactParams,
      body: jsonBody(
        z
          .object({
            displayName: z.string().trim().min(1).max(120).nullable().optional().openapi({ description: "null: show Meta's name again" }),
            notes: z.string().trim().max(4000).nullable().optional(),
          })
          .refine((b) => b.displayName !== undefined || b.notes !== undefined, "nothing to change: give displayName or notes"),
      ),
    },
    responses: { 200: profileResponse, ...errorResponses },
  }),
  async (c) => {
    const { contactId } = c.req.valid("param");
    const patch = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const contact = await db
      .select({ id: contacts.id })
      .from(contacts)
      .where(and(eq(contacts.id, contactId), eq(contacts.workspaceId, c.var.workspaceId)))
      .get();
    if (!contact) return errorResponse(c, 404, "not_found", "No such contact");
    const now = Date.now();
    const values = { ...patch, notes: patch.notes === "" ? null : patch.notes };
    await db.batch([
      db
        .insert(contactProfiles)
        .values({ contactId, workspaceId: c.var.workspaceId, displayName: values.displayName ?? null, notes: values.notes ?? null, updatedBy: c.var.user.id, updatedAt: now })
        .onConflictDoUpdate({ target: contactProfiles.contactId, set: { ...values, updatedBy: c.var.user.id, updatedAt: now } }),
      auditStatement(c.env.DB, {
        action: "contact.profile_updated",
        workspaceId: c.var.workspaceId,
        actorUserId: c.var.user.id,
        targetType: "contact",
        targetId: contactId,
        detail: { displayName: patch.displayName !== undefined, notes: patch.notes !== undefined },
      }),
    ]);
    const profile = (await profileOf(c.env.DB, c.var.workspaceId, contactId))!;
    // The list shows the new name: tell the live inboxes about the contact's conversations.
    const listed = profile.identities.filter((i) => i.contactId === contactId && i.conversationId);
    await publishConversations(c.env, c.var.workspaceId, listed.map((i) => i.conversationId!));
    return c.json(profile, 200);
  },
);
