/**
 * @module
 * Settings → Privacy centre: cookie and analytics choices (withdrawing is as easy as giving), and
 * correcting the profile.
 */
import { api, ok } from "../api/client.ts";
import { consent, customising } from "../state/consent.ts";
import { loadSession, me } from "../state/session.ts";
import { ErrorLine, Field, formValues, useAction } from "../ui/form.tsx";

export function PrivacyCentre() {
  const [run, busy, error] = useAction();
  const c = consent.value;
  const user = me.value!.user;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Privacy centre</h1>
      <p>
        Read the <a href="/privacy">privacy policy</a>. You accepted version {me.value!.policyVersion}.
      </p>
      <h2>Cookies and analytics</h2>
      <p>
        Preferences: <strong>{c?.preferences ? "allowed" : "not allowed"}</strong>. Analytics: <strong>{c?.analytics ? "allowed" : "not allowed"}</strong>.
      </p>
      <button onClick={() => (customising.value = true)}>Change my cookie choices</button>
      <h2>Correct your profile</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const v = formValues(e.currentTarget);
          void run(async () => {
            await ok(api.PATCH("/me", { body: { name: v.name!, phone: v.phone ? v.phone : null } }));
            await loadSession();
          });
        }}
      >
        <Field label="Name" name="name" defaultValue={user.name} required />
        <Field label="Phone (international format)" name="phone" type="tel" defaultValue={user.phone ?? ""} hint="For example +14155550123. Leave empty to remove it." />
        <ErrorLine error={error} />
        <button class="primary" disabled={busy}>
          Save
        </button>
      </form>
    </section>
  );
}
