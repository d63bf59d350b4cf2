/**
 * @module
 * Turns the normalised items of one verified webhook POST into durable state: conversation changes
 * go to their conversation's Durable Object, account-level events and anything that cannot be
 * routed go to D1. It resolves only when all of it is durable, and throws otherwise, so the
 * webhook answers 5xx and Meta retries (every write is idempotent, so retries are harmless).
 */
import { drizzle } from "drizzle-orm/d1";
import type { ConversationHeader } from "../durable-objects/conversation.ts";
import { channelDirectory, type Address, type ChannelRecord } from "./channel-directory.ts";
import { revokeWhatsAppAccount } from "./channels/store.ts";
import { channelEvents, quarantine } from "./db/schema.ts";
import { mergeCustomer, type ConversationChange, type WebhookItem } from "./events.ts";
import { sha256Hex } from "./hash.ts";
import { GroupCommit } from "./group-commit.ts";
import { MirrorQueue } from "./mirror.ts";

export type IngestReport = {
  received: number;
  stored: number;
  duplicates: number;
  quarantined: number;
  accountEvents: number;
};

type QuarantineItem = Extract<WebhookItem, { kind: "quarantine" }>;
type AccountItem = Extract<WebhookItem, { kind: "account" }>;
type Group = { id: DurableObjectId; header: ConversationHeader; changes: ConversationChange[] };

const mirrorQueue = new MirrorQueue();
const groupCommit = new GroupCommit();

/** WhatsApp's account_update events that mean our access is gone (SPEC §2.5, §6.5). */
const REVOKING_ACCOUNT_EVENTS = new Set(["PARTNER_APP_UNINSTALLED", "PARTNER_REMOVED", "ACCOUNT_DELETED"]);

/** D1 allows 100 bound parameters per statement. */
const ROWS_PER_INSERT = 10;

/** The conversation Durable Object's id: one per (channel, customer identity). */
const conversationName = (channelId: string, customerId: string) => `${channelId}\n${customerId}`;

export function conversationId(namespace: Cloudflare.Env["CONVERSATION"], channelId: string, customerId: string): string {
  return namespace.idFromName(conversationName(channelId, customerId)).toString();
}

function addressOf(item: Exclude<WebhookItem, QuarantineItem>): Address {
  return { ...item.route, by: item.kind === "account" ? item.by : "account" };
}

function unknownAccount(item: Exclude<WebhookItem, QuarantineItem>): QuarantineItem {
  const { product, accountId } = item.route;
  return {
    kind: "quarantine",
    reason: "unknown_account",
    detail: `No workspace has connected the ${product} account ${accountId}`,
    object: product,
    field: item.kind === "account" ? item.field : null,
    accountId,
    payload: item,
  };
}

export async function ingest(
  env: Cloudflare.Env,
  items: readonly WebhookItem[],
  options: { arrivedAt: number; waitUntil: (promise: Promise<unknown>) => void },
): Promise<IngestReport> {
  const routed = items.filter((item): item is Exclude<WebhookItem, QuarantineItem> => item.kind !== "quarantine");
  const channels = routed.length > 0 ? await channelDirectory.resolve(env.DB, routed.map(addressOf)) : new Map();

  const groups = new Map<string, Group>();
  const quarantined: QuarantineItem[] = [];
  const accountEvents: { item: AccountItem; channel: ChannelRecord }[] = [];
  for (const item of items) {
    if (item.kind === "quarantine") {
      quarantined.push(item);
      continue;
    }
    const channel = channelDirectory.lookup(channels, addressOf(item));
    if (!channel) quarantined.push(unknownAccount(item));
    else if (item.kind === "account") accountEvents.push({ item, channel });
    else {
      const objectId = env.CONVERSATION.idFromName(conversationName(channel.id, item.customer.id));
      const id = objectId.toString();
      const group = groups.get(id);
      if (group) {
        group.changes.push(item.change);
        group.header.customer = mergeCustomer(group.header.customer, item.customer);
      } else {
        groups.set(id, {
          id: objectId,
          header: { conversationId: id, workspaceId: channel.workspaceId, channelId: channel.id, product: channel.kind, customer: item.customer },
          changes: [item.change],
        });
      }
    }
  }

  const [conversationResults] = await Promise.all([
    Promise.all(
      [...groups.values()].map(({ id, header, changes }) =>
        groupCommit.submit(
          header,
          { changes, arrivedAt: options.arrivedAt },
          async (batchHeader, segments) => {
            // The id object from idFromName, not its string parsed back: this runs for every POST.
            const stub = env.CONVERSATION.get(id);
            const result = await stub.ingest(batchHeader, segments);
            if (result.mirror) {
              const drain = mirrorQueue.enqueue(env, result.mirror);
              if (drain) options.waitUntil(drain);
            }
            return result.counts;
          },
          options.waitUntil,
        ),
      ),
    ),
    // Chained to this request's own D1 write, not after the conversations: a conversation's
    // result may come from a call another request made, and no I/O may follow that (group-commit.ts).
    storeInD1(env.DB, quarantined, accountEvents, options.arrivedAt).then(() => revokeRemoved(env, accountEvents)),
  ]);

  return {
    received: items.length,
    stored: conversationResults.reduce((n, r) => n + r.stored, 0),
    duplicates: conversationResults.reduce((n, r) => n + r.duplicates, 0),
    quarantined: quarantined.length,
    accountEvents: accountEvents.length,
  };
}

/** A business that removed our app at Meta is revoked at once, after its event is on record. */
async function revokeRemoved(env: Cloudflare.Env, accountEvents: readonly { item: AccountItem }[]): Promise<void> {
  for (const { item } of accountEvents) {
    if (item.field === "account_update" && REVOKING_ACCOUNT_EVENTS.has(item.event)) {
      await revokeWhatsAppAccount(env, item.route.accountId, item.event);
    }
  }
}

async function storeInD1(
  d1: D1Database,
  quarantined: readonly QuarantineItem[],
  accountEvents: readonly { item: AccountItem; channel: ChannelRecord }[],
  receivedAt: number,
): Promise<void> {
  if (quarantined.length === 0 && accountEvents.length === 0) return;
  const db = drizzle(d1);
  const quarantineRows = await Promise.all(
    quarantined.map(async (q) => {
      const payload = JSON.stringify(q.payload);
      return {
        id: crypto.randomUUID(),
        dedupeKey: await sha256Hex(`${q.reason}\n${q.object}\n${payload}`),
        receivedAt,
        object: q.object,
        field: q.field,
        accountId: q.accountId,
        reason: q.reason,
        detail: q.detail,
        payload,
      };
    }),
  );
  const eventRows = await Promise.all(
    accountEvents.map(async ({ item, channel }) => {
      const payload = JSON.stringify(item.payload);
      return {
        id: crypto.randomUUID(),
        dedupeKey: await sha256Hex(`${channel.id}\n${item.field}\n${item.timestamp}\n${payload}`),
        workspaceId: channel.workspaceId,
        channelId: channel.id,
        field: item.field,
        event: item.event,
        timestamp: item.timestamp,
        payload,
        receivedAt,
      };
    }),
  );
  const statements = [
    ...chunk(quarantineRows).map((rows) => db.insert(quarantine).values(rows).onConflictDoNothing()),
    ...chunk(eventRows).map((rows) => db.insert(channelEvents).values(rows).onConflictDoNothing()),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

function chunk<T>(rows: T[]): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) chunks.push(rows.slice(i, i + ROWS_PER_INSERT));
  return chunks;
}
