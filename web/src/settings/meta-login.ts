/**
 * @module
 * Meta's login dialog in a pop-up, both ends of it. The inbox opens the pop-up, the API hands it the
 * dialog's address with a session-bound `state`, Meta sends the pop-up back to `/oauth/callback`, and
 * that page passes `code` and `state` (or Meta's `error`) to the inbox over a BroadcastChannel.
 *
 * A BroadcastChannel rather than `window.opener.postMessage`: every page of ours is served with
 * `Cross-Origin-Opener-Policy: same-origin`, so the pop-up loses its opener once it has been to
 * Meta, and weakening that header for the whole app to keep it would trade isolation for convenience.
 * Only pages of this origin can post on the channel, and the inbox accepts only its own `state`.
 */
import { api, ok } from "../api/client.ts";

export type LoginKind = "whatsapp" | "messenger" | "instagram";
export type LoginAnswer = { code: string; state: string; redirectUri: string };

const CHANNEL = "wechatting-meta-login";
type Message = { state: string | null; code: string | null; error: string | null; errorDescription: string | null };

/** Meta's answer to the dialog; a rejection says, in a sentence, why nothing was connected. */
export async function metaLogin(workspaceId: string, kind: LoginKind, signal: AbortSignal): Promise<LoginAnswer> {
  // Opened before any await: browsers allow pop-ups only in the click's own task.
  const popup = window.open("about:blank", "meta-login", "popup,width=600,height=760");
  if (!popup) throw new Error("Your browser blocked Meta's window. Allow pop-ups for this site and try again, or use one of the other ways below.");
  try {
    const started = await ok(api.POST("/workspaces/{workspaceId}/channels/oauth/state", { params: { path: { workspaceId } }, body: { kind } }));
    if (!started.dialogUrl) throw new Error(started.problem ?? "This way of connecting is not set up on this server.");
    const answer = waitForAnswer(started.state, started.expiresIn * 1000, signal);
    popup.location.href = started.dialogUrl;
    const message = await answer;
    if (message.error !== null || !message.code) {
      throw new Error(
        message.error === "access_denied"
          ? "You cancelled in Meta's window, so nothing was connected."
          : `Meta did not finish the login${message.errorDescription ? `: ${message.errorDescription}` : ""}. Try again.`,
      );
    }
    return { code: message.code, state: started.state, redirectUri: started.redirectUri };
  } catch (error) {
    popup.close();
    throw error;
  }
}

function waitForAnswer(state: string, timeoutMs: number, signal: AbortSignal): Promise<Message> {
  return new Promise((resolve, reject) => {
    const channel = new BroadcastChannel(CHANNEL);
    const finish = () => {
      channel.close();
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    };
    const abort = () => (finish(), reject(new Error("Connecting was stopped. Nothing was connected.")));
    const timer = setTimeout(() => (finish(), reject(new Error("Meta's window did not answer in time. Start connecting again."))), timeoutMs);
    signal.addEventListener("abort", abort);
    channel.onmessage = (event: MessageEvent<Message>) => {
      if (event.data?.state !== state) return;
      finish();
      resolve(event.data);
    };
  });
}

/** The `/oauth/callback` page: hand Meta's answer to the inbox, then close. */
export function finishInPopup(root: HTMLElement): void {
  const query = new URLSearchParams(window.location.search);
  const message: Message = { state: query.get("state"), code: query.get("code"), error: query.get("error"), errorDescription: query.get("error_description") };
  if (message.state === null) {
    root.textContent = "This page finishes connecting a channel. Start from Settings → Channels.";
    return;
  }
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage(message);
  channel.close();
  // The code is single-use and short-lived, but it should not linger in the history either.
  history.replaceState(null, "", "/oauth/callback");
  root.textContent = "Back to WeChatting… You can close this window.";
  window.close();
}
