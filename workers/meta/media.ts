/**
 * @module
 * Media and templates on a channel's behalf (SPEC §2.6, §5.1, §5.4): uploading a file so it can be sent,
 * streaming a customer's media to the browser without storing it, and listing a WhatsApp Business
 * Account's message templates. Every call answers a value, never throws for what Meta or the network does.
 */
import { z } from "@hono/zod-openapi";
import type { GraphEnv } from "./graph-client.ts";
import { checkIds, graphCall, hostOf, senderNode, unexpectedAnswer, type Channel, type Failed } from "./graph-http.ts";
import { localFailure, unavailableFailure, type Product } from "./send-failure.ts";
import { ATTACHMENT_TYPE, type MediaType } from "./send.ts";

const MB = 1024 * 1024;

type Limit = { types: readonly string[]; maxBytes: number };

/** WhatsApp Cloud API media limits (SPEC §2.6). */
const WHATSAPP_LIMITS: Record<MediaType, Limit> = {
  image: { types: ["image/jpeg", "image/png"], maxBytes: 5 * MB },
  video: { types: ["video/mp4", "video/3gpp"], maxBytes: 16 * MB },
  audio: { types: ["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"], maxBytes: 16 * MB },
  document: {
    types: [
      "text/plain",
      "application/pdf",
      "application/msword",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      "application/vnd.ms-excel",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "application/vnd.ms-powerpoint",
      "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ],
    maxBytes: 100 * MB,
  },
  // 100 KB for static stickers, 500 KB for animated ones: the file alone cannot tell which, Meta checks the rest.
  sticker: { types: ["image/webp"], maxBytes: 500 * 1024 },
};

/** Messenger: 25 MB per attachment, any file as a document. */
const MESSENGER_LIMITS: Partial<Record<MediaType, Limit>> = {
  image: { types: ["image/jpeg", "image/png", "image/gif"], maxBytes: 25 * MB },
  video: { types: ["video/*"], maxBytes: 25 * MB },
  audio: { types: ["audio/*"], maxBytes: 25 * MB },
  document: { types: ["*/*"], maxBytes: 25 * MB },
};

/** Instagram messaging: images 8 MB, audio, video and PDF files 25 MB; no stickers. */
const INSTAGRAM_LIMITS: Partial<Record<MediaType, Limit>> = {
  image: { types: ["image/jpeg", "image/png", "image/gif"], maxBytes: 8 * MB },
  document: { types: ["application/pdf"], maxBytes: 25 * MB },
  video: { types: ["video/mp4", "video/ogg", "video/x-msvideo", "video/quicktime", "video/webm"], maxBytes: 25 * MB },
  audio: { types: ["audio/aac", "audio/mp4", "audio/x-m4a", "audio/wav", "audio/x-wav"], maxBytes: 25 * MB },
};

const LIMITS: Record<Product, Partial<Record<MediaType, Limit>>> = { whatsapp: WHATSAPP_LIMITS, messenger: MESSENGER_LIMITS, instagram: INSTAGRAM_LIMITS };

const matches = (type: string, pattern: string) => pattern === "*/*" || pattern === type || (pattern.endsWith("/*") && type.startsWith(pattern.slice(0, -1)));

const PRODUCT_NAME: Record<Product, string> = { whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram" };

function checkFile(product: Product, file: Blob, mediaType: MediaType): Failed | null {
  const refuse = (title: string, message: string): Failed => ({ ok: false, failure: localFailure(title, message) });
  const limit = LIMITS[product][mediaType];
  if (!limit) return refuse("Not supported", `${PRODUCT_NAME[product]} cannot send ${mediaType === "document" ? "documents" : `${mediaType}s`}.`);
  const type = file.type.split(";")[0]!.trim().toLowerCase();
  if (!type || !limit.types.some((pattern) => matches(type, pattern))) {
    return refuse("Unsupported file type", `${PRODUCT_NAME[product]} accepts ${mediaType} files of type ${limit.types.join(", ")}; this file is ${type || "of an unknown type"}.`);
  }
  if (file.size === 0) return refuse("Empty file", "The file is empty.");
  if (file.size > limit.maxBytes) {
    return refuse("File too large", `${PRODUCT_NAME[product]} accepts ${mediaType} files up to ${formatBytes(limit.maxBytes)}; this one is ${formatBytes(file.size)}.`);
  }
  return null;
}

const formatBytes = (bytes: number) => (bytes >= MB ? `${Math.round((bytes / MB) * 10) / 10} MB` : `${Math.ceil(bytes / 1024)} KB`);

const Uploaded = z.object({ id: z.string().min(1) });
const AttachmentUploaded = z.object({ attachment_id: z.string().min(1) });

/**
 * Uploads a file to send later with sendMessage: WhatsApp `POST /{phone_number_id}/media` (media ids live
 * 30 days), Messenger/Instagram `POST /{page or ig}/message_attachments` as a reusable attachment.
 */
export async function uploadMedia(env: GraphEnv, token: string, target: Channel, file: Blob, mediaType: MediaType): Promise<{ ok: true; mediaId: string } | Failed> {
  const problem = checkIds(target.accountId, ...(target.viaPage ? [target.viaPage] : [])) ?? checkFile(target.product, file, mediaType);
  if (problem) return problem;
  const name = file instanceof File && file.name ? file.name : "upload";
  const form = new FormData();
  if (target.product === "whatsapp") {
    form.set("messaging_product", "whatsapp");
    form.set("type", file.type);
    form.set("file", file, name);
    const result = await graphCall(hostOf(env, target), target.product, token, { method: "POST", path: `${target.accountId}/media`, form });
    if (!result.ok) return result;
    const uploaded = Uploaded.safeParse(result.body);
    return uploaded.success ? { ok: true, mediaId: uploaded.data.id } : unexpectedAnswer("upload");
  }
  // Through a Page, Meta needs to be told the attachment is for Instagram.
  if (target.product === "instagram" && target.viaPage !== null) form.set("platform", "instagram");
  form.set("message", JSON.stringify({ attachment: { type: ATTACHMENT_TYPE[mediaType], payload: { is_reusable: true } } }));
  form.set("filedata", file, name);
  const result = await graphCall(hostOf(env, target), target.product, token, { method: "POST", path: `${senderNode(target)}/message_attachments`, form });
  if (!result.ok) return result;
  const uploaded = AttachmentUploaded.safeParse(result.body);
  return uploaded.success ? { ok: true, mediaId: uploaded.data.attachment_id } : unexpectedAnswer("upload");
}

const MediaUrl = z.object({ url: z.url(), mime_type: z.string().optional(), file_size: z.union([z.number(), z.string()]).optional() });

const GONE = "Meta no longer has this media: files from customers are kept for a limited time (7 days on WhatsApp) or were deleted by the sender.";

/**
 * The customer's media, ready to stream to the browser (nothing is stored). WhatsApp: `GET /{media-id}`
 * for a 5-minute URL, downloaded with the channel's token; Messenger/Instagram: the CDN `url` of the
 * webhook, fetched without any token. The response carries only the content type and length.
 */
export async function fetchInboundMedia(
  env: GraphEnv,
  token: string,
  product: Product,
  media: { id?: string | null; url?: string | null },
): Promise<{ ok: true; response: Response } | Failed> {
  if (product !== "whatsapp") {
    if (!media.url) return { ok: false, failure: localFailure("No media", "This attachment has no address to fetch it from.") };
    return fromMeta(env, media.url) ? download(env, media.url, null, null) : notMeta();
  }
  // A fresh URL from the media id first (webhook URLs may have expired); the webhook's own URL otherwise.
  if (!media.id && media.url) return fromMeta(env, media.url) ? download(env, media.url, token, null) : notMeta();
  if (!media.id || !/^\d{1,32}$/.test(media.id)) return { ok: false, failure: localFailure("No media", "This WhatsApp message has no media id.") };
  const result = await graphCall(hostOf(env, { product, viaPage: null }), product, token, { method: "GET", path: media.id });
  if (!result.ok) return result;
  const located = MediaUrl.safeParse(result.body);
  if (!located.success || !fromMeta(env, located.data.url)) return unexpectedAnswer("media lookup");
  return download(env, located.data.url, token, located.data.mime_type ?? null);
}

const META_MEDIA_HOSTS = /(^|\.)(fbsbx\.com|facebook\.com|fbcdn\.net|cdninstagram\.com|whatsapp\.net)$/;

/**
 * Meta's own https media hosts (or the simulator standing in for Graph in dev and tests): the only
 * addresses media is fetched from, whatever a payload names, and the only ones the token goes to.
 */
function fromMeta(env: GraphEnv, raw: string): boolean {
  const url = URL.parse(raw);
  if (!url) return false;
  return onMetaMediaHost(url) || url.origin === new URL(env.GRAPH_API_BASE).origin;
}

const onMetaMediaHost = (url: URL) => url.protocol === "https:" && META_MEDIA_HOSTS.test(url.hostname);

const notMeta = (): Failed => ({ ok: false, failure: localFailure("Media not available", "This media address is not one of Meta's, so it is not fetched.") });

/** A Meta media address as this deployment reaches it (see `META_MEDIA_BASE`). */
function mediaAddress(env: GraphEnv, raw: string): string {
  const url = URL.parse(raw);
  if (!env.META_MEDIA_BASE || !url || !onMetaMediaHost(url)) return raw;
  return `${env.META_MEDIA_BASE.replace(/\/+$/, "")}/${url.hostname}${url.pathname}${url.search}`;
}

async function download(env: GraphEnv, url: string, token: string | null, mimeType: string | null): Promise<{ ok: true; response: Response } | Failed> {
  let upstream: Response;
  try {
    upstream = await fetch(mediaAddress(env, url), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000) });
  } catch {
    return { ok: false, failure: unavailableFailure("Downloading the media from Meta failed.") };
  }
  if (!upstream.ok) {
    await upstream.body?.cancel();
    if (upstream.status >= 500) return { ok: false, failure: unavailableFailure(`Meta's media server answered HTTP ${upstream.status}.`) };
    const expired = upstream.status === 404 || upstream.status === 410 || upstream.status === 403;
    return { ok: false, failure: localFailure(expired ? "Media no longer available" : "Media not available", expired ? GONE : `Meta's media server answered HTTP ${upstream.status}.`) };
  }
  const headers = new Headers({ "cache-control": "private, no-store", "x-content-type-options": "nosniff" });
  headers.set("content-type", mimeType ?? upstream.headers.get("content-type") ?? "application/octet-stream");
  const length = upstream.headers.get("content-length");
  if (length) headers.set("content-length", length);
  return { ok: true, response: new Response(upstream.body, { status: 200, headers }) };
}

