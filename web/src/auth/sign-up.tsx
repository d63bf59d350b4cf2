/**
 * @module
 * Sign-up: name, email, password, the explicit 18+ confirmation and acceptance of the current
 * privacy-policy version (the Worker's own constant, so the two never disagree).
 */
import { POLICY_VERSION } from "../../../workers/privacy-policy.ts";
import { api, ok } from "../api/client.ts";
import { navigate } from "../router.ts";
import { signedIn } from "../state/session.ts";
import { Check, ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";
import { AuthCard } from "./layout.tsx";

export function SignUp() {
  const [run, busy, error] = useAction();
  return (
    <AuthCard title="Create your WeChatting account" footer={<a href="/signin">I already have an account</a>}>
      <form
        onSubmit={submitting(run, async (v) => {
          const body = {
            name: v.name!,
            email: v.email!,
            password: v.password!,
            adult: true,
            acceptPolicyVersion: POLICY_VERSION,
            ...(v.workspaceName ? { workspaceName: v.workspaceName } : {}),
          } as const;
          signedIn(await ok(api.POST("/auth/signup", { body })));
          navigate("/", { replace: true });
        })}
      >
        <Field label="Your name" name="name" autoComplete="name" required maxLength={100} />
        <Field label="Work email" name="email" type="email" autoComplete="email" required />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={12}
          hint="At least 12 characters. A long phrase is easiest to remember; common passwords are refused."
        />
        <Field label="Business name (optional)" name="workspaceName" autoComplete="organization" maxLength={100} />
        <Check name="adult" required label="I am 18 or older" />
        <Check
          name="policy"
          required
          label={
            <>
              I accept the{" "}
              <a href="/privacy" target="_blank" rel="noopener">
                privacy policy
              </a>{" "}
              (version {POLICY_VERSION})
            </>
          }
        />
        <ErrorLine error={error} />
        <button class="primary" disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </AuthCard>
  );
}
