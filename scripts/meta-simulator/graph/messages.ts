/**
 * @module
 * Sending (SPEC §5, §2.6), answered like Meta:
 *
 * graph.facebook.com
 * - `POST /{phone_number_id}/messages`: text, media, template (checked against the WABA's templates:
 *   unknown name/language or not approved → 132001, paused → 132015, disabled → 132016, wrong number of
 *   `{{n}}` parameters → 132000), reaction, other types loosely, and `status: "read"`;
 * - `POST /{phone_number_id}/media` (multipart), `GET /{media-id}` → a 5-minute download URL on
 *   `lookaside.fbsbx.com` that needs the Bearer token, `GET /{waba}/message_templates` (cursor paging);
 * - `POST /{page}/messages` (Messenger, and Instagram through the linked Page: recipients whose id
 *   starts with 5 are IGSIDs, as in the fixtures), `POST /{ig}/messages` with the linked Page's token,
 *   `POST /{page}/message_attachments` (`platform=instagram` for Instagram).
 *
 * graph.instagram.com: `POST /{ig|me}/messages` and `/message_attachments` with Instagram Login tokens.
 *
 * Every call to a send endpoint is recorded (state.sends) with the JSON Meta received. Each accepted
 * message schedules its status webhooks (state.scheduled, built with payloads.ts): WhatsApp sent →
 * delivered → read (reactions: sent only), Messenger message_deliveries → message_reads, Instagram
 * messaging_seen. {@link takeDueWebhooks} hands them out when due.
 */
import { Hono } from "hono";
import { envelope, metaJson, mDelivery, mReadWatermark, mSeen, waStatus, type MessagingProduct, type WaStatusName, type WebhookItem } from "../payloads.ts";
import { graphJson, randomString, type GraphErrorSpec } from "./errors.ts";
import { authenticate, fail, hmacHex, paged, pick, readParams, topLevelFields, unsupported, whatsappAccess, type SimContext } from "./context.ts";
import { checkToken, hasScope, type InstagramAccountRecord, type PageRecord, type PhoneRecord, type ScheduledWebhook, type SendRecord, type TemplateRecord } from "./state.ts";

type Json = Record<string, unknown>;

/** Media download URLs live 5 minutes (SPEC §2.6). */
export const MEDIA_URL_TTL_SECONDS = 300;
/** WhatsApp's pair rate: one message every 6 s to the same user. */
const PAIR_INTERVAL_MS = 6_000;
const MB = 1024 * 1024;
const WHATSAPP_MEDIA_TYPES = ["image", "video", "audio", "document", "sticker"];
const ATTACHMENT_TYPES = ["image", "video", "audio", "file"];
/** Meta's Send API text limits: Messenger 2000 characters, Instagram 1000 bytes. */
const TEXT_LIMIT = { messenger: 2000, instagram: 1000 } as const;
const LOOKASIDE = "lookaside.fbsbx.com";

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);
const invalid = (message: string): GraphErrorSpec => ({ code: 100, message: `(#100) ${message}` });

async function jsonBody(request: Request): Promise<Json | null> {
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(await request.clone().arrayBuffer()));
    return isObject(body) ? body : null;
  } catch {
    return null;
  }
}

export const newWamid = () => `wamid.HBgL${randomString(16, "0123456789")}FQIAERgS${randomString(20, "0123456789ABCDEF")}AA==`;
const newMid = (product: MessagingProduct) => (product === "messenger" ? `m_${randomString(40)}` : `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj${randomString(30)}`);
const newMediaId = () => `1${randomString(15, "0123456789")}`;

/** `{{1}}`, `{{2}}`… of a template component's text. */
const placeholders = (text: unknown) => new Set(typeof text === "string" ? [...text.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => m[1]) : []).size;

