/**
 * @module
 * Which connected channel a webhook item is addressed to. Looked up in D1 and cached per isolate,
 * so the webhook hot path does not pay a D1 read per POST and keeps acknowledging Meta while D1 is
 * unavailable for accounts it has seen recently.
 */
import type { Product, Route } from "./events.ts";

export type ChannelRecord = {
  id: string;
  workspaceId: string;
  kind: Product;
  externalId: string;
  wabaId: string | null;
  pageId: string | null;
};

/** How an account id names a channel: by its own id, or (WhatsApp account-level fields) by its WABA. */
export type Address = Route & { by: "account" | "waba" };

const POSITIVE_TTL_MS = 60_000;
// Short, so a channel connected a moment after an unknown event is found on Meta's retry.
const NEGATIVE_TTL_MS = 2_000;

const addressKey = (a: Address) => `${a.product}:${a.by}:${a.accountId}`;

function matches(channel: ChannelRecord, address: Address): boolean {
  if (channel.kind !== address.product) return false;
  if (address.by === "waba") return channel.wabaId === address.accountId;
  return channel.externalId === address.accountId || (channel.kind === "instagram" && channel.pageId === address.accountId);
}

export class ChannelDirectory {
  #cache = new Map<string, { channel: ChannelRecord | null; expires: number }>();

  /** Resolves every address in one D1 query for the ones not cached. Throws when D1 fails. */
  async resolve(db: D1Database, addresses: readonly Address[], now = Date.now()): Promise<Map<string, ChannelRecord | null>> {
    const result = new Map<string, ChannelRecord | null>();
    const missing: Address[] = [];
    for (const address of addresses) {
      const key = addressKey(address);
      if (result.has(key)) continue;
      const hit = this.#cache.get(key);
      if (hit && hit.expires > now) result.set(key, hit.channel);
      else if (!missing.some((m) => addressKey(m) === key)) missing.push(address);
    }
    if (missing.length > 0) {
      const ids = [...new Set(missing.map((m) => m.accountId))];
      const placeholders = ids.map((_, i) => `?${i + 1}`).join(", ");
      const { results } = await db
        .prepare(
          `SELECT id, workspace_id AS workspaceId, kind, external_id AS externalId, waba_id AS wabaId, page_id AS pageId
           FROM channels WHERE status IN ('active', 'needs_reconnection')
             AND (external_id IN (${placeholders}) OR waba_id IN (${placeholders}) OR page_id IN (${placeholders}))
           ORDER BY created_at, id`,
        )
        .bind(...ids)
        .all<ChannelRecord>();
      for (const address of missing) {
        const channel = results.find((c) => matches(c, address)) ?? null;
        const key = addressKey(address);
        this.#cache.set(key, { channel, expires: now + (channel ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS) });
        result.set(key, channel);
      }
    }
    return result;
  }

  lookup(resolved: Map<string, ChannelRecord | null>, address: Address): ChannelRecord | null {
    return resolved.get(addressKey(address)) ?? null;
  }

  /** Forget everything (a channel was connected, disconnected or moved). */
  clear(): void {
    this.#cache.clear();
  }
}

/** The isolate's directory: connect and disconnect clear it, so routing follows them at once. */
export const channelDirectory = new ChannelDirectory();
