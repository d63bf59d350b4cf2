/**
 * @module
 * The demo workspace `npm start` seeds and the tests connect: its channels are the fake Meta accounts
 * the fixtures in test/fixtures/meta use, so any fixture can be replayed against a local stack.
 */
import type { channels, workspaces } from "./db/schema.ts";

export const demoWorkspace = { id: "ws_demo", name: "Demo Shop" } satisfies typeof workspaces.$inferInsert;

export const demoChannels = [
  {
    id: "ch_demo_wa_1",
    workspaceId: demoWorkspace.id,
    kind: "whatsapp",
    externalId: "200000000000001",
    wabaId: "100000000000001",
    name: "Demo Shop WhatsApp",
    handle: "+1 555-000-1111",
  },
  {
    id: "ch_demo_wa_2",
    workspaceId: demoWorkspace.id,
    kind: "whatsapp",
    externalId: "200000000000002",
    wabaId: "100000000000002",
    name: "Demo Shop WhatsApp Support",
    handle: "+1 555-000-3333",
  },
  {
    id: "ch_demo_fb_1",
    workspaceId: demoWorkspace.id,
    kind: "messenger",
    externalId: "300000000000001",
    name: "Demo Shop Page",
    handle: "Demo Shop",
  },
  {
    id: "ch_demo_fb_2",
    workspaceId: demoWorkspace.id,
    kind: "messenger",
    externalId: "300000000000002",
    name: "Demo Shop Outlet Page",
    handle: "Demo Shop Outlet",
  },
  {
    id: "ch_demo_ig_1",
    workspaceId: demoWorkspace.id,
    kind: "instagram",
    externalId: "17840000000000001",
    pageId: "300000000000001",
    name: "Demo Shop Instagram",
    handle: "@demoshop",
  },
] satisfies (typeof channels.$inferInsert)[];

/** The demo workspace's owner; `npm start` sets (and prints) its password. */
export const demoOwner = { id: "u_demo_owner", email: "demo@wechatting.local", name: "Demo Owner" } as const;