/** Meta's template checks, in its order: exists in the language and approved, not paused/disabled, parameter counts. */
export function checkTemplate(templates: readonly TemplateRecord[], wabaId: string, sent: Json): GraphErrorSpec | TemplateRecord {
  const name = str(sent.name);
  const language = isObject(sent.language) ? str(sent.language.code) : null;
  if (!name) return invalid("The parameter template['name'] is required.");
  if (!language) return invalid("The parameter template['language']['code'] is required.");
  const template = templates.find((t) => t.wabaId === wabaId && t.name === name && t.language === language);
  if (!template) return { code: 132001, details: `template name (${name}) does not exist in ${language}` };
  if (template.status === "PAUSED") return { code: 132015, details: `template ${name} is paused` };
  if (template.status === "DISABLED") return { code: 132016, details: `template ${name} is disabled` };
  if (template.status !== "APPROVED") return { code: 132001, details: `template name (${name}) is not approved in ${language}` };
  const given = Array.isArray(sent.components) ? sent.components.filter(isObject) : [];
  for (const part of ["header", "body"] as const) {
    const component = template.components.find((c) => String(c.type).toLowerCase() === part);
    const expected = !component ? 0 : component.format && component.format !== "TEXT" ? 1 : placeholders(component.text);
    const parameters = given.find((c) => c.type === part)?.parameters;
    const count = Array.isArray(parameters) ? parameters.length : 0;
    if (count !== expected) {
      return { code: 132000, details: `${part}: number of localizable_params (${count}) does not match the expected number of params (${expected})` };
    }
  }
  return template;
}

/** Messenger's and Instagram's sender actions that deliver nothing to the customer. */
const RECEIPT_ACTIONS = ["mark_seen", "typing_on", "typing_off"];

/** Calls to a send endpoint that deliver nothing to the customer: WhatsApp's `status: "read"`, and the receipt actions. */
export function isReceipt(body: unknown): boolean {
  if (!isObject(body)) return false;
  return body.status !== undefined || RECEIPT_ACTIONS.includes(str(body.sender_action) ?? "");
}

type WhatsAppSend =
  | { kind: "read" }
  | { kind: "message"; type: string; input: string; waId: string | null; bsuid: string | null; template: TemplateRecord | null };

/** A WhatsApp messages body checked like Meta: an error spec, or what to answer and schedule. */
function checkWhatsApp(ctx: SimContext, phone: PhoneRecord, body: Json): GraphErrorSpec | WhatsAppSend {
  if (body.messaging_product !== "whatsapp") return invalid("The parameter messaging_product is required.");
  if (body.status !== undefined) {
    if (body.status !== "read") return invalid("Param status must be one of {read}.");
    return /^wamid\.[A-Za-z0-9+/=_-]+$/.test(str(body.message_id) ?? "") ? { kind: "read" } : { code: 131009, details: "Message ID is invalid." };
  }
  const to = str(body.to);
  const bsuid = str(body.recipient);
  if (to === null && bsuid === null) return invalid("The parameter to is required.");
  if (to !== null && !/^\+?[\d\s()-]{7,24}$/.test(to)) return { code: 131009, details: `Invalid phone number: ${to}` };
  if (to === null && !/^[A-Z]{2}\.\d{5,40}$/.test(bsuid ?? "")) return { code: 131009, details: "Invalid business-scoped user id." };
  const type = str(body.type) ?? "text";
  const content = body[type];
  if (!isObject(content)) return invalid(`The parameter ${type} is required.`);
  if (body.context !== undefined && (!isObject(body.context) || !str(body.context.message_id) || type === "reaction")) {
    return invalid(type === "reaction" ? "Param context is not allowed for reaction messages." : "Param context['message_id'] must be a string.");
  }
  let template: TemplateRecord | null = null;
  if (type === "text") {
    const text = str(content.body);
    if (!text) return invalid("The parameter text['body'] is required.");
    if (text.length > 4096) return invalid("Param text['body'] must be at most 4096 characters long.");
  } else if (WHATSAPP_MEDIA_TYPES.includes(type)) {
    const id = str(content.id);
    if (!id && !str(content.link)) return invalid(`Param ${type} must have an id or a link.`);
    const media = id ? ctx.state.media.get(id) : undefined;
    if (id && (!media || media.product !== "whatsapp")) return { code: 131009, details: `Invalid media id ${id}.` };
    if (content.caption !== undefined && (type === "audio" || type === "sticker")) return invalid(`Param ${type}['caption'] is not allowed.`);
    if ((str(content.caption) ?? "").length > 1024) return invalid(`Param ${type}['caption'] must be at most 1024 characters long.`);
  } else if (type === "template") {
    const checked = checkTemplate(ctx.state.templates, phone.wabaId, content);
    if ("code" in checked) return checked;
    template = checked;
  } else if (type === "reaction") {
    if (!str(content.message_id)) return invalid("The parameter reaction['message_id'] is required.");
    if (typeof content.emoji !== "string") return invalid("The parameter reaction['emoji'] is required.");
  }
  return { kind: "message", type, input: to ?? bsuid ?? "", waId: to === null ? null : to.replace(/\D/g, ""), bsuid: to === null ? bsuid : null, template };
}

