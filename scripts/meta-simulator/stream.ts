/**
 * @module
 * Reproducible sequences of realistic Meta webhook events over the demo channels, for the simulator
 * CLI, tests and benchmarks:
 *
 *   const events = generateEvents({ seed: "bench", conversations: 50, count: 10_000, kinds: ["all"] });
 *   for (const post of batchEvents(events, 20)) await send(metaJson(post.body));
 *
 * Guarantees (useful for assertions):
 * - same options → identical events (ids, texts, timestamps): the seed drives everything;
 * - message ids never repeat within a sequence; ids differ between seeds;
 * - conversation `i` uses channel `i mod n` of the channels whose product has an enabled kind, and
 *   the first `conversations` events open one conversation each, in order;
 * - within a conversation every event is at least 1 s later than the previous one (also in
 *   WhatsApp's whole-second timestamps), so generation order is the true order.
 */
import { demoChannels } from "../../workers/demo-workspace.ts";
import {
  adReferral,
  attachment,
  envelope,
  linkReferral,
  mAttachments,
  mDeleted,
  mDelivery,
  mEcho,
  mPostback,
  mReaction,
  mReadWatermark,
  mReferral,
  mSeen,
  mStoryReply,
  mText,
  mUnsupported,
  WA_ERRORS,
  waAudio,
  waButtonReply,
  waContacts,
  waCtwaReferral,
  waDocument,
  waImage,
  waInteractiveWithValueErrors,
  waListReply,
  waLocation,
  waLookasideUrl,
  waNfmReply,
  waOrder,
  waReaction,
  waSmbEcho,
  waStatus,
  waSticker,
  waSystemChangedNumber,
  waTemplateButton,
  waText,
  waUnsupported,
  waValueErrors,
  waVideo,
  type MessagingArgs,
  type Product,
  type WaAccount,
  type WaCustomer,
  type WaMessageArgs,
  type WaStatusName,
  type WebhookBody,
  type WebhookItem,
} from "./payloads.ts";

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/** Small seeded PRNG (xmur3 hash → mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: string | number) {
    const s = String(seed);
    let h = 1779033703 ^ s.length;
    for (let i = 0; i < s.length; i++) {
      h = Math.imul(h ^ s.charCodeAt(i), 3432918353);
      h = (h << 13) | (h >>> 19);
    }
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    this.state = (h ^ (h >>> 16)) >>> 0;
  }
  /** [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((n, [, w]) => n + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return (items.at(-1) as readonly [T, number])[0];
  }
  digits(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String(Math.floor(this.next() * 10));
    return s;
  }
  chars(n: number, alphabet: string): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ---------------------------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------------------------

export interface SimChannel {
  /** D1 channel id (ch_demo_…). */
  id: string;
  product: Product;
  /** phone_number_id, Page id or Instagram account id. */
  accountId: string;
  wabaId?: string;
  /** WhatsApp business display number, digits only. */
  displayPhoneNumber?: string;
  name: string;
}

/** The demo workspace channels (workers/demo-workspace.ts) = the fixtures' fake Meta accounts. */
export const DEMO_CHANNELS: readonly SimChannel[] = demoChannels.map((c) => ({
  id: c.id,
  product: c.kind,
  accountId: c.externalId,
  wabaId: "wabaId" in c ? c.wabaId : undefined,
  displayPhoneNumber: c.kind === "whatsapp" ? (c.handle ?? "").replace(/\D/g, "") : undefined,
  name: c.name,
}));

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

const PRODUCT_PREFIX: Record<Product, string> = { whatsapp: "wa", instagram: "ig", messenger: "fb" };
const PREFIX_PRODUCT: Record<string, Product> = {
  wa: "whatsapp",
  whatsapp: "whatsapp",
  ig: "instagram",
  instagram: "instagram",
  fb: "messenger",
  messenger: "messenger",
  page: "messenger",
};

/** Kinds that need a business message to point at, and the kind that creates one. */
const NEEDS_OUTBOUND: Record<string, string> = {
  "wa.status_sent": "wa.echo",
  "wa.status_delivered": "wa.echo",
  "wa.status_read": "wa.echo",
  "wa.status_played": "wa.echo",
  "ig.react": "ig.echo",
  "ig.seen": "ig.echo",
  "fb.react": "fb.echo",
  "fb.delivery": "fb.echo",
  "fb.read": "fb.echo",
};

interface Conversation {
  index: number;
  key: string;
  channel: SimChannel;
  /** WhatsApp identity. */
  wa: WaCustomer;
  /** PSID / IGSID. */
  userId: string;
  /** Customer-sent message ids, newest last. */
  inbound: string[];
  /** Business-sent message ids (echoes), newest last, with their timestamps. */
  outbound: { id: string; ts: number }[];
  /** Messenger: outbound mids not yet covered by a delivery event. */
  undelivered: string[];
  /** Last message id the customer reacted to (for removals). */
  reacted?: string;
  /** The answer to the customer's last text, for the next business reply. */
  answer?: string;
  lastTs: number;
  pending: string[];
  opened: boolean;
}

