/**
 * @module
 * The side panel of a conversation: who the customer is, status, assignment, labels and the contact's
 * notes (editable by admins). Each change is saved at once and the API's answer is shown.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { ContactProfile, ConversationStatus, ConversationSummary, Member } from "../api/types.ts";
import { canManage, me } from "../state/session.ts";
import { applySummary } from "../state/inbox.ts";
import { startRead } from "../state/read-order.ts";
import { showSummary } from "../state/thread.ts";
import { ErrorLine, useAction } from "../ui/form.tsx";
import { contactName } from "./conversation-list.tsx";
import { ContactPrivacy } from "./contact-privacy.tsx";
import { WindowChip } from "./window-state.tsx";

const STATUSES: ConversationStatus[] = ["open", "pending", "snoozed", "resolved"];

/**
 * `ready`: the thread's newest page is in. The panel's own reads wait for it, because locally one
 * workerd thread answers every request in turn and the messages are what the agent opened.
 */
export function ContactPanel(props: { workspaceId: string; conversation: ConversationSummary; ready: boolean }) {
  const { workspaceId, conversation: c, ready } = props;
  /** undefined until the contact's profile has loaded (its notes are then editable by admins). */
  const [profile, setProfile] = useState<ContactProfile | undefined>(undefined);
  const [members, setMembers] = useState<Member[]>([]);
  const [membersOf, setMembersOf] = useState<string | null>(null);
  const [run, busy, error] = useAction();
  const [labels, setLabels] = useState((c.labels ?? []).join(", "));
  const [notes, setNotes] = useState("");
  useEffect(() => {
    if (!ready || membersOf === workspaceId) return;
    setMembersOf(workspaceId);
    ok(api.GET("/workspaces/{workspaceId}/members", { params: { path: { workspaceId } } }))
      .then(({ members }) => setMembers(members))
      .catch(() => setMembers([]));
  }, [workspaceId, ready]);
  useEffect(() => {
    setLabels((c.labels ?? []).join(", "));
  }, [c.id]);
  useEffect(() => {
    setProfile(undefined);
    if (!ready) return;
    ok(api.GET("/workspaces/{workspaceId}/contacts/{contactId}", { params: { path: { workspaceId, contactId: c.contact.id } } }))
      .then((contact) => {
        setProfile(contact);
        setNotes(contact.notes ?? "");
      })
      .catch(() => setProfile(undefined));
  }, [c.contact.id, ready]);
  const patch = (body: { status?: ConversationStatus; snoozedUntil?: number; assigneeId?: string | null; labels?: string[] }) =>
    void run(async () => {
      const read = startRead();
      const summary = await ok(api.PATCH("/workspaces/{workspaceId}/conversations/{id}", { params: { path: { workspaceId, id: c.id } }, body }));
      showSummary(c.id, summary, read);
      applySummary(summary, me.value!.user.id, read);
    });
  return (
    <aside class="contact-panel" aria-labelledby="contact-name">
      <h2 id="contact-name">{contactName(c)}</h2>
      <dl class="facts">
        <dt>Channel</dt>
        <dd>
          {c.channel.name} ({c.channel.kind})
        </dd>
        {c.contact.waId && (
          <>
            <dt>WhatsApp</dt>
            <dd>+{c.contact.waId}</dd>
          </>
        )}
        {c.contact.username && (
          <>
            <dt>Username</dt>
            <dd>@{c.contact.username}</dd>
          </>
        )}
        <dt>Messaging window</dt>
        <dd>
          <WindowChip window={c.window} /> <span class="hint">{c.window?.reason}</span>
        </dd>
        {profile && profile.identities.length > 1 && (
          <>
            <dt>Also on</dt>
            <dd>
              {profile.identities.slice(1).map((i) => (
                <div>
                  {i.conversationId ? <a href={`/w/${workspaceId}/inbox/${i.conversationId}`}>{i.channel.name}</a> : i.channel.name} ({i.channel.kind})
                </div>
              ))}
            </dd>
          </>
        )}
      </dl>
      <div class="field">
        <label for="conv-status">Status</label>
        <select id="conv-status" value={c.status} disabled={busy} onChange={(e) => patch(e.currentTarget.value === "snoozed" ? { status: "snoozed", snoozedUntil: Date.now() + 24 * 3600_000 } : { status: e.currentTarget.value as ConversationStatus })}>
          {STATUSES.map((s) => (
            <option value={s}>{s === "snoozed" ? "snoozed (24 h)" : s}</option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="conv-assignee">Assigned to</label>
        <select id="conv-assignee" value={c.assigneeId ?? ""} disabled={busy} onChange={(e) => patch({ assigneeId: e.currentTarget.value || null })}>
          <option value="">Nobody</option>
          {members.map((m) => (
            <option value={m.userId}>{m.userId === me.value?.user.id ? `${m.name} (me)` : m.name}</option>
          ))}
        </select>
      </div>
      <form
        class="field"
        onSubmit={(e) => {
          e.preventDefault();
          patch({ labels: labels.split(",").map((l) => l.trim()).filter(Boolean) });
        }}
      >
        <label for="conv-labels">Labels (comma separated)</label>
        <span class="inline">
          <input id="conv-labels" value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />
          <button disabled={busy}>Save</button>
        </span>
      </form>
      {canManage(workspaceId) && profile !== undefined && (
        <form
          class="field"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              setProfile(await ok(api.PATCH("/workspaces/{workspaceId}/contacts/{contactId}", { params: { path: { workspaceId, contactId: c.contact.id } }, body: { notes } })));
            });
          }}
        >
          <label for="contact-notes">Notes about this contact</label>
          <textarea id="contact-notes" rows={3} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
          <button disabled={busy}>Save notes</button>
        </form>
      )}
      <ErrorLine error={error} />
      {canManage(workspaceId) && <ContactPrivacy workspaceId={workspaceId} contactId={c.contact.id} name={contactName(c)} />}
    </aside>
  );
}