type MessagingSend = { kind: "message" | "sender_action"; recipient: string; action: string | null };

/** A Messenger/Instagram Send API body checked like Meta. */
function checkMessaging(ctx: SimContext, product: MessagingProduct, body: Json): GraphErrorSpec | MessagingSend {
  const recipient = isObject(body.recipient) ? str(body.recipient.id) : null;
  if (!recipient) return invalid("The parameter recipient is required");
  const action = str(body.sender_action);
  if (action !== null) {
    if (body.message !== undefined) return invalid("sender_action cannot be sent with message");
    if (![...RECEIPT_ACTIONS, "react", "unreact"].includes(action)) return invalid("Param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF, REACT, UNREACT}");
    if (action === "react" || action === "unreact") {
      const payload = isObject(body.payload) ? body.payload : {};
      if (!str(payload.message_id)) return invalid("The parameter payload['message_id'] is required");
      if (action === "react" && !str(payload.reaction)) return invalid("The parameter payload['reaction'] is required");
      if (product === "instagram" && action === "react" && payload.reaction !== "love") return invalid("Param payload['reaction'] must be one of {love}");
    }
    return { kind: "sender_action", recipient, action };
  }
  const type = str(body.messaging_type);
  if (!type || !["RESPONSE", "UPDATE", "MESSAGE_TAG"].includes(type)) return invalid("Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}");
  if (type === "MESSAGE_TAG" && body.tag !== "HUMAN_AGENT") {
    return body.tag === undefined ? invalid("The parameter tag is required for messaging_type MESSAGE_TAG") : invalid("Param tag is not a supported message tag");
  }
  if (body.reply_to !== undefined && !(isObject(body.reply_to) && str(body.reply_to.mid))) return invalid("Param reply_to['mid'] must be a string");
  const message = isObject(body.message) ? body.message : null;
  if (!message) return invalid("The parameter message is required");
  const text = str(message.text);
  if (text !== null) {
    const size = product === "instagram" ? new TextEncoder().encode(text).byteLength : text.length;
    if (size > TEXT_LIMIT[product]) return { code: 100, subcode: 2018025, message: `(#100) Length of param message[text] must be less than or equal to ${TEXT_LIMIT[product]}` };
    return { kind: "message", recipient, action: null };
  }
  const attachment = isObject(message.attachment) ? message.attachment : null;
  if (!attachment || !ATTACHMENT_TYPES.includes(str(attachment.type) ?? "")) return invalid("Param message must contain text or an attachment of type image, video, audio or file");
  const payload = isObject(attachment.payload) ? attachment.payload : {};
  const id = str(payload.attachment_id);
  if (!id && !str(payload.url)) return invalid("Param message['attachment']['payload'] must have an attachment_id or a url");
  if (id && ctx.state.media.get(id)?.product !== product) return { code: 100, subcode: 2018047, message: "(#100) Upload attachment failure." };
  return { kind: "message", recipient, action: null };
}

// ---------------------------------------------------------------------------------------------------------
// Status webhooks

function schedule(ctx: SimContext, sentAtMs: number, product: SendRecord["product"], externalId: string, items: [WaStatusName, (ts: number) => WebhookItem][]): void {
  for (const [status, build] of items) {
    const delay = ctx.state.statusDelays[status as "sent" | "delivered" | "read"];
    if (delay === null || delay === undefined) continue;
    const dueMs = sentAtMs + delay;
    const entry: ScheduledWebhook = { dueMs, seq: ctx.state.nextScheduled++, product, externalId, status, body: metaJson(envelope(product, [build(dueMs)])) };
    ctx.state.scheduled.push(entry);
  }
}

