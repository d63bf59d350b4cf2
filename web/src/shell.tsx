/**
 * @module
 * The signed-in frame: skip link, workspace switcher, navigation, the email-verification reminder,
 * and the screen the address asks for.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, ok } from "./api/client.ts";
import { navigate } from "./router.ts";
import { me, signOut } from "./state/session.ts";
import { Boundary } from "./ui/boundary.tsx";
import { ErrorLine, useAction } from "./ui/form.tsx";

const SETTINGS = [
  ["channels", "Channels"],
  ["team", "Team"],
  ["sessions", "Sessions"],
  ["audit", "Audit log"],
  ["privacy", "Privacy"],
] as const;

function VerifyReminder() {
  const [sent, setSent] = useState(false);
  const [run, busy, error] = useAction();
  if (me.value?.user.emailVerified) return null;
  return (
    <div class="banner" role="status">
      Confirm your email address: we sent a link to {me.value?.user.email}.{" "}
      {sent ? (
        "A new link is on its way."
      ) : (
        <button
          class="link"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              await ok(api.POST("/auth/verify-email/resend"));
              setSent(true);
            })
          }
        >
          Send it again
        </button>
      )}
      <ErrorLine error={error} />
    </div>
  );
}

export function Shell(props: { workspaceId: string; section: "inbox" | "settings"; children: ComponentChildren }) {
  const workspaces = me.value!.workspaces;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">WeChatting</span>
        <label class="workspace-switch">
          <span class="visually-hidden">Workspace</span>
          <select value={props.workspaceId} onChange={(e) => navigate(`/w/${e.currentTarget.value}/inbox`)} aria-label="Workspace">
            {workspaces.map((w) => (
              <option value={w.id}>
                {w.name} ({w.role})
              </option>
            ))}
          </select>
        </label>
        <nav aria-label="Main">
          <a href={`/w/${props.workspaceId}/inbox`} aria-current={props.section === "inbox" ? "page" : undefined}>
            Inbox
          </a>
          <a href={`/w/${props.workspaceId}/settings/channels`} aria-current={props.section === "settings" ? "page" : undefined}>
            Settings
          </a>
        </nav>
        <button class="link" onClick={() => void signOut().then(() => navigate("/signin"))}>
          Sign out
        </button>
      </header>
      <VerifyReminder />
      <main id="main" class={`section-${props.section}`}>
        {props.section === "settings" ? (
          <div class="settings">
            <nav aria-label="Settings" class="settings-nav">
              {SETTINGS.map(([slug, label]) => (
                <a href={`/w/${props.workspaceId}/settings/${slug}`} aria-current={location.pathname.endsWith(`/${slug}`) ? "page" : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            <div class="settings-body">
              <Boundary what="settings page">{props.children}</Boundary>
            </div>
          </div>
        ) : (
          props.children
        )}
      </main>
    </div>
  );
}
