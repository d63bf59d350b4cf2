/**
 * @module
 * Sign-in, and the screen that mails a password-reset link.
 */
import { api, ok } from "../api/client.ts";
import { navigate, route } from "../router.ts";
import { signedIn } from "../state/session.ts";
import { ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";
import { AuthCard } from "./layout.tsx";
import { useState } from "preact/hooks";

export function SignIn() {
  const [run, busy, error] = useAction();
  const next = route.value.query.get("next");
  return (
    <AuthCard
      title="Sign in"
      footer={
        <>
          <a href="/signup">Create an account</a> · <a href="/forgot-password">Forgot your password?</a>
        </>
      }
    >
      <form
        onSubmit={submitting(run, async ({ email, password }) => {
          signedIn(await ok(api.POST("/auth/signin", { body: { email: email!, password: password! } })));
          navigate(next?.startsWith("/") ? next : "/", { replace: true });
        })}
      >
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <ErrorLine error={error} />
        <button class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthCard>
  );
}

export function ForgotPassword() {
  const [run, busy, error] = useAction();
  const [sent, setSent] = useState(false);
  return (
    <AuthCard title="Reset your password" footer={<a href="/signin">Back to sign in</a>}>
      {sent ? (
        <p role="status">If an account uses this address, a reset link is on its way. It works once, for 30 minutes.</p>
      ) : (
        <form
          onSubmit={submitting(run, async ({ email }) => {
            await ok(api.POST("/auth/password-reset", { body: { email: email! } }));
            setSent(true);
          })}
        >
          <Field label="Email" name="email" type="email" autoComplete="email" required />
          <ErrorLine error={error} />
          <button class="primary" disabled={busy}>
            Mail me a reset link
          </button>
        </form>
      )}
    </AuthCard>
  );
}