function scheduleWhatsApp(ctx: SimContext, phone: PhoneRecord, send: Extract<WhatsAppSend, { kind: "message" }>, wamid: string, sentAtMs: number): void {
  const account = { wabaId: phone.wabaId, phoneNumberId: phone.id, displayPhoneNumber: phone.displayPhoneNumber.replace(/\D/g, "") };
  const customer = { ...(send.waId ? { waId: send.waId } : {}), ...(send.bsuid ? { bsuid: send.bsuid } : {}) };
  const pricing = send.template
    ? { type: "regular", category: send.template.category.toLowerCase() }
    : { type: "free_customer_service", category: "service" };
  const status = (name: WaStatusName, withPricing: boolean) => (ts: number) =>
    waStatus({ account, customer, id: wamid, status: name, ts, ...(withPricing ? { pricing } : {}) });
  // Reactions only ever get `sent` (SPEC §2.4).
  const statuses: [WaStatusName, (ts: number) => WebhookItem][] =
    send.type === "reaction" ? [["sent", status("sent", false)]] : [["sent", status("sent", true)], ["delivered", status("delivered", true)], ["read", status("read", false)]];
  schedule(ctx, sentAtMs, "whatsapp", wamid, statuses);
}

function scheduleMessaging(ctx: SimContext, product: MessagingProduct, accountId: string, customerId: string, mid: string, sentAtMs: number): void {
  const args = (ts: number) => ({ product, accountId, customerId, ts });
  // Messenger reports deliveries and reads by watermark; Instagram only "seen", per message (SPEC §3.3, §4).
  const statuses: [WaStatusName, (ts: number) => WebhookItem][] =
    product === "messenger"
      ? [
          ["delivered", (ts) => mDelivery(args(ts), sentAtMs, [mid])],
          ["read", (ts) => mReadWatermark(args(ts), sentAtMs)],
        ]
      : [["read", (ts) => mSeen(args(ts), mid)]];
  schedule(ctx, sentAtMs, product, mid, statuses);
}

/** Removes and returns the status webhooks due at `nowMs` (every one with `all`), in due order. */
export function takeDueWebhooks(ctx: SimContext, options: { all?: boolean } = {}): ScheduledWebhook[] {
  const now = ctx.nowMs();
  const due = ctx.state.scheduled.filter((w) => options.all || w.dueMs <= now).sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
  ctx.state.scheduled = ctx.state.scheduled.filter((w) => !due.includes(w));
  return due;
}

// ---------------------------------------------------------------------------------------------------------
// Media

/** WhatsApp's upload checks (131053 with Meta's details): known type, within the size limit. */
function checkUpload(file: File, type: string): GraphErrorSpec | null {
  const kind = type.split("/")[0] ?? "";
  const limit = type === "image/webp" ? 500 * 1024 : kind === "image" ? 5 * MB : kind === "audio" || kind === "video" ? 16 * MB : 100 * MB;
  if (!/^[a-z]+\/[a-z0-9.+-]+$/.test(type)) return { code: 131053, details: `Param file must be a file with one of the supported types, got ${type || "none"}.` };
  if (file.size > limit) return { code: 131053, details: `Media file size too big. Max file size we currently support: ${limit} bytes.` };
  return null;
}

export function addMediaRecord(ctx: SimContext, media: { product: SendRecord["product"]; ownerId: string; mimeType: string; bytes: Uint8Array; filename?: string | null }): string {
  const id = newMediaId();
  ctx.state.media.set(id, { id, product: media.product, ownerId: media.ownerId, mimeType: media.mimeType, bytes: media.bytes, filename: media.filename ?? null, createdAt: ctx.now() });
  return id;
}

/** The signature of a lookaside URL: the media id and expiry, keyed by the app secret. */
const urlSignature = (ctx: SimContext, id: string, expires: number) => hmacHex(ctx.state.app.secret, `${id}:${expires}`);

/**
 * A download URL valid for 5 minutes: WhatsApp's needs the Bearer token (SPEC §2.6); Messenger/Instagram
 * CDN URLs are fetched without any token.
 */
export async function mediaUrl(ctx: SimContext, origin: string, product: SendRecord["product"], id: string): Promise<string> {
  const ext = ctx.now() + MEDIA_URL_TTL_SECONDS;
  const signature = await urlSignature(ctx, id, ext);
  return product === "whatsapp"
    ? `${origin}/${LOOKASIDE}/whatsapp_business/attachments/?mid=${id}&ext=${ext}&hash=${signature}`
    : `${origin}/${LOOKASIDE}/ig_messaging_cdn/?asset_id=${id}&ext=${ext}&signature=${signature}`;
}

