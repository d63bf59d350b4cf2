/**
 * @module
 * One authenticated call to the Graph API on a channel's behalf (sending, media, templates): the token
 * only in `Authorization: Bearer` with its `appsecret_proof`, a timeout, and every outcome as a value:
 * Meta's JSON, or a {@link SendFailure} (graph-client.ts translates Meta's error body and redacts it).
 * Nothing here logs; the URLs built here carry no secret but the proof, which is useless without the token.
 */
import { hmacHex } from "../hash.ts";
import { readJson, redactor, translate, type GraphEnv } from "./graph-client.ts";
import { localFailure, sendFailure, unavailableFailure, type Product, type SendFailure } from "./send-failure.ts";

export type Failed = { ok: false; failure: SendFailure };

/**
 * Where a channel's calls go. WhatsApp and Messenger: graph.facebook.com/{accountId}. Instagram through
 * its linked Page (Messenger API for Instagram): graph.facebook.com/{page} with the Page token. Instagram
 * Login (`viaPage` null): graph.instagram.com/{ig account}.
 */
export type Channel = { product: Product; accountId: string; viaPage: string | null };

const NUMERIC_ID = /^\d{1,20}$/;
const TIMEOUT_MS = 20_000;

export type GraphCall = {
  method: "GET" | "POST";
  /** Path below the channel's host, e.g. `200000000000001/messages` (no leading slash). */
  path: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  form?: FormData;
};

type Host = { base: string; secret: string };

/** The host and app secret of a channel: Instagram Login tokens belong to the Instagram app. */
export function hostOf(env: GraphEnv, channel: Pick<Channel, "product" | "viaPage">): Host {
  if (channel.product === "instagram" && channel.viaPage === null) return { base: env.INSTAGRAM_GRAPH_BASE, secret: env.INSTAGRAM_APP_SECRET ?? "" };
  return { base: env.GRAPH_API_BASE, secret: env.META_APP_SECRET };
}

/** The node a channel sends from: its own id, or the linked Page for Instagram through a Page. */
export function senderNode(channel: Channel): string {
  return channel.product === "instagram" && channel.viaPage !== null ? channel.viaPage : channel.accountId;
}

/** Ids go into URL paths: only Meta's numeric ids are accepted (the value is never echoed: it might be a token). */
export function checkIds(...ids: string[]): Failed | null {
  return ids.every((id) => NUMERIC_ID.test(id)) ? null : { ok: false, failure: localFailure("Invalid account", "An account id must be Meta's numeric id.") };
}

export async function graphCall(host: Host, product: Product, token: string, call: GraphCall): Promise<{ ok: true; body: unknown } | Failed> {
  if (!host.secret) return { ok: false, failure: localFailure("App configuration problem", "The app secret is not configured on this server.") };
  const url = new URL(`${host.base.replace(/\/+$/, "")}/${call.path}`);
  for (const [key, value] of Object.entries(call.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
  url.searchParams.set("appsecret_proof", await hmacHex(host.secret, token));
  const headers = new Headers({ accept: "application/json", authorization: `Bearer ${token}` });
  let body: BodyInit | undefined = call.form;
  if (call.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(call.json);
  }

  let response: Response;
  try {
    response = await fetch(url, { method: call.method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    return { ok: false, failure: unavailableFailure(error instanceof Error && error.name === "TimeoutError" ? "The request to Meta timed out." : "The request to Meta failed.") };
  }
  const parsed = await readJson(response);
  const error = translate(response.status, parsed, response.headers, "default", redactor([token, host.secret]));
  if (error) return { ok: false, failure: sendFailure(product, error) };
  if (response.status >= 500 || response.status === 429) return { ok: false, failure: unavailableFailure(`Meta answered HTTP ${response.status} without an error body.`) };
  if (!response.ok) {
    return { ok: false, failure: localFailure("Rejected by Meta", `Meta answered HTTP ${response.status} without saying why. Try again later or contact support.`) };
  }
  return { ok: true, body: parsed };
}

/** Meta answered 2xx with a body we do not understand: the call may have taken effect, so it is not retried. */
export function unexpectedAnswer(what: string): Failed {
  return { ok: false, failure: localFailure("Unexpected answer from Meta", `Meta accepted the ${what} but answered in an unexpected form; it may or may not have taken effect.`) };
}