export const MessageTemplate = z.object({
  name: z.string(),
  language: z.string(),
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL, … */
  status: z.string(),
  /** MARKETING, UTILITY, AUTHENTICATION. */
  category: z.string(),
  /** Meta's components (header, body with `{{n}}` placeholders, footer, buttons) as Meta returns them. */
  components: z.array(z.looseObject({ type: z.string() })),
});
export type MessageTemplate = z.infer<typeof MessageTemplate>;

const TemplatesPage = z.object({
  data: z.array(MessageTemplate.extend({ components: MessageTemplate.shape.components.default([]) })),
  paging: z.object({ cursors: z.object({ after: z.string().optional() }).optional(), next: z.string().optional() }).optional(),
});

const MAX_TEMPLATE_PAGES = 20;

/** Every message template of a WhatsApp Business Account (all result pages, by cursor). */
export async function listTemplates(env: GraphEnv, token: string, wabaId: string): Promise<{ ok: true; templates: MessageTemplate[] } | Failed> {
  const problem = checkIds(wabaId);
  if (problem) return problem;
  const templates: MessageTemplate[] = [];
  const host = hostOf(env, { product: "whatsapp", viaPage: null });
  let after: string | undefined;
  // Meta's `next` links carry the token in the URL, so only the cursor is followed.
  for (let round = 0; round < MAX_TEMPLATE_PAGES; round++) {
    const result = await graphCall(host, "whatsapp", token, {
      method: "GET",
      path: `${wabaId}/message_templates`,
      query: { fields: "name,language,status,category,components", limit: "100", after },
    });
    if (!result.ok) return result;
    const page = TemplatesPage.safeParse(result.body);
    if (!page.success) return unexpectedAnswer("template list");
    templates.push(...page.data.data);
    after = page.data.paging?.cursors?.after;
    if (!page.data.paging?.next || !after || page.data.data.length === 0) break;
  }
  return { ok: true, templates };
}