// ---------------------------------------------------------------------------------------------------------
// Routes

function record(ctx: SimContext, entry: Omit<SendRecord, "at">): void {
  ctx.state.sends.push({ at: ctx.now(), ...entry });
}

const refused = (ctx: SimContext, entry: Omit<SendRecord, "at" | "externalId" | "error">, spec: GraphErrorSpec) => {
  record(ctx, { ...entry, externalId: null, error: { code: spec.code, subcode: spec.subcode ?? null } });
  return fail(ctx, spec);
};

/** graph.facebook.com routes of sending. */
export function facebookMessagingRoutes(ctx: SimContext): Hono {
  const { state } = ctx;
  const fb = new Hono();

  fb.post("/:id/messages", async (c) => {
    const id = c.req.param("id");
    const phone = state.phoneNumbers.get(id);
    if (phone) return whatsappSend(ctx, c.req.raw, phone);
    // The Instagram account's own node also takes its linked Page's token (Messenger API for Instagram).
    const igAccount = state.instagramAccounts.get(id);
    if (igAccount?.pageId) {
      const auth = await pageAccess(ctx, c.req.raw, state.pages.get(igAccount.pageId)!);
      if (auth instanceof Response) return auth;
      if (!hasScope(auth, "instagram_manage_messages")) return fail(ctx, { code: 10 });
      return messagingSend(ctx, "instagram", "facebook", id, id, (await jsonBody(c.req.raw)) ?? {});
    }
    const page = state.pages.get(id);
    if (!page) return unsupported(ctx, "POST", id);
    const auth = await pageAccess(ctx, c.req.raw, page);
    if (auth instanceof Response) return auth;
    const body = (await jsonBody(c.req.raw)) ?? {};
    const recipient = isObject(body.recipient) ? str(body.recipient.id) : null;
    // Only the recipient tells an IGSID from a PSID on the Page endpoint (fixture convention: IGSIDs start with 5).
    const product: MessagingProduct = page.instagramAccountId && recipient?.startsWith("5") ? "instagram" : "messenger";
    if (!hasScope(auth, product === "instagram" ? "instagram_manage_messages" : "pages_messaging")) return fail(ctx, { code: 10 });
    return messagingSend(ctx, product, "facebook", id, product === "instagram" ? (page.instagramAccountId ?? id) : id, body);
  });

  fb.post("/:id/message_attachments", async (c) => {
    const id = c.req.param("id");
    const page = state.pages.get(id);
    if (!page) return unsupported(ctx, "POST", id);
    const auth = await pageAccess(ctx, c.req.raw, page);
    if (auth instanceof Response) return auth;
    // Instagram through the Page says so with `platform=instagram`; the attachment then belongs to the IG account.
    const form = await c.req.raw.clone().formData().catch(() => null);
    const instagram = form?.get("platform") === "instagram" && page.instagramAccountId;
    return attachmentUpload(ctx, c.req.raw, instagram ? "instagram" : "messenger", instagram ? page.instagramAccountId! : id);
  });

  fb.post("/:id/media", async (c) => {
    const id = c.req.param("id");
    const phone = state.phoneNumbers.get(id);
    if (!phone) return unsupported(ctx, "POST", id);
    const access = await whatsappAccess(ctx, c.req.raw, phone.wabaId, "POST", id, "whatsapp_business_messaging");
    if (access instanceof Response) return access;
    const form = await c.req.raw.formData().catch(() => null);
    const file = form?.get("file");
    if (form?.get("messaging_product") !== "whatsapp") return fail(ctx, invalid("The parameter messaging_product is required."));
    if (!(file instanceof File)) return fail(ctx, invalid("The parameter file is required."));
    const type = String(form.get("type") ?? file.type).toLowerCase();
    const problem = checkUpload(file, type);
    if (problem) return fail(ctx, problem);
    return graphJson({ id: addMediaRecord(ctx, { product: "whatsapp", ownerId: id, mimeType: type, bytes: new Uint8Array(await file.arrayBuffer()), filename: file.name || null }) });
  });

  fb.get("/:id/message_templates", async (c) => {
    const id = c.req.param("id");
    if (!state.wabas.has(id)) return unsupported(ctx, "GET", id);
    const access = await whatsappAccess(ctx, c.req.raw, id, "GET");
    if (access instanceof Response) return access;
    const fields = topLevelFields(access.params.fields, ["name", "components", "language", "status", "category", "id"]);
    const templates = state.templates.filter((t) => t.wabaId === id).map((t) => pick({ ...t, wabaId: undefined }, fields));
    return graphJson(paged(c.req.raw, access.params, access.token.value, templates));
  });

  // A media node; any other id goes on to the account routes of facebook.ts.
  fb.get("/:id", async (c, next) => {
    const id = c.req.param("id");
    const media = state.media.get(id);
    const phone = media?.product === "whatsapp" ? state.phoneNumbers.get(media.ownerId) : undefined;
    if (!media || !phone) return next();
    const access = await whatsappAccess(ctx, c.req.raw, phone.wabaId, "GET", id, "whatsapp_business_messaging");
    if (access instanceof Response) return access;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", media.bytes));
    return graphJson({
      url: await mediaUrl(ctx, new URL(c.req.url).origin, "whatsapp", id),
      mime_type: media.mimeType,
      sha256: btoa(String.fromCharCode(...digest)),
      file_size: media.bytes.byteLength,
      id,
      messaging_product: "whatsapp",
    });
  });

  return fb;
}

