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
import { api, ok, type Paths } from "../api/client.ts";

type StartBody = NonNullable<Paths["/workspaces/{workspaceId}/channels/oauth/state"]["post"]["requestBody"]>["content"]["application/json"];
export type LoginKind = StartBody["kind"];
export type LoginAnswer = { code: string; state: string; redirectUri: string };

const CHANNEL = "wechatting-meta-login";
/** How long the callback waits for the inbox to confirm it took the answer before showing the code. */
const ACK_TIMEOUT_MS = 2_000;
type Answer = { type: "answer"; state: string; code: string | null; error: string | null; errorDescription: string | null };
type Ack = { type: "ack"; state: string };

/** Meta's answer to the dialog; a rejection says, in a sentence, why nothing was connected. */
export async function metaLogin(workspaceId: string, kind: LoginKind, signal: AbortSignal): Promise<LoginAnswer> {
  // Opened before any await: browsers allow pop-ups only in the click's own task.
  const popup = window.open("about:blank", "meta-login", "popup,width=600,height=760");
  if (!popup) throw new Error("Your browser blocked Meta's window. Allow pop-ups for this site and try again, or use one of the other ways below.");
  try {
    const started = await ok(api.POST("/workspaces/{workspaceId}/channels/oauth/state", { params: { path: { workspaceId } }, body: { kind } }));
    if (!started.dialogUrl) throw new Error(started.problem ?? "This way of connecting is not set up on this server.");
    // Still ours (about:blank) until it navigates, so `closed` is reliable here and only here.
    if (popup.closed) throw new Error("Meta's window was closed before it opened. Nothing was connected.");
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
    // Closes the window while it is still ours; once it has been to Meta only the callback can close it.
    popup.close();
    throw error;
  }
}

function waitForAnswer(state: string, timeoutMs: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stopped = () => new Error("Connecting was stopped, so nothing was connected. Close Meta's window if it is still open.");
    if (signal.aborted) return reject(stopped());
    const channel = new BroadcastChannel(CHANNEL);
    const finish = () => {
      channel.close();
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    };
    const abort = () => (finish(), reject(stopped()));
    const timer = setTimeout(() => (finish(), reject(new Error("Meta's window did not answer in time. Start connecting again."))), timeoutMs);
    signal.addEventListener("abort", abort);
    channel.onmessage = (event: MessageEvent<Answer>) => {
      if (event.data?.type !== "answer" || event.data.state !== state) return;
      channel.postMessage({ type: "ack", state } satisfies Ack);
      finish();
      resolve(event.data);
    };
  });
}

/**
 * The `/oauth/callback` page: hand Meta's answer to the inbox and close once it confirms. If no
 * inbox takes it (its tab was closed or reloaded), the code is shown to paste instead of being lost.
 */
export function finishInPopup(root: HTMLElement): void {
  const query = new URLSearchParams(window.location.search);
  const state = query.get("state");
  if (state === null) {
    root.textContent = "This page finishes connecting a channel. Start from Settings → Channels.";
    return;
  }
  const answer: Answer = { type: "answer", state, code: query.get("code"), error: query.get("error"), errorDescription: query.get("error_description") };
  // The code is single-use and short-lived, but it should not linger in the history either.
  history.replaceState(null, "", "/oauth/callback");
  root.textContent = "Back to WeChatting…";
  const channel = new BroadcastChannel(CHANNEL);
  const unclaimed = setTimeout(() => {
    channel.close();
    root.textContent =
      answer.code === null
        ? "Nothing was connected. You can close this window."
        : `WeChatting did not pick up this login (was its tab closed or reloaded?). To finish it, paste this code under Settings → Channels → Connect a channel → Other ways to connect, soon: ${answer.code}`;
  }, ACK_TIMEOUT_MS);
  channel.onmessage = (event: MessageEvent<Ack>) => {
    if (event.data?.type !== "ack" || event.data.state !== state) return;
    clearTimeout(unclaimed);
    channel.close();
    root.textContent = "Back to WeChatting. You can close this window.";
    window.close();
  };
  channel.postMessage(answer);
}
