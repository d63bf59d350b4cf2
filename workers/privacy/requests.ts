/**
 * @module
 * The rights-request ledger (GDPR Art. 12(3)): every request is recorded when it arrives with its
 * due date one month later, and closed with an outcome. Requests with work left are claimed by
 * lease, so a run that crashes half-way simply lets its claim expire and the next run resumes.
 */
import { and, desc, eq, inArray, isNull, lte, or, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { base64url } from "../hash.ts";
import { rightsRequests, type RightsRequestKind, type RightsRequestStatus } from "../db/schema.ts";

export type RightsRequest = typeof rightsRequests.$inferSelect;
export type Receipt = Record<string, unknown>;

/** How long one worker may hold a request before another may take it over. */
export const LEASE_MS = 10 * 60_000;

/** "Within one month of receipt": the same day of the next calendar month (clamped by Date). */
export function oneMonthAfter(at: number): number {
  const due = new Date(at);
  due.setUTCMonth(due.getUTCMonth() + 1);
  return due.getTime();
}

/** 192 random bits, base64url: alphanumeric plus `-`/`_`, unguessable, usable in a URL. */
export const confirmationCode = () => base64url(crypto.getRandomValues(new Uint8Array(24)));

export function newRequest(
  fields: Pick<RightsRequest, "kind" | "subjectType" | "subjectId" | "source"> &
    Partial<Pick<RightsRequest, "workspaceId" | "confirmationCode" | "dedupeKey" | "notBefore" | "status" | "outcome" | "completedAt" | "receipt">>,
  now: number,
): RightsRequest {
  return {
    id: `rr_${crypto.randomUUID()}`,
    workspaceId: null,
    confirmationCode: null,
    dedupeKey: null,
    status: "received",
    outcome: null,
    completedAt: null,
    receipt: null,
    leaseUntil: null,
    notBefore: now,
    ...fields,
    receivedAt: now,
    dueAt: oneMonthAfter(now),
  };
}

/** A request answered on the spot (a switch flipped, a contact erased): recorded already completed. */
export function completedRequest(
  fields: Pick<RightsRequest, "kind" | "subjectType" | "subjectId" | "source"> & Partial<Pick<RightsRequest, "workspaceId" | "outcome" | "receipt">>,
  now: number,
): RightsRequest {
  return newRequest({ ...fields, status: "completed", completedAt: now }, now);
}

/** Open, due, and not held by a live lease (an expired one is a crashed worker's). */
const claimable = (now: number) =>
  and(
    inArray(rightsRequests.status, ["received", "in_progress"]),
    lte(rightsRequests.notBefore, now),
    or(isNull(rightsRequests.leaseUntil), lt(rightsRequests.leaseUntil, now)),
  );

/**
 * Claims up to `limit` requests of `kinds` whose work is due and unclaimed (or whose claim expired).
 * The UPDATE decides: of two runs racing for a row, only one sees its lease written.
 */
export async function claimDue(db: D1Database, kinds: RightsRequestKind[], now: number, limit: number): Promise<RightsRequest[]> {
  const d = drizzle(db);
  const candidates = await d
    .select({ id: rightsRequests.id })
    .from(rightsRequests)
    .where(and(inArray(rightsRequests.kind, kinds), claimable(now)))
    .orderBy(rightsRequests.notBefore)
    .limit(limit);
  const claimed: RightsRequest[] = [];
  for (const { id } of candidates) {
    const row = await claimRequest(db, id, now);
    if (row) claimed.push(row);
  }
  return claimed;
}

/** Claims one open request whose work is due; null when it is closed, not due, or someone holds it. */
export async function claimRequest(db: D1Database, id: string, now: number): Promise<RightsRequest | null> {
  const [row] = await drizzle(db)
    .update(rightsRequests)
    .set({ status: "in_progress", leaseUntil: now + LEASE_MS })
    .where(and(eq(rightsRequests.id, id), claimable(now)))
    .returning();
  return row ?? null;
}

/** Closes a request; `clearSubject` drops an outside identifier the ledger no longer needs. */
export function closeRequest(
  db: D1Database,
  id: string,
  result: { status: Extract<RightsRequestStatus, "completed" | "refused" | "cancelled">; outcome: string; receipt?: Receipt; clearSubject?: boolean },
  now: number,
) {
  return drizzle(db)
    .update(rightsRequests)
    .set({
      status: result.status,
      outcome: result.outcome,
      completedAt: now,
      leaseUntil: null,
      ...(result.receipt ? { receipt: result.receipt } : {}),
      ...(result.clearSubject ? { subjectId: null } : {}),
    })
    .where(eq(rightsRequests.id, id));
}

/** A user's own requests, newest first. */
export function requestsOfUser(db: D1Database, userId: string) {
  return drizzle(db)
    .select()
    .from(rightsRequests)
    .where(and(eq(rightsRequests.subjectType, "user"), eq(rightsRequests.subjectId, userId)))
    .orderBy(desc(rightsRequests.receivedAt))
    .limit(200);
}

/** The public view of a request: no subject, no workspace, nothing that identifies anyone. */
export const publicRequest = (r: RightsRequest) => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  receivedAt: r.receivedAt,
  dueAt: r.dueAt,
  notBefore: r.notBefore,
  completedAt: r.completedAt,
  outcome: r.outcome,
  receipt: r.receipt,
});
