/**
 * @module
 * The cookie banner: Accept, Reject and Customise side by side with equal weight, no pre-ticked boxes.
 */
import { useState } from "preact/hooks";
import { choose, consent, customising } from "./state/consent.ts";
import { Check, ErrorLine, useAction } from "./ui/form.tsx";

export function CookieBanner() {
  const [run, busy, error] = useAction();
  const [analytics, setAnalytics] = useState(consent.value?.analytics ?? false);
  const [preferences, setPreferences] = useState(consent.value?.preferences ?? false);
  // Hidden until the API says whether a choice exists, so it never flashes for those who chose.
  if (!consent.value || (consent.value.recordedAt !== null && !customising.value)) return null;
  const decide = (analytics: boolean, preferences: boolean) => void run(() => choose({ analytics, preferences }));
  return (
    <section class="cookie-banner" role="region" aria-labelledby="cookie-title">
      <h2 id="cookie-title">Cookies on WeChatting</h2>
      <p>
        We use one essential cookie to keep you signed in. With your permission we would also remember display preferences
        and count, in aggregate, which features are used. No third party ever sees any of it.
      </p>
      {customising.value && (
        <fieldset>
          <legend>Choose what you allow</legend>
          <Check name="preferences" label="Preferences: remember display choices" checked={preferences} onChange={setPreferences} />
          <Check name="analytics" label="Analytics: first-party, aggregated feature counts" checked={analytics} onChange={setAnalytics} />
        </fieldset>
      )}
      <ErrorLine error={error} />
      <div class="equal-buttons">
        <button disabled={busy} onClick={() => decide(true, true)}>
          Accept all
        </button>
        <button disabled={busy} onClick={() => decide(false, false)}>
          Reject all
        </button>
        {customising.value ? (
          <button disabled={busy} onClick={() => decide(analytics, preferences)}>
            Save my choice
          </button>
        ) : (
          <button disabled={busy} onClick={() => (customising.value = true)}>
            Customise
          </button>
        )}
      </div>
    </section>
  );
}
