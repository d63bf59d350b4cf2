/**
 * @module
 * Meta's send failures in words an agent can act on: what happened, and what to do now.
 */
import type { MetaError } from "../api/types.ts";

const ADVICE: Record<string, string> = {
  "131047": "More than 24 hours have passed since the customer last wrote. Send an approved template instead.",
  "131026": "WhatsApp could not deliver it: the number may not use WhatsApp, or the customer has not accepted WhatsApp's latest terms.",
  "131051": "WhatsApp does not support this kind of message here. Send text or a supported file.",
  "131053": "The file could not be uploaded to WhatsApp. Check its type and size, then try again.",
  "190": "The channel's access to Meta has expired. An admin must reconnect it in Settings → Channels.",
  "10": "WeChatting lacks permission for this channel at Meta. An admin must reconnect it in Settings → Channels.",
  "100": "Meta refused one of the message's details. Check the text, file or template parameters and try again.",
  "368": "Meta has temporarily blocked this account from sending for a policy reason. Check the account quality in Meta Business Suite.",
  "131049": "Meta held back this marketing message to protect the customer's experience. Try again later.",
  "132001": "The template does not exist in this language, or is not approved yet.",
  "window_closed": "The messaging window is closed. Choose an approved template to reopen the conversation.",
  "channel_needs_reconnection": "The channel cannot send until an admin reconnects it in Settings → Channels.",
  "network": "Your connection dropped before WeChatting confirmed the message. Retry: it will not be sent twice.",
};

/**
 * Advice for Meta's code, or for our API's refusal before Meta was called (code 0, the API's error
 * code as title); otherwise what the server said.
 */
export function failureText(error: MetaError | null): string {
  if (!error) return "Not sent. Retry, or contact support if it keeps failing.";
  const advice = ADVICE[String(error.code)] ?? ADVICE[error.title ?? ""];
  const said = error.details ?? error.title;
  if (!advice) return `${said ?? "Meta did not accept the message."}${error.code ? ` (Meta code ${error.code})` : ""}`;
  return error.code ? `${advice} (Meta code ${error.code}${said && said !== advice ? `: ${said}` : ""})` : advice;
}