interface BuildContext {
  rng: Rng;
  conv: Conversation;
  ts: number;
  wa: () => WaMessageArgs;
  waAccount: () => WaAccount;
  m: (extra?: Partial<MessagingArgs>) => MessagingArgs;
  wamid: () => string;
  mid: () => string;
  mediaId: () => string;
  /** Target business message (existing echo, else a message sent through the API we never saw). */
  outboundTarget: () => { id: string; ts: number };
  anyTarget: () => string;
  inboundText: () => string;
  outboundText: () => string;
  remember: (id: string) => void;
  rememberOutbound: (id: string) => void;
}

interface Built {
  item: WebhookItem;
  summary: string;
}

type KindDef = {
  /** Relative frequency in the conversational (demo) mix; 0 = never in --demo. */
  demoWeight: number;
  build: (c: BuildContext) => Built;
};

const quote = (c: BuildContext) => ({ from: c.conv.channel.displayPhoneNumber ?? "", id: c.outboundTarget().id });
const cdn = (c: BuildContext, what: string) =>
  `https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=${c.rng.digits(17)}&signature=${c.rng.chars(24, B64URL)}&${what}`;
const scontent = (c: BuildContext, ext: string) =>
  `https://scontent.xx.fbcdn.net/v/t1.15752-9/${c.rng.digits(9)}_${c.rng.digits(15)}_n.${ext}?_nc_cat=1&oh=${c.rng.chars(16, B64URL)}`;

function waMedia(c: BuildContext) {
  const id = c.mediaId();
  return { id, url: c.rng.chance(0.5) ? waLookasideUrl(id) : undefined };
}

function inboundWa(c: BuildContext, item: (a: WaMessageArgs) => WebhookItem, summary: string): Built {
  const a = c.wa();
  c.remember(a.id);
  return { item: item(a), summary };
}

function inboundM(c: BuildContext, item: (a: MessagingArgs, mid: string) => WebhookItem, summary: string): Built {
  const mid = c.mid();
  c.remember(mid);
  return { item: item(c.m(), mid), summary };
}

function waStatusKind(status: WaStatusName): KindDef {
  return {
    demoWeight: status === "played" || status === "failed" ? 0.3 : 2,
    build: (c) => {
      const target = status === "failed" ? { id: c.wamid(), ts: c.ts } : c.outboundTarget();
      return {
        item: waStatus({
          account: c.waAccount(),
          customer: c.conv.wa,
          id: target.id,
          status,
          ts: c.ts,
          pricing:
            status === "sent" ? { type: "free_customer_service", category: "service", billable: false } : undefined,
          errors:
            status === "failed" ? [c.rng.pick([WA_ERRORS.reengagement, WA_ERRORS.ecosystem, WA_ERRORS.undeliverable])] : undefined,
        }),
        summary: `status ${status} ${target.id.slice(0, 18)}…`,
      };
    },
  };
}

