/**
 * @module
 * Everything needed to act at Meta for one channel: its record, its token opened from the vault, and
 * where a customer is addressed. A channel that cannot send says why in words an agent can act on;
 * nothing is attempted at Meta then, so no send is ever faked.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { channels } from "../db/schema.ts";
import type { Customer } from "../events.ts";
import type { Channel as GraphChannel } from "../meta/graph-http.ts";
import type { SendTarget } from "../meta/send.ts";
import { openSecret } from "../vault/vault.ts";
import type { Channel } from "./store.ts";

export type ChannelAccess = { channel: Channel; token: string };

export type ChannelRefusal = {
  /** 409: the channel must be reconnected; 503: try again later (vault unavailable). */
  status: 409 | 503;
  code: "channel_needs_reconnection" | "channel_disconnected" | "vault_unavailable";
  message: string;
};

/** Why this channel cannot act at Meta now, or null when it can. */
export async function channelProblem(db: D1Database, channelId: string): Promise<ChannelRefusal | null> {
  const channel = await drizzle(db)
    .select({ status: channels.status, healthProblem: channels.healthProblem })
    .from(channels)
    .where(eq(channels.id, channelId))
    .get();
  return problemOf(channel);
}

function problemOf(channel: Pick<Channel, "status" | "healthProblem"> | undefined): ChannelRefusal | null {
  if (!channel || channel.status === "disconnected" || channel.status === "revoked") {
    return {
      status: 409,
      code: "channel_disconnected",
      message: "This channel is disconnected from Meta: nothing can be sent. Connect the account again in Settings → Channels.",
    };
  }
  if (channel.status === "needs_reconnection") {
    return {
      status: 409,
      code: "channel_needs_reconnection",
      message: `Meta no longer accepts this channel's access${channel.healthProblem ? ` (${channel.healthProblem})` : ""}. Reconnect it in Settings → Channels; nothing was sent.`,
    };
  }
  return null;
}

export async function openChannel(env: Cloudflare.Env, channelId: string): Promise<{ ok: true; access: ChannelAccess } | { ok: false; refusal: ChannelRefusal }> {
  const channel = await drizzle(env.DB).select().from(channels).where(eq(channels.id, channelId)).get();
  const problem = problemOf(channel);
  if (problem || !channel) return { ok: false, refusal: problem! };
  const secret = await openSecret(env, { workspaceId: channel.workspaceId, channelId: channel.id, purpose: "access_token" });
  if (!secret.ok) {
    return secret.error === "unavailable"
      ? { ok: false, refusal: { status: 503, code: "vault_unavailable", message: "The token vault is unavailable; try again in a moment." } }
      : {
          ok: false,
          refusal: {
            status: 409,
            code: "channel_needs_reconnection",
            message: "This channel's access token can no longer be read. Reconnect it in Settings → Channels; nothing was sent.",
          },
        };
  }
  return { ok: true, access: { channel, token: secret.plaintext } };
}

/** The account Meta's calls for this channel go to (Instagram through its linked Page when it has one). */
export function graphNode(channel: Channel): GraphChannel {
  return { product: channel.kind, accountId: channel.externalId, viaPage: channel.kind === "instagram" ? channel.pageId : null };
}

/** Where Meta must deliver a message to this customer on this channel. */
export function sendTarget(channel: Channel, customer: Customer): SendTarget {
  return { ...graphNode(channel), recipient: { id: customer.id, waId: customer.waId, bsuid: customer.bsuid } };
}
