/**
 * @module
 * Settings → Team: members and roles, invitations (send, list, revoke).
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { canManage, me, roleIn } from "../state/session.ts";
import { ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";

type Member = components["schemas"]["Member"];
type Invitation = components["schemas"]["Invitation"];
type Role = Member["role"];
const ROLES: Role[] = ["owner", "admin", "agent"];

export function Team(props: { workspaceId: string }) {
  const { workspaceId } = props;
  const path = { params: { path: { workspaceId } } };
  const [members, setMembers] = useState<Member[]>([]);
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [run, busy, error] = useAction();
  const manage = canManage(workspaceId);
  const load = () =>
    run(async () => {
      setMembers((await ok(api.GET("/workspaces/{workspaceId}/members", path))).members);
      if (manage) setInvitations((await ok(api.GET("/workspaces/{workspaceId}/invitations", path))).invitations);
    });
  useEffect(() => void load(), [workspaceId]);
  const memberPath = (userId: string) => ({ params: { path: { workspaceId, userId } } });
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Team and roles</h1>
      <p class="hint">Owners manage everything; admins manage channels, members and invitations; agents answer conversations.</p>
      <ErrorLine error={error} />
      <table>
        <caption class="visually-hidden">Members</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Joined</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr>
              <td>{m.name}</td>
              <td>{m.email}</td>
              <td>
                {manage && m.userId !== me.value?.user.id ? (
                  <select
                    aria-label={`Role of ${m.name}`}
                    value={m.role}
                    disabled={busy || (m.role === "owner" && roleIn(workspaceId) !== "owner")}
                    onChange={(e) => {
                      const role = e.currentTarget.value as Role;
                      void run(async () => {
                        await ok(api.PATCH("/workspaces/{workspaceId}/members/{userId}", { ...memberPath(m.userId), body: { role } }));
                        await load();
                      });
                    }}
                  >
                    {ROLES.map((r) => (
                      <option value={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>{formatDateTime(m.joinedAt)}</td>
              <td>
                {(manage || m.userId === me.value?.user.id) && (
                  <button
                    disabled={busy}
                    onClick={() =>
                      void run(async () => {
                        await ok(api.DELETE("/workspaces/{workspaceId}/members/{userId}", memberPath(m.userId)));
                        await load();
                      })
                    }
                  >
                    {m.userId === me.value?.user.id ? "Leave" : "Remove"}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {manage && (
        <>
          <h2>Invitations</h2>
          <form
            class="inline-form"
            onSubmit={submitting(run, async (v, form) => {
              await ok(api.POST("/workspaces/{workspaceId}/invitations", { ...path, body: { email: v.email!, role: v.role as Role } }));
              form.reset();
              await load();
            })}
          >
            <Field label="Email" name="email" type="email" required />
            <div class="field">
              <label for="invite-role">Role</label>
              <select id="invite-role" name="role">
                <option value="agent">agent</option>
                <option value="admin">admin</option>
                {roleIn(workspaceId) === "owner" && <option value="owner">owner</option>}
              </select>
            </div>
            <button class="primary" disabled={busy}>
              Send invitation
            </button>
          </form>
          {invitations.length === 0 ? (
            <p class="hint">No pending invitations. An invitation link works once, for 7 days.</p>
          ) : (
            <ul class="plain">
              {invitations.map((i) => (
                <li>
                  {i.email} as {i.role}, expires {formatDateTime(i.expiresAt)}{" "}
                  <button
                    disabled={busy}
                    onClick={() =>
                      void run(async () => {
                        await ok(api.DELETE("/workspaces/{workspaceId}/invitations/{invitationId}", { params: { path: { workspaceId, invitationId: i.id } } }));
                        await load();
                      })
                    }
                  >
                    Revoke
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
