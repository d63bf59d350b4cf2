/**
 * @module
 * Cookie and analytics consent. Before a choice only the essential session cookie exists; the choice
 * is kept on this device (strictly necessary to remember it) and, when signed in, recorded by the API
 * with the policy version and time. Nothing analytic is sent unless `analytics` is true.
 */
import { signal } from "@preact/signals";
import { api, ok, type Paths } from "../api/client.ts";

export type Consent = Paths["/me/consent"]["put"]["requestBody"]["content"]["application/json"];

const KEY = "wc_consent";

function stored(): Consent | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? "null") as Consent | null;
    return value && typeof value.analytics === "boolean" && typeof value.preferences === "boolean" ? value : null;
  } catch {
    return null;
  }
}

export const consent = signal<Consent | null>(stored());
/** The banner's "Customise" panel, also opened from the privacy centre. */
export const customising = signal(false);

export async function choose(choice: Consent, signedIn: boolean): Promise<void> {
  localStorage.setItem(KEY, JSON.stringify(choice));
  consent.value = choice;
  customising.value = false;
  if (signedIn) await ok(api.PUT("/me/consent", { body: choice }));
}

/** The server's record wins over this device's (a choice made elsewhere, or withdrawn). */
export async function syncConsent(): Promise<void> {
  try {
    const recorded = await ok(api.GET("/me/consent"));
    localStorage.setItem(KEY, JSON.stringify(recorded));
    consent.value = recorded;
  } catch {
    // Not recorded yet (or the privacy API is not deployed): this device's choice stands.
  }
}