/** graph.instagram.com routes of sending (Instagram Login tokens). */
export function instagramMessagingRoutes(ctx: SimContext): Hono {
  const ig = new Hono();
  const account = async (request: Request, id: string): Promise<Response | InstagramAccountRecord> => {
    const params = await readParams(request);
    const auth = await authenticate(ctx, request, params, "instagram");
    if (!auth.ok) return auth.response;
    const found = [...ctx.state.instagramAccounts.values()].find((a) => a.scopedId === auth.grant.userId);
    if (!found || (id !== "me" && id !== found.id && id !== found.scopedId)) return unsupported(ctx, "POST", id);
    if (!hasScope(auth.grant, "instagram_business_manage_messages")) return fail(ctx, { code: 10 });
    return found;
  };
  ig.post("/:id/messages", async (c) => {
    const found = await account(c.req.raw, c.req.param("id"));
    if (found instanceof Response) return found;
    return messagingSend(ctx, "instagram", "instagram", c.req.param("id"), found.id, (await jsonBody(c.req.raw)) ?? {});
  });
  ig.post("/:id/message_attachments", async (c) => {
    const found = await account(c.req.raw, c.req.param("id"));
    if (found instanceof Response) return found;
    return attachmentUpload(ctx, c.req.raw, "instagram", found.id);
  });
  return ig;
}

/** lookaside.fbsbx.com: WhatsApp media downloads (Bearer token) and Messenger/Instagram CDN files (no token). */
export function lookasideRoutes(ctx: SimContext): Hono {
  const { state } = ctx;
  const cdn = new Hono();
  const serve = async (id: string, ext: string, signature: string): Promise<Response | null> => {
    const media = state.media.get(id);
    const expires = Number(ext);
    if (!media || !Number.isInteger(expires) || expires <= ctx.now() || signature !== (await urlSignature(ctx, id, expires))) return null;
    return new Response(media.bytes, { headers: { "content-type": media.mimeType, "content-length": String(media.bytes.byteLength) } });
  };
  const gone = () => new Response("URL signature expired", { status: 404, headers: { "content-type": "text/plain" } });

  cdn.get("/whatsapp_business/attachments/", async (c) => {
    const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    // "If you omit your token, the request will fail" (SPEC §2.6).
    if (!token || !checkToken(state, token, "facebook", ctx.now()).ok) {
      return new Response("Unauthorized", { status: 401, headers: { "content-type": "text/plain" } });
    }
    return (await serve(c.req.query("mid") ?? "", c.req.query("ext") ?? "", c.req.query("hash") ?? "")) ?? gone();
  });
  cdn.get("/ig_messaging_cdn/", async (c) => (await serve(c.req.query("asset_id") ?? "", c.req.query("ext") ?? "", c.req.query("signature") ?? "")) ?? gone());
  return cdn;
}

