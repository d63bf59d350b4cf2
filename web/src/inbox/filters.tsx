/**
 * @module
 * The list filters: status, channel, assignee, unread only and label.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { filters, type Filters } from "../state/inbox.ts";

type Channel = components["schemas"]["Channel"];

export function FilterBar(props: { workspaceId: string }) {
  const [channels, setChannels] = useState<Channel[]>([]);
  useEffect(() => {
    ok(api.GET("/workspaces/{workspaceId}/channels", { params: { path: { workspaceId: props.workspaceId } } }))
      .then(({ channels }) => setChannels(channels))
      .catch(() => setChannels([]));
  }, [props.workspaceId]);
  const f = filters.value;
  const set = (change: Partial<Filters>) => (filters.value = { ...f, ...change });
  return (
    <form class="filters" aria-label="Filter conversations" onSubmit={(e) => e.preventDefault()}>
      <label>
        <span class="visually-hidden">Status</span>
        <select value={f.status} onChange={(e) => set({ status: e.currentTarget.value })} aria-label="Status">
          <option value="">All statuses</option>
          <option value="open">Open</option>
          <option value="pending">Pending</option>
          <option value="snoozed">Snoozed</option>
          <option value="resolved">Resolved</option>
        </select>
      </label>
      <label>
        <span class="visually-hidden">Channel</span>
        <select value={f.channelId} onChange={(e) => set({ channelId: e.currentTarget.value })} aria-label="Channel">
          <option value="">All channels</option>
          {channels.map((c) => (
            <option value={c.id}>
              {c.name} ({c.kind})
            </option>
          ))}
        </select>
      </label>
      <label>
        <span class="visually-hidden">Assignee</span>
        <select value={f.assignee} onChange={(e) => set({ assignee: e.currentTarget.value })} aria-label="Assignee">
          <option value="">Anyone</option>
          <option value="me">Assigned to me</option>
          <option value="unassigned">Unassigned</option>
        </select>
      </label>
      <label class="check inline">
        <input type="checkbox" checked={f.unread} onChange={(e) => set({ unread: e.currentTarget.checked })} /> Unread
      </label>
      <label>
        <span class="visually-hidden">Label</span>
        <input type="search" placeholder="Label" value={f.label} onChange={(e) => set({ label: e.currentTarget.value.trim() })} aria-label="Label" />
      </label>
    </form>
  );
}
