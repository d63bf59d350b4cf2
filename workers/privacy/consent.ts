/**
 * @module
 * Cookie and analytics consent (ePrivacy Art. 5(3), GDPR Art. 7): essential cookies only until the
 * visitor opts in; each choice is appended with the policy version and time, so withdrawing is one
 * more record, as easy as giving. Visitors without an account are known only by a random consent id
 * in an essential cookie. Product analytics are counts per event and day, recorded only with consent
 * and never for someone who objected or restricted processing.
 */
import { desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { analyticsDaily, consentRecords, userPrivacy } from "../db/schema.ts";
import { POLICY_VERSION } from "../privacy-policy.ts";

/** Sent as `__Host-wc_consent` (essential: it only remembers the choice itself). */
export const CONSENT_COOKIE = "wc_consent";
export const CONSENT_MAX_AGE_S = 180 * 24 * 3600;

export type ConsentChoice = { analytics: boolean; preferences: boolean };
export type Consent = ConsentChoice & { essential: true; policyVersion: string; recordedAt: number | null };

export const subjectOfUser = (userId: string) => `u:${userId}`;
export const subjectOfVisitor = (consentId: string) => `c:${consentId}`;

/** The choice in force: the latest one, if it was made under the current policy; else nothing but essentials. */
export async function currentConsent(db: D1Database, subject: string | null): Promise<Consent> {
  const latest = subject
    ? await drizzle(db).select().from(consentRecords).where(eq(consentRecords.subject, subject)).orderBy(desc(consentRecords.recordedAt)).get()
    : undefined;
  if (!latest || latest.policyVersion !== POLICY_VERSION) return { essential: true, analytics: false, preferences: false, policyVersion: POLICY_VERSION, recordedAt: null };
  return { essential: true, analytics: latest.analytics, preferences: latest.preferences, policyVersion: latest.policyVersion, recordedAt: latest.recordedAt };
}

export async function recordConsent(db: D1Database, subject: string, choice: ConsentChoice, now = Date.now()): Promise<Consent> {
  await drizzle(db).insert(consentRecords).values({ id: crypto.randomUUID(), subject, ...choice, policyVersion: POLICY_VERSION, recordedAt: now });
  return { essential: true, ...choice, policyVersion: POLICY_VERSION, recordedAt: now };
}

export type AnalyticsRefusal = "no_consent" | "objection" | "restricted";

/** Why an analytics event may not be recorded for this subject, or null when it may. */
export async function analyticsRefusal(db: D1Database, subject: string | null, userId: string | null): Promise<AnalyticsRefusal | null> {
  if (userId) {
    const settings = await drizzle(db).select().from(userPrivacy).where(eq(userPrivacy.userId, userId)).get();
    if (settings?.analyticsObjectionAt != null) return "objection";
    if (settings?.processingRestrictedAt != null) return "restricted";
  }
  return (await currentConsent(db, subject)).analytics ? null : "no_consent";
}

/** One more count of `event` on the UTC day of `now`; nothing about who. */
export async function countEvent(db: D1Database, event: string, now = Date.now()): Promise<void> {
  const day = new Date(now).toISOString().slice(0, 10);
  await drizzle(db)
    .insert(analyticsDaily)
    .values({ day, event, count: 1 })
    .onConflictDoUpdate({ target: [analyticsDaily.day, analyticsDaily.event], set: { count: sql`${analyticsDaily.count} + 1` } });
}

/** Restriction and objection switches (GDPR Arts. 18, 21), effective from the next request on. */
export async function setPrivacySwitches(db: D1Database, userId: string, change: { processingRestricted?: boolean; analyticsObjection?: boolean }, now = Date.now()) {
  const d = drizzle(db);
  const current = await d.select().from(userPrivacy).where(eq(userPrivacy.userId, userId)).get();
  const at = (on: boolean | undefined, was: number | null | undefined) => (on === undefined ? (was ?? null) : on ? (was ?? now) : null);
  const next = {
    userId,
    processingRestrictedAt: at(change.processingRestricted, current?.processingRestrictedAt),
    analyticsObjectionAt: at(change.analyticsObjection, current?.analyticsObjectionAt),
    updatedAt: now,
  };
  await d.insert(userPrivacy).values(next).onConflictDoUpdate({ target: userPrivacy.userId, set: next });
  return next;
}

export async function privacySwitches(db: D1Database, userId: string) {
  const row = await drizzle(db).select().from(userPrivacy).where(eq(userPrivacy.userId, userId)).get();
  return { processingRestricted: row?.processingRestrictedAt != null, analyticsObjection: row?.analyticsObjectionAt != null };
}
