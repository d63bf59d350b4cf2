/**
 * @module
 * Settings → Audit log: who did what and when, newest first, page by page.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { ErrorLine, useAction } from "../ui/form.tsx";

type Entry = components["schemas"]["AuditEntry"];

export function AuditLog(props: { workspaceId: string }) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [run, busy, error] = useAction();
  const load = (from?: string) =>
    run(async () => {
      const page = await ok(api.GET("/workspaces/{workspaceId}/audit", { params: { path: { workspaceId: props.workspaceId }, query: { limit: 50, ...(from ? { cursor: from } : {}) } } }));
      setEntries((old) => (from ? [...old, ...page.entries] : page.entries));
      setCursor(page.nextCursor);
    });
  useEffect(() => void load(), [props.workspaceId]);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Audit log</h1>
      <ErrorLine error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col">Who</th>
            <th scope="col">Target</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr>
              <td>{formatDateTime(e.at)}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>{e.actorUserId ?? "system"}</td>
              <td>{e.targetType ? `${e.targetType} ${e.targetId ?? ""}` : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor && (
        <button disabled={busy} onClick={() => void load(cursor)}>
          Older entries
        </button>
      )}
    </section>
  );
}
