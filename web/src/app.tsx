/**
 * @module
 * Which screen the address shows, once we know whether someone is signed in.
 */
import { useEffect } from "preact/hooks";
import { AcceptInvitation, ResetPassword, VerifyEmail } from "./auth/links.tsx";
import { ForgotPassword, SignIn } from "./auth/sign-in.tsx";
import { SignUp } from "./auth/sign-up.tsx";
import { CookieBanner } from "./cookie-banner.tsx";
import { Inbox } from "./inbox/inbox.tsx";
import { navigate, onLinkClick, route } from "./router.ts";
import { AuditLog } from "./settings/audit.tsx";
import { Channels } from "./settings/channels.tsx";
import { PrivacyCentre } from "./settings/privacy.tsx";
import { Sessions } from "./settings/sessions.tsx";
import { Team } from "./settings/team.tsx";
import { Shell } from "./shell.tsx";
import { loadConsent } from "./state/consent.ts";
import { me } from "./state/session.ts";

const PUBLIC: Record<string, () => preact.JSX.Element> = {
  signin: SignIn,
  signup: SignUp,
  "forgot-password": ForgotPassword,
  "reset-password": ResetPassword,
  "verify-email": VerifyEmail,
};

function Screen() {
  const { parts, path } = route.value;
  const user = me.value;
  const Public = PUBLIC[parts[0] ?? ""];
  if (Public) return <Public />;
  if (parts[0] === "invitations") return <AcceptInvitation />;
  if (!user) {
    navigate(`/signin${path === "/" ? "" : `?next=${encodeURIComponent(path)}`}`, { replace: true });
    return null;
  }
  const workspaceId = parts[0] === "w" ? parts[1] : undefined;
  if (!workspaceId || !user.workspaces.some((w) => w.id === workspaceId)) {
    const first = user.workspaces[0];
    if (first) navigate(`/w/${first.id}/inbox`, { replace: true });
    return first ? null : <p class="empty">You belong to no workspace any more. Ask an owner for an invitation.</p>;
  }
  if (parts[2] === "settings") {
    const page = parts[3] ?? "channels";
    const body =
      page === "team" ? <Team workspaceId={workspaceId} /> : page === "sessions" ? <Sessions /> : page === "audit" ? <AuditLog workspaceId={workspaceId} /> : page === "privacy" ? <PrivacyCentre /> : <Channels workspaceId={workspaceId} />;
    return (
      <Shell workspaceId={workspaceId} section="settings">
        {body}
      </Shell>
    );
  }
  return (
    <Shell workspaceId={workspaceId} section="inbox">
      <Inbox workspaceId={workspaceId} conversationId={parts[3] ?? null} />
    </Shell>
  );
}

export function App() {
  useEffect(() => {
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);
  // Signing in switches whose choice applies (the visitor's or the user's): ask again.
  const userId = me.value?.user.id;
  useEffect(() => {
    void loadConsent().catch(() => undefined);
  }, [userId]);
  return (
    <>
      <Screen />
      <CookieBanner />
    </>
  );
}