// ---------------------------------------------------------------------------------------------------------
// Handlers shared by the routes

async function whatsappSend(ctx: SimContext, request: Request, phone: PhoneRecord): Promise<Response> {
  const access = await whatsappAccess(ctx, request, phone.wabaId, "POST", phone.id, "whatsapp_business_messaging");
  if (access instanceof Response) return access;
  const body = (await jsonBody(request)) ?? {};
  const base = { product: "whatsapp" as const, host: "facebook" as const, node: phone.id, body };
  const checked = checkWhatsApp(ctx, phone, body);
  if ("code" in checked) return refused(ctx, { ...base, kind: body.status === undefined ? "message" : "read" }, checked);
  if (checked.kind === "read") {
    record(ctx, { ...base, kind: "read", externalId: null, error: null });
    return graphJson({ success: true });
  }
  const pair = `${phone.id}:${checked.input}`;
  const nowMs = ctx.nowMs();
  if (ctx.state.pairRateLimit && nowMs - (ctx.state.lastPairSend.get(pair) ?? -Infinity) < PAIR_INTERVAL_MS) {
    return refused(ctx, { ...base, kind: "message" }, { code: 131056 });
  }
  ctx.state.lastPairSend.set(pair, nowMs);
  const wamid = newWamid();
  record(ctx, { ...base, kind: "message", externalId: wamid, error: null });
  scheduleWhatsApp(ctx, phone, checked, wamid, nowMs);
  const contact = checked.waId ? { input: checked.input, wa_id: checked.waId } : { input: checked.input, user_id: checked.bsuid };
  return graphJson({ messaging_product: "whatsapp", contacts: [contact], messages: [{ id: wamid, ...(checked.template ? { message_status: "accepted" } : {}) }] });
}

async function messagingSend(ctx: SimContext, product: MessagingProduct, host: SendRecord["host"], node: string, accountId: string, body: Json): Promise<Response> {
  const base = { product, host, node, body };
  const checked = checkMessaging(ctx, product, body);
  if ("code" in checked) return refused(ctx, { ...base, kind: body.sender_action === undefined ? "message" : "sender_action" }, checked);
  if (checked.kind === "sender_action") {
    record(ctx, { ...base, kind: "sender_action", externalId: null, error: null });
    return graphJson({ recipient_id: checked.recipient });
  }
  const mid = newMid(product);
  record(ctx, { ...base, kind: "message", externalId: mid, error: null });
  scheduleMessaging(ctx, product, accountId, checked.recipient, mid, ctx.nowMs());
  return graphJson({ recipient_id: checked.recipient, message_id: mid });
}

async function attachmentUpload(ctx: SimContext, request: Request, product: MessagingProduct, ownerId: string): Promise<Response> {
  const form = await request.formData().catch(() => null);
  const file = form?.get("filedata");
  let message: unknown;
  try {
    message = JSON.parse(String(form?.get("message") ?? ""));
  } catch {
    message = null;
  }
  const attachment = isObject(message) && isObject(message.attachment) ? message.attachment : null;
  if (!attachment || !ATTACHMENT_TYPES.includes(str(attachment.type) ?? "")) return fail(ctx, invalid("Param message['attachment']['type'] must be one of {image, video, audio, file}"));
  if (!(file instanceof File)) return fail(ctx, invalid("The parameter filedata is required"));
  if (file.size > 25 * MB) return fail(ctx, { code: 100, subcode: 2018109, message: "(#100) Attachment size exceeds allowable limit" });
  const id = addMediaRecord(ctx, { product, ownerId, mimeType: file.type || "application/octet-stream", bytes: new Uint8Array(await file.arrayBuffer()), filename: file.name || null });
  return graphJson({ attachment_id: id });
}

/** A Page token of this Page (Messenger and Instagram through the Page): the grant behind it. */
async function pageAccess(ctx: SimContext, request: Request, page: PageRecord) {
  const params = await readParams(request);
  const auth = await authenticate(ctx, request, params, "facebook");
  if (!auth.ok) return auth.response;
  if (auth.token.type !== "PAGE") return fail(ctx, { code: 210 });
  if (auth.token.pageId !== page.id) return unsupported(ctx, "POST", page.id);
  return auth.grant;
}
