/**
 * @module
 * Signed WhatsApp webhook bodies for the benchmark, built with the simulator's payload builders
 * (scripts/meta-simulator/payloads.ts) so they have the exact shape and wire form Meta sends.
 *
 * Every message gets a Meta id unique across the whole run (`wamid.B<run>.<cell>.<n>`), so the
 * conversation Durable Objects' dedup never hides work, and the ids of one cell share a prefix the
 * verification can select by. Bodies are generated and signed before a cell starts, never while it runs.
 */
import { randomBytes } from "node:crypto";
import { envelope, signedRequest, waMessageObject, waMessagesItem, type WaAccount, type WaCustomer } from "../scripts/meta-simulator/payloads.ts";

/** The demo workspace's first WhatsApp number (workers/demo-workspace.ts, ch_demo_wa_1). */
export const DEMO_WA_ACCOUNT: WaAccount = {
  wabaId: "100000000000001",
  phoneNumberId: "200000000000001",
  displayPhoneNumber: "15550001111",
};

export type Spread = "spread" | "hot";

/** One pre-built POST: raw body bytes, Meta's headers, and what it carries. */
export type SignedPost = {
  body: Buffer;
  headers: Record<string, string>;
  /** Meta message ids in this POST. */
  ids: string[];
  /** Customers (wa_id) of the messages in this POST, one entry per message. */
  customers: string[];
};

const TEXTS = [
  "Hi! Does it come in another color?",
  "When will my order ship? I ordered on Monday.",
  "Thanks, that was quick 👍",
  "Can I change the delivery address to my office?",
  "Is the large size back in stock yet, or should I wait for next week?",
  "ok",
  "Do you have a store in Lisbon? I'd like to try it on first.",
  "My package arrived damaged, what should I do?",
];

export class EventFactory {
  /** Short random run id, so ids never collide with an earlier run's data. */
  readonly runId = randomBytes(3).toString("hex");
  readonly hotCustomer: WaCustomer = { waId: "15559990000", name: "Hot Customer" };
  readonly customers: WaCustomer[];
  #serial = 0;
  #random: () => number;

  readonly secret: string;

  constructor(secret: string, conversations: number, seed = 0x5eed) {
    this.secret = secret;
    this.customers = Array.from({ length: conversations }, (_, i) => ({
      waId: String(15551000000 + i),
      name: `Bench Customer ${i + 1}`,
    }));
    this.#random = mulberry32(seed);
  }

  /** The id prefix every message of a cell starts with. */
  prefix(cell: number): string {
    return `wamid.B${this.runId}.${String(cell).padStart(3, "0")}.`;
  }

  /**
   * `count` signed POSTs of `perPost` text messages each. `spread`: every message from a random
   * customer, distinct within one POST; `hot`: all from the one hot customer. With several messages
   * per POST they are one entry with one `changes[]` element per message (Meta's batching of
   * changes for one WABA), each with its own `contacts[]`.
   */
  posts(cell: number, spread: Spread, perPost: number, count: number): SignedPost[] {
    const posts: SignedPost[] = [];
    for (let p = 0; p < count; p++) {
      const chosen = spread === "hot" ? Array.from({ length: perPost }, () => this.hotCustomer) : this.#distinctCustomers(perPost);
      posts.push(this.#post(cell, chosen));
    }
    return posts;
  }

  /** One POST of one message from `customer`, signed now (the live latency probes). */
  post(cell: number, customer: WaCustomer): SignedPost {
    return this.#post(cell, [customer]);
  }

  #post(cell: number, chosen: readonly WaCustomer[]): SignedPost {
    const prefix = this.prefix(cell);
    const now = Date.now();
    const ids: string[] = [];
    const items = chosen.map((customer) => {
      const n = this.#serial++;
      const id = `${prefix}${n}`;
      ids.push(id);
      const message = waMessageObject(
        { account: DEMO_WA_ACCOUNT, customer, id, ts: now },
        "text",
        { body: TEXTS[n % TEXTS.length]! },
      );
      return waMessagesItem(DEMO_WA_ACCOUNT, [{ customer, message }]);
    });
    const signed = signedRequest(envelope("whatsapp", items, { merge: true }), this.secret);
    return {
      body: Buffer.from(signed.body.buffer, signed.body.byteOffset, signed.body.byteLength),
      headers: signed.headers,
      ids,
      customers: chosen.map((c) => c.waId!),
    };
  }

  /** Posts that give every spread customer exactly one message, `perPost` customers per POST, in order. */
  primePosts(cell: number, perPost: number): SignedPost[] {
    const posts: SignedPost[] = [];
    for (let i = 0; i < this.customers.length; i += perPost) {
      posts.push(this.#post(cell, this.customers.slice(i, i + perPost)));
    }
    return posts;
  }

  #distinctCustomers(n: number): WaCustomer[] {
    const pool = this.customers;
    if (n >= pool.length) return pool.slice(0, n);
    const picked = new Set<number>();
    while (picked.size < n) picked.add(Math.floor(this.#random() * pool.length));
    return [...picked].map((i) => pool[i]!);
  }
}

/** Small deterministic PRNG, so runs pick the same customers. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