const WA_KINDS: Record<string, KindDef> = {
  text: { demoWeight: 10, build: (c) => { const t = c.inboundText(); return inboundWa(c, (a) => waText(a, t), `text ${JSON.stringify(t)}`); } },
  image: {
    demoWeight: 1,
    build: (c) => inboundWa(c, (a) => waImage(a, { ...waMedia(c), caption: c.rng.pick(["Is this the right part?", "this one", undefined]) }), "image"),
  },
  audio: { demoWeight: 0.3, build: (c) => inboundWa(c, (a) => waAudio(a, { ...waMedia(c), voice: false }), "audio") },
  voice: { demoWeight: 0.8, build: (c) => inboundWa(c, (a) => waAudio(a, { ...waMedia(c), voice: true }), "voice note") },
  video: { demoWeight: 0.3, build: (c) => inboundWa(c, (a) => waVideo(a, { ...waMedia(c), caption: "Unboxing" }), "video") },
  document: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(c, (a) => waDocument(a, { ...waMedia(c), caption: "my receipt", filename: `receipt ${c.rng.int(2024, 2026)}–0${c.rng.int(1, 9)}.pdf` }), "document"),
  },
  sticker: { demoWeight: 0.5, build: (c) => inboundWa(c, (a) => waSticker(a, { ...waMedia(c), animated: c.rng.chance(0.3) }), "sticker") },
  location: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(
        c,
        (a) =>
          c.rng.chance(0.5)
            ? waLocation(a, { latitude: 37.44221496582, longitude: -122.16165924072 })
            : waLocation(a, {
                address: "1 Fake Street, Springfield",
                latitude: 37.44221496582 + c.rng.next() / 100,
                longitude: -122.16165924072 - c.rng.next() / 100,
                name: "Fake Coffee",
                url: "https://example.com/fake-coffee",
              }),
        "location",
      ),
  },
  contacts: {
    demoWeight: 0.2,
    build: (c) =>
      inboundWa(
        c,
        (a) =>
          waContacts(a, [
            {
              name: { formatted_name: "Barbara J. Johnson", first_name: "Barbara", last_name: "Johnson" },
              phones: [{ phone: "+1 (555) 000-5555", wa_id: "15550005555", type: "CELL" }],
            },
          ]),
        "contacts card",
      ),
  },
  button_reply: {
    demoWeight: 0.5,
    build: (c) => inboundWa(c, (a) => waButtonReply({ ...a, context: quote(c) }, "confirm-button", "Confirm"), "button reply Confirm"),
  },
  list_reply: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(
        c,
        (a) => waListReply({ ...a, context: quote(c) }, "priority_express", "Priority Mail Express", "Next Day to 2 Days"),
        "list reply",
      ),
  },
  nfm_reply: {
    demoWeight: 0.2,
    build: (c) =>
      inboundWa(
        c,
        (a) => waNfmReply({ ...a, context: quote(c) }, { flow_token: `FLOW_${c.rng.chars(8, B64URL)}`, appointment_date: "2026-01-15" }),
        "flow reply",
      ),
  },
  template_button: {
    demoWeight: 0.3,
    build: (c) => inboundWa(c, (a) => waTemplateButton({ ...a, context: quote(c) }, "Track order", "Track order"), "template button"),
  },
  reaction: {
    demoWeight: 1.5,
    build: (c) => {
      const target = c.anyTarget();
      const emoji = c.rng.pick(["👍", "❤️", "😂", "🙏", "👍🏽"]);
      c.conv.reacted = target;
      return { item: waReaction(c.wa(), target, emoji), summary: `reaction ${emoji}` };
    },
  },
  reaction_removed: {
    demoWeight: 0.3,
    build: (c) => {
      const target = c.conv.reacted ?? c.anyTarget();
      c.conv.reacted = undefined;
      // Current docs omit the emoji; older payloads send "" (both must be handled).
      return { item: waReaction(c.wa(), target, c.rng.chance(0.5) ? "" : undefined), summary: "reaction removed" };
    },
  },
  order: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(
        c,
        (a) =>
          waOrder(a, {
            catalogId: "800000000000001",
            text: "Love these!",
            items: [
              { product_retailer_id: "SKU-RED-M", quantity: c.rng.int(1, 3), item_price: 7.99, currency: "USD" },
              { product_retailer_id: "SKU-BLUE-L", quantity: 1, item_price: 12.5, currency: "USD" },
            ],
          }),
        "order",
      ),
  },
  system: {
    demoWeight: 0,
    build: (c) => {
      if (!c.conv.wa.waId) return WA_KINDS.text!.build(c); // BSUID-only users have no number to change
      const a = c.wa();
      const newWaId = `1555${c.rng.digits(7)}`;
      const item = waSystemChangedNumber(a, newWaId);
      c.conv.wa = { ...c.conv.wa, waId: newWaId };
      return { item, summary: `changed number → ${newWaId}` };
    },
  },
  referral: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(
        c,
        (a) =>
          waText(
            { ...a, referral: waCtwaReferral({ adId: `7000${c.rng.digits(11)}`, ctwaClid: c.rng.chance(0.8) ? `ARA${c.rng.chars(20, B64URL)}` : undefined }) },
            "Can I get more info about this?",
          ),
        "text via Click-to-WhatsApp ad",
      ),
  },
  reply: {
    demoWeight: 1,
    build: (c) => { const t = c.inboundText(); return inboundWa(c, (a) => waText({ ...a, context: quote(c) }, t), `reply ${JSON.stringify(t)}`); },
  },
  forwarded: {
    demoWeight: 0.3,
    build: (c) =>
      inboundWa(
        c,
        (a) => waText({ ...a, context: c.rng.chance(0.5) ? { forwarded: true } : { frequently_forwarded: true } }, "Look at this offer!! https://example.com/deal"),
        "forwarded text",
      ),
  },
  unsupported: {
    demoWeight: 0,
    build: (c) =>
      inboundWa(
        c,
        (a) => c.rng.chance(0.8) ? waUnsupported(a, c.rng.pick(["poll_update", "edit", "gif", "pin"])) : waUnsupported(a, "unknown", [WA_ERRORS.unavailable]),
        "unsupported",
      ),
  },
  interactive_errors: {
    demoWeight: 0,
    build: (c) => inboundWa(c, (a) => waInteractiveWithValueErrors({ ...a, context: quote(c) }), "interactive without object + value errors"),
  },
  value_errors: { demoWeight: 0, build: (c) => ({ item: waValueErrors(c.waAccount()), summary: "value errors 130429" }) },
  status_sent: waStatusKind("sent"),
  status_delivered: waStatusKind("delivered"),
  status_read: waStatusKind("read"),
  status_played: waStatusKind("played"),
  status_failed: waStatusKind("failed"),
  echo: {
    demoWeight: 6,
    build: (c) => {
      const id = c.wamid();
      const t = c.outboundText();
      c.rememberOutbound(id);
      return {
        item: waSmbEcho({ account: c.waAccount(), customer: c.conv.wa, id, ts: c.ts }, "text", { body: t }),
        summary: `business reply (WhatsApp Business app) ${JSON.stringify(t)}`,
      };
    },
  },
};

