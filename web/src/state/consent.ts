/**
 * @module
 * Cookie and analytics consent, kept by the API (`/consent`: for the signed-in user, or for a visitor
 * by an essential cookie set only once they choose). Before a choice only the session cookie exists,
 * and no analytics event is ever sent without `analytics: true` (the API refuses it too).
 */
import { signal } from "@preact/signals";
import { api, ok } from "../api/client.ts";
import type { Consent } from "../api/types.ts";

/** null until the API has answered. */
export const consent = signal<Consent | null>(null);
/** The banner's "Customise" panel, also opened from the privacy centre. */
export const customising = signal(false);

export async function loadConsent(): Promise<void> {
  const before = consent.peek();
  const now = await ok(api.GET("/consent"));
  // A choice made on this device just before signing in is this person's choice: never ask twice.
  consent.value =
    now.recordedAt === null && before?.recordedAt
      ? await ok(api.PUT("/consent", { body: { analytics: before.analytics, preferences: before.preferences } }))
      : now;
}

export async function choose(choice: { analytics: boolean; preferences: boolean }): Promise<void> {
  consent.value = await ok(api.PUT("/consent", { body: choice }));
  customising.value = false;
}

/** First-party, aggregated product counts; nothing leaves without consent. */
export function track(event: string): void {
  if (consent.value?.analytics) void api.POST("/analytics", { body: { event } });
}
