/**
 * @module
 * Settings → Sessions: where the account is signed in, and ending those sessions.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { ErrorLine, useAction } from "../ui/form.tsx";

type Session = components["schemas"]["Session"];

export function Sessions() {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [run, busy, error] = useAction();
  const load = () => run(async () => setSessions((await ok(api.GET("/auth/sessions"))).sessions));
  useEffect(() => void load(), []);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Active sessions</h1>
      <ErrorLine error={error} />
      <ul class="cards">
        {sessions.map((s) => (
          <li class="card">
            <p>
              <strong>{s.userAgent ?? "Unknown browser"}</strong> {s.current && <span class="chip">this browser</span>}
            </p>
            <p class="hint">
              Signed in {formatDateTime(s.createdAt)} · last active {formatDateTime(s.lastSeenAt)} · ends {formatDateTime(s.expiresAt)}
            </p>
            {!s.current && (
              <button
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await ok(api.DELETE("/auth/sessions/{id}", { params: { path: { id: s.id } } }));
                    await load();
                  })
                }
              >
                Sign out this session
              </button>
            )}
          </li>
        ))}
      </ul>
      <button
        disabled={busy || sessions.length < 2}
        onClick={() =>
          void run(async () => {
            await ok(api.POST("/auth/signout-all"));
            await load();
          })
        }
      >
        Sign out everywhere else
      </button>
    </section>
  );
}
