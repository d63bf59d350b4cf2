/**
 * @module
 * The screens mailed links open: email verification, new password, invitation. Each reads its
 * single-use token from the address and says plainly what happened.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import { navigate, route } from "../router.ts";
import { loadSession, me } from "../state/session.ts";
import { ErrorLine, Field, messageOf, submitting, useAction } from "../ui/form.tsx";
import { AuthCard } from "./layout.tsx";

const token = () => route.value.query.get("token") ?? "";

export function VerifyEmail() {
  const [state, setState] = useState<{ done: boolean; text: string }>({ done: false, text: "Confirming your address…" });
  useEffect(() => {
    ok(api.POST("/auth/verify-email", { body: { token: token() } }))
      .then(async ({ email }) => {
        setState({ done: true, text: `${email} is confirmed. Thank you!` });
        if (me.value) await loadSession();
      })
      .catch((e) => setState({ done: true, text: messageOf(e) }));
  }, []);
  return (
    <AuthCard title="Email confirmation">
      <p role="status" aria-live="polite">
        {state.text}
      </p>
      {state.done && <a class="button primary" href="/">Go to your inbox</a>}
    </AuthCard>
  );
}

export function ResetPassword() {
  const [run, busy, error] = useAction();
  const [done, setDone] = useState(false);
  return (
    <AuthCard title="Choose a new password" footer={<a href="/signin">Back to sign in</a>}>
      {done ? (
        <p role="status">
          Your password is changed and every session was signed out. <a href="/signin">Sign in</a> with the new one.
        </p>
      ) : (
        <form
          onSubmit={submitting(run, async ({ password }) => {
            await ok(api.POST("/auth/password-reset/confirm", { body: { token: token(), password: password! } }));
            setDone(true);
          })}
        >
          <Field label="New password" name="password" type="password" autoComplete="new-password" required minLength={12} />
          <ErrorLine error={error} />
          <button class="primary" disabled={busy}>
            Save the new password
          </button>
        </form>
      )}
    </AuthCard>
  );
}

export function AcceptInvitation() {
  const [run, busy, error] = useAction();
  if (!me.value) {
    const here = encodeURIComponent(route.value.path + "?" + route.value.query.toString());
    return (
      <AuthCard title="You are invited">
        <p>Sign in (or create an account) with the invited address to join the workspace.</p>
        <p>
          <a class="button primary" href={`/signin?next=${here}`}>Sign in</a> <a href="/signup">Create an account</a>
        </p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Join the workspace">
      <p>Accept the invitation as {me.value.user.email}?</p>
      <ErrorLine error={error} />
      <button
        class="primary"
        disabled={busy}
        onClick={() =>
          void run(async () => {
            const workspace = await ok(api.POST("/invitations/accept", { body: { token: token() } }));
            await loadSession();
            navigate(`/w/${workspace.id}/inbox`);
          })
        }
      >
        Accept and open the inbox
      </button>
    </AuthCard>
  );
}