/** Instagram and Messenger share most event shapes. */
function messagingKinds(product: "instagram" | "messenger"): Record<string, KindDef> {
  const kinds: Record<string, KindDef> = {
    text: { demoWeight: 10, build: (c) => { const t = c.inboundText(); return inboundM(c, (a, mid) => mText(a, mid, t), `text ${JSON.stringify(t)}`); } },
    image: { demoWeight: 1, build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.media("image", product === "instagram" ? cdn(c, "img") : scontent(c, "jpg"))]), "image") },
    video: { demoWeight: 0.3, build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.media("video", product === "instagram" ? cdn(c, "vid") : scontent(c, "mp4"))]), "video") },
    audio: { demoWeight: 0.5, build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.media("audio", product === "instagram" ? cdn(c, "aud") : scontent(c, "mp4"))]), "audio") },
    file: { demoWeight: 0.2, build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.media("file", product === "instagram" ? cdn(c, "file") : scontent(c, "pdf"))]), "file") },
    reply_to: {
      demoWeight: 1,
      build: (c) => { const t = c.inboundText(); const target = c.anyTarget(); return inboundM(c, (a, mid) => mText(a, mid, t, { replyToMid: target }), `reply ${JSON.stringify(t)}`); },
    },
    quick_reply: {
      demoWeight: 0.5,
      build: (c) => {
        const [text, payload] = c.rng.pick([["Track my order", "TRACK_ORDER"], ["Red", "COLOR_RED"], ["Talk to a human", "HUMAN"]] as const);
        return inboundM(c, (a, mid) => mText(a, mid, text, { quickReplyPayload: payload }), `quick reply ${payload}`);
      },
    },
    postback: {
      demoWeight: 0.3,
      build: (c) =>
        inboundM(
          c,
          (a, mid) =>
            product === "instagram"
              ? mPostback(a, mid, "What are your opening hours?", "ICEBREAKER_HOURS")
              : mPostback(a, mid, "Get Started", "GET_STARTED", c.rng.chance(0.5) ? linkReferral("fb_ad_spring") : undefined),
          "postback",
        ),
    },
    referral: {
      demoWeight: 0.2,
      build: (c) => ({ item: mReferral(c.m(), linkReferral(c.rng.pick(["qr_store_entrance", "store_qr_7", "bio_link"]))), summary: "referral (link into thread)" }),
    },
    react: {
      demoWeight: 1.5,
      build: (c) => {
        const target = c.outboundTarget().id;
        c.conv.reacted = target;
        const [reaction, emoji] = c.rng.pick([["love", "❤️"], ["like", "👍"], ["laugh", "😆"], ["wow", "😮"]] as const);
        return { item: mReaction(c.m(), target, { reaction, emoji }), summary: `reaction ${emoji}` };
      },
    },
    unreact: {
      demoWeight: 0.3,
      build: (c) => {
        const target = c.conv.reacted ?? c.outboundTarget().id;
        c.conv.reacted = undefined;
        return { item: mReaction(c.m(), target), summary: "reaction removed" };
      },
    },
    echo: {
      demoWeight: 6,
      build: (c) => {
        const mid = c.mid();
        const t = c.outboundText();
        c.rememberOutbound(mid);
        return {
          item:
            product === "messenger"
              ? mEcho(c.m(), mid, { text: t }, c.rng.chance(0.5) ? { appId: 600000000000001, metadata: `agent:${c.rng.int(1, 50)}` } : {})
              : mEcho(c.m(), mid, { text: t }),
          summary: `business reply ${JSON.stringify(t)}`,
        };
      },
    },
  };
  if (product === "instagram") {
    Object.assign(kinds, {
      multi: {
        demoWeight: 0.2,
        build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.media("image", cdn(c, "1")), attachment.media("video", cdn(c, "2"))]), "image + video"),
      },
      share: {
        demoWeight: 0.3,
        build: (c) => {
          const id = `181${c.rng.digits(14)}`;
          const url = cdn(c, "post");
          // Nov 2025 → Feb 2026 transition: one share arrives as both `share` and `ig_post`.
          return inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.share(id, "Post caption text", url), attachment.igPost(id, "Post caption text", url)]), "shared post");
        },
      },
      story_mention: { demoWeight: 0.3, build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.storyMention(cdn(c, "story"))]), "story mention") },
      ig_reel: {
        demoWeight: 0.3,
        build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.igReel(`182${c.rng.digits(14)}`, "Reel caption ✨ #fake", cdn(c, "reel"))]), "reel"),
      },
      story_reply: {
        demoWeight: 0.5,
        build: (c) => inboundM(c, (a, mid) => mStoryReply(a, mid, "Where can I buy this?", { url: cdn(c, "story"), id: `180${c.rng.digits(14)}` }), "story reply"),
      },
      ad_referral: {
        demoWeight: 0.2,
        build: (c) => inboundM(c, (a, mid) => mText(a, mid, "Is this still available?", { referral: adReferral("summer_campaign", `7000${c.rng.digits(11)}`) }), "text via ad"),
      },
      seen: {
        demoWeight: 3,
        build: (c) => { const t = c.outboundTarget(); return { item: mSeen(c.m(), t.id), summary: "seen" }; },
      },
      deleted: {
        demoWeight: 0.2,
        build: (c) => {
          const mid = c.conv.inbound.at(-1) ?? c.mid();
          return { item: mDeleted(c.m(), mid), summary: "message unsent" };
        },
      },
      unsupported: { demoWeight: 0, build: (c) => inboundM(c, (a, mid) => mUnsupported(a, mid), "unsupported") },
    } satisfies Record<string, KindDef>);
  } else {
    Object.assign(kinds, {
      sticker: {
        demoWeight: 0.5,
        build: (c) => {
          const url = scontent(c, "png");
          // Until 2026-08-30 Messenger sends stickers as both `image` and `sticker`.
          return inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.stickerAsImage(url, 369239263222822), attachment.sticker(url, 369239263222822)]), "sticker");
        },
      },
      fallback: {
        demoWeight: 0.2,
        build: (c) => inboundM(c, (a, mid) => mAttachments(a, mid, [attachment.fallback("Example article", "https://example.com/article")], "https://example.com/article"), "link share"),
      },
      delivery: {
        demoWeight: 2,
        build: (c) => {
          const t = c.outboundTarget();
          const mids = c.conv.undelivered.length ? c.conv.undelivered.splice(0) : undefined;
          return { item: mDelivery(c.m(), Math.max(t.ts, c.ts - 500), c.rng.chance(0.7) ? mids : undefined), summary: "delivered (watermark)" };
        },
      },
      read: {
        demoWeight: 2,
        build: (c) => { const t = c.outboundTarget(); return { item: mReadWatermark(c.m(), Math.max(t.ts, c.ts - 300)), summary: "read (watermark)" }; },
      },
      standby: {
        demoWeight: 0,
        build: (c) => { const t = c.inboundText(); return inboundM(c, (_a, mid) => mText(c.m({ standby: true }), mid, t), `standby text ${JSON.stringify(t)}`); },
      },
    } satisfies Record<string, KindDef>);
  }
  return kinds;
}

const KIND_DEFS: Record<Product, Record<string, KindDef>> = {
  whatsapp: WA_KINDS,
  instagram: messagingKinds("instagram"),
  messenger: messagingKinds("messenger"),
};

/** Every kind name, `<wa|ig|fb>.<kind>`. */
export const ALL_KINDS: readonly string[] = (Object.keys(KIND_DEFS) as Product[]).flatMap((p) =>
  Object.keys(KIND_DEFS[p]).map((k) => `${PRODUCT_PREFIX[p]}.${k}`),
);

const productOfKind = (kind: string): Product => PREFIX_PRODUCT[kind.split(".")[0] ?? ""] as Product;
const defOf = (kind: string): KindDef => KIND_DEFS[productOfKind(kind)][kind.slice(kind.indexOf(".") + 1)] as KindDef;

/**
 * Resolves a kinds spec: `all`, a product (`whatsapp`/`wa`, `instagram`/`ig`, `messenger`/`fb`),
 * `wa.*`, an exact kind (`ig.story_mention`) or a bare kind name for every product that has it
 * (`text`, `image`, `echo`). Throws on names that match nothing.
 */
export function resolveKinds(spec: string | readonly string[]): string[] {
  const parts = (typeof spec === "string" ? spec.split(",") : spec.flatMap((s) => s.split(","))).map((s) => s.trim()).filter(Boolean);
  const out = new Set<string>();
  for (const part of parts.length ? parts : ["all"]) {
    const lower = part.toLowerCase();
    if (lower === "all" || lower === "*") {
      ALL_KINDS.forEach((k) => out.add(k));
      continue;
    }
    const [head, rest] = lower.includes(".") ? [lower.slice(0, lower.indexOf(".")), lower.slice(lower.indexOf(".") + 1)] : [lower, undefined];
    const product = PREFIX_PRODUCT[head];
    let matched: string[];
    if (product && (rest === undefined || rest === "*")) matched = ALL_KINDS.filter((k) => productOfKind(k) === product);
    else if (product) matched = ALL_KINDS.filter((k) => k === `${PRODUCT_PREFIX[product]}.${rest}`);
    else matched = ALL_KINDS.filter((k) => k.endsWith(`.${lower}`));
    if (matched.length === 0) throw new Error(`unknown kind "${part}" (see --list-kinds)`);
    matched.forEach((k) => out.add(k));
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Texts and names
// ---------------------------------------------------------------------------------------------

/** Customer lines with the answer the business gives (echo) when it replies right after. */
const DIALOGUE: readonly (readonly [string, string])[] = [
  ["Hi! Is the blue jacket still in stock?", "Hi! Yes, the blue jacket is in stock in S, M and L."],
  ["Does it come in another color?", "It also comes in red and black 🙂"],
  ["Hi! Do you ship to Canada? 🇨🇦", "We ship worldwide, usually in 2–4 business days 📦"],
  ["What are your opening hours on Saturday?", "Saturdays we're open 9:00–14:00."],
  ["I ordered last week, when will it arrive?", "Your order is on its way! Tracking: https://example.com/track/ZX81"],
  ["Order #4521 – can I still change the size to M?", "Sure, I've changed it to size M."],
  ["Thanks a lot! 🙏", "You're welcome! Anything else I can help you with?"],
  ["Perfect, I'll take two 👍🏽", "Great, I've reserved two for you."],
  ["Can I pay on delivery?", "Yes, cash on delivery works everywhere except the islands."],
  ["Is there a discount code for students?", "Use STUDENT10 at checkout for 10% off 🎓"],
  ["The zipper broke after one week 😕", "Sorry about that! We'll send a replacement today."],
  ["مرحبا، هل المنتج متوفر؟", "نعم، المنتج متوفر 👍"],
  ["¿Tienen envío gratis a Madrid?", "¡Sí! El envío a Madrid es gratis a partir de 30 €."],
  ["Bonjour, je voudrais échanger ma commande ☺️", "Bien sûr ! L'échange est enregistré."],
  ["Gibt es die Schuhe auch in Größe 44?", "Ja, Größe 44 ist vorrätig."],
  ["שלום, מתי אתם פתוחים?", "אנחנו פתוחים א׳–ה׳ 9:00–18:00"],
  ["お店は何時まで開いていますか？", "平日は18時まで営業しています。"],
  ["here's the link: https://example.com/p/42?x=1&y=2", "Thanks! That item ships tomorrow."],
  ["ok", "👍"],
  ["👨‍👩‍👧 family pack available?", "Yes! The family pack is 3 for 2 this week."],
];

const BUSINESS_FOLLOW_UPS = [
  "Anything else I can help you with?",
  "Hi! Thanks for reaching out, one moment please.",
  "We're open 9:00–18:00, Saturdays until 14:00.",
  "Let me check that for you.",
];

const NAMES = ["Test User", "Zoë Müller", "José Álvarez", "سارة 🌸", "Aiko 愛子", "Olúwaseun", "Priya", "Noah", "Emma Smith", "Lukas"];

// ---------------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------------

export interface StreamOptions {
  /** Drives every random choice and every id. */
  seed?: string | number;
  /** Distinct customers (conversations), spread over the channels. Default 10. */
  conversations?: number;
  /** Kinds spec (see {@link resolveKinds}); default all. */
  kinds?: string | readonly string[];
  /** Synthetic clock start (epoch ms) when no `clock` is given. Default 2026-01-01T00:00:00Z. */
  startMs?: number;
  /** Real clock (demo): timestamps = max(clock(), previous + 1 s). */
  clock?: () => number;
  /** Fraction of WhatsApp conversations whose customer has a BSUID (half of them without phone number). Default 0.25. */
  bsuid?: number;
  /** Channels to spread conversations over; default the demo workspace. */
  channels?: readonly SimChannel[];
  /**
   * `cover` (default): kinds are dealt round-robin from a shuffled deck per product, so every enabled
   * kind appears evenly. `conversational`: the chatty --demo mix (business replies, statuses and
   * reactions follow customer messages).
   */
  mode?: "cover" | "conversational";
}

export interface SimEvent {
  /** 0-based position in the stream. */
  seq: number;
  product: Product;
  /** `wa.text`, `ig.seen`, … */
  kind: string;
  /** Stable conversation key `<channelId>:<customer identity>`. */
  conversation: string;
  conversationIndex: number;
  channelId: string;
  /** wa_id (or BSUID when there is no phone number), PSID or IGSID. */
  customerId: string;
  customerName?: string;
  /** Event time, epoch ms (WhatsApp bodies carry it floored to seconds). */
  ts: number;
  item: WebhookItem;
  /** Human-readable one-liner for logs. */
  summary: string;
}

const INBOUND_MESSAGE_KINDS = new Set(["text", "image", "reply", "reply_to", "voice", "sticker", "quick_reply", "story_reply", "referral", "location"]);

export class EventStream {
  readonly kinds: readonly string[];
  private readonly rng: Rng;
  private readonly convs: Conversation[] = [];
  private readonly decks = new Map<Product, string[]>();
  private readonly enabled: Set<string>;
  private readonly mode: "cover" | "conversational";
  private readonly clock: (() => number) | undefined;
  private synthetic: number;
  private seq = 0;
  private readonly idTag: string;

  constructor(options: StreamOptions = {}) {
    const seed = options.seed ?? "wechatting";
    this.rng = new Rng(seed);
    this.kinds = resolveKinds(options.kinds ?? "all");
    this.enabled = new Set(this.kinds);
    this.mode = options.mode ?? "cover";
    this.clock = options.clock;
    this.synthetic = options.startMs ?? 1767225600000;
    this.idTag = new Rng(`${seed}/ids`).chars(6, B64URL);
    const products = new Set(this.kinds.map(productOfKind));
    const channels = (options.channels ?? DEMO_CHANNELS).filter((c) => products.has(c.product));
    if (channels.length === 0) throw new Error("no channel for the selected kinds");
    const count = Math.max(1, Math.floor(options.conversations ?? 10));
    const bsuid = options.bsuid ?? 0.25;
    const idRng = new Rng(`${seed}/customers`);
    for (let index = 0; index < count; index++) {
      const channel = channels[index % channels.length] as SimChannel;
      const name = NAMES[index % NAMES.length] as string;
      let wa: WaCustomer = { waId: `1555${idRng.digits(7)}`, name };
      if (channel.product === "whatsapp" && idRng.chance(bsuid)) {
        const id = `US.${idRng.digits(20)}`;
        const username = name.toLowerCase().replace(/[^a-z]+/g, ".").replace(/^\.|\.$/g, "") || `user${index}`;
        wa = idRng.chance(0.5) ? { ...wa, bsuid: id, username } : { bsuid: id, name, username };
      }
      const userId = channel.product === "instagram" ? `5${idRng.digits(15)}` : `4${idRng.digits(15)}`;
      const identity = channel.product === "whatsapp" ? (wa.bsuid ?? wa.waId ?? "") : userId;
      this.convs.push({
        index,
        key: `${channel.id}:${identity}`,
        channel,
        wa,
        userId,
        inbound: [],
        outbound: [],
        undelivered: [],
        lastTs: 0,
        pending: [],
        opened: false,
      });
    }
  }

  /** The conversations (customers) of this stream, in index order. */
  get conversations(): readonly { key: string; channelId: string; product: Product; customerId: string; name?: string }[] {
    return this.convs.map((c) => ({
      key: c.key,
      channelId: c.channel.id,
      product: c.channel.product,
      customerId: c.channel.product === "whatsapp" ? (c.wa.waId ?? c.wa.bsuid ?? "") : c.userId,
      /** WhatsApp profile name; for Instagram/Messenger only a label for logs (their payloads carry no name). */
      name: c.wa.name,
    }));
  }

  private drawKind(product: Product): string {
    const prefix = `${PRODUCT_PREFIX[product]}.`;
    if (this.mode === "conversational") {
      const options = this.kinds.filter((k) => k.startsWith(prefix)).map((k) => [k, defOf(k).demoWeight] as const);
      const positive = options.filter(([, w]) => w > 0);
      return this.rng.weighted(positive.length ? positive : options.map(([k]) => [k, 1] as const));
    }
    let deck = this.decks.get(product);
    if (!deck || deck.length === 0) {
      deck = this.rng.shuffle(this.kinds.filter((k) => k.startsWith(prefix)));
      this.decks.set(product, deck);
    }
    return deck.pop() as string;
  }

  private pickConversation(): Conversation {
    const fresh = this.convs.find((c) => !c.opened);
    if (fresh) return fresh;
    if (this.mode === "conversational") {
      // Prefer conversations with follow-ups waiting (replies, statuses) so the chat feels alive.
      const waiting = this.convs.filter((c) => c.pending.length);
      if (waiting.length && this.rng.chance(0.6)) return this.rng.pick(waiting);
    }
    return this.rng.pick(this.convs);
  }

  /** The next event. */
  next(): SimEvent {
    const conv = this.pickConversation();
    const product = conv.channel.product;
    let kind: string;
    if (!conv.opened) {
      conv.opened = true;
      // A conversation starts with a customer message when that kind is enabled.
      const opener = `${PRODUCT_PREFIX[product]}.text`;
      kind = this.enabled.has(opener) ? opener : this.drawKind(product);
    } else {
      kind = conv.pending.shift() ?? this.drawKind(product);
    }
    const prerequisite = NEEDS_OUTBOUND[kind];
    if (prerequisite && conv.outbound.length === 0 && this.enabled.has(prerequisite)) {
      conv.pending.unshift(kind);
      kind = prerequisite;
    }
    const now = this.clock ? this.clock() : (this.synthetic += this.rng.int(50, 2500));
    const ts = Math.max(now, conv.lastTs + 1000);
    conv.lastTs = ts;
    const built = defOf(kind).build(this.context(conv, ts));
    if (this.mode === "conversational") this.followUps(conv, kind);
    const seq = this.seq++;
    return {
      seq,
      product,
      kind,
      conversation: conv.key,
      conversationIndex: conv.index,
      channelId: conv.channel.id,
      customerId: product === "whatsapp" ? (conv.wa.waId ?? conv.wa.bsuid ?? "") : conv.userId,
      customerName: product === "whatsapp" ? conv.wa.name : undefined,
      ts,
      item: built.item,
      summary: built.summary,
    };
  }

  /** The next `n` events. */
  take(n: number): SimEvent[] {
    const out: SimEvent[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }

  private followUps(conv: Conversation, kind: string) {
    const p = PRODUCT_PREFIX[conv.channel.product];
    const short = kind.slice(kind.indexOf(".") + 1);
    const add = (...ks: string[]) => conv.pending.push(...ks.filter((k) => this.enabled.has(k)));
    if (conv.pending.length) return;
    if (INBOUND_MESSAGE_KINDS.has(short) && this.rng.chance(0.75)) add(`${p}.echo`);
    else if (short === "echo") {
      if (p === "wa") add("wa.status_sent", "wa.status_delivered", "wa.status_read");
      if (p === "ig") add("ig.seen");
      if (p === "fb") add("fb.delivery", "fb.read");
      if (this.rng.chance(0.25)) add(p === "wa" ? "wa.reaction" : `${p}.react`);
      else if (this.rng.chance(0.5)) add(`${p}.text`);
    }
  }

  private context(conv: Conversation, ts: number): BuildContext {
    const rng = this.rng;
    const channel = conv.channel;
    const tag = this.idTag;
    const waAccount = (): WaAccount => ({
      wabaId: channel.wabaId ?? "",
      phoneNumberId: channel.accountId,
      displayPhoneNumber: channel.displayPhoneNumber ?? "",
    });
    const wamid = () => {
      // Real wamids are base64 of a small binary blob: "wamid.HBgL" + base64(...), sometimes with "/" or "+".
      const raw = `${conv.wa.waId ?? "0"}${tag}${rng.chars(26, B64)}`;
      return `wamid.HBgL${btoa(raw)}`;
    };
    const mid = () =>
      channel.product === "instagram"
        ? `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE${tag}${rng.chars(60, B64URL)}`
        : `m_${tag}${rng.chars(80, B64URL)}`;
    const outboundTarget = () => conv.outbound.at(-1) ?? { id: channel.product === "whatsapp" ? wamid() : mid(), ts: ts - 60_000 };
    return {
      rng,
      conv,
      ts,
      waAccount,
      wa: () => ({ account: waAccount(), customer: conv.wa, id: wamid(), ts }),
      m: (extra = {}) => ({
        product: channel.product as "instagram" | "messenger",
        accountId: channel.accountId,
        customerId: conv.userId,
        ts,
        ...extra,
      }),
      wamid,
      mid,
      mediaId: () => `9${rng.digits(14)}`,
      outboundTarget,
      anyTarget: () =>
        conv.outbound.length && (conv.inbound.length === 0 || rng.chance(0.7))
          ? (conv.outbound.at(-1) as { id: string }).id
          : (conv.inbound.at(-1) ?? outboundTarget().id),
      inboundText: () => {
        const [question, answer] = rng.pick(DIALOGUE);
        conv.answer = answer;
        return question;
      },
      outboundText: () => {
        const text = conv.answer ?? rng.pick(BUSINESS_FOLLOW_UPS);
        conv.answer = undefined;
        return text;
      },
      remember: (id) => {
        conv.inbound.push(id);
        if (conv.inbound.length > 20) conv.inbound.shift();
      },
      rememberOutbound: (id) => {
        conv.outbound.push({ id, ts });
        if (conv.outbound.length > 20) conv.outbound.shift();
        if (channel.product === "messenger") conv.undelivered.push(id);
      },
    };
  }
}

/** `count` events of a fresh stream. */
export function generateEvents(options: StreamOptions & { count: number }): SimEvent[] {
  return new EventStream(options).take(options.count);
}

export interface Post {
  product: Product;
  events: SimEvent[];
  body: WebhookBody;
}

/**
 * Groups events into POST bodies of at most `batch` events each. A POST holds one product, so
 * events are buffered per product and a buffer is flushed when full (order within a product is
 * kept). `merge` folds WhatsApp changes of the same WABA into one entry.
 */
export function batchEvents(events: readonly SimEvent[], batch = 1, options: { merge?: boolean } = {}): Post[] {
  const size = Math.max(1, Math.floor(batch));
  const buffers = new Map<Product, SimEvent[]>();
  const posts: Post[] = [];
  const flush = (product: Product) => {
    const list = buffers.get(product);
    if (!list?.length) return;
    buffers.set(product, []);
    posts.push({ product, events: list, body: envelope(product, list.map((e) => e.item), options) });
  };
  for (const event of events) {
    const list = buffers.get(event.product) ?? [];
    list.push(event);
    buffers.set(event.product, list);
    if (list.length >= size) flush(event.product);
  }
  for (const product of [...buffers.keys()]) flush(product);
  return posts;
}
