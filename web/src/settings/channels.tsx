/**
 * @module
 * Settings → Channels: each channel's health and token expiry, connecting (WhatsApp with a
 * system-user token; Messenger and Instagram by finishing Meta's login with its code) and
 * disconnecting with the choice to keep or delete the history.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { canManage } from "../state/session.ts";
import { Dialog } from "../ui/dialog.tsx";
import { Empty } from "../ui/empty.tsx";
import { ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";

type Channel = components["schemas"]["Channel"];
const STATUS = { active: "Connected", needs_reconnection: "Needs reconnection", disconnected: "Disconnected", revoked: "Access withdrawn at Meta" };

function ConnectWhatsApp(props: { workspaceId: string; onDone: () => void }) {
  const [run, busy, error] = useAction();
  return (
    <form
      aria-labelledby="connect-wa"
      onSubmit={submitting(run, async (v) => {
        await ok(
          api.POST("/workspaces/{workspaceId}/channels/whatsapp/manual", {
            params: { path: { workspaceId: props.workspaceId } },
            body: { phoneNumberId: v.phoneNumberId!, wabaId: v.wabaId!, accessToken: v.accessToken! },
          }),
        );
        props.onDone();
      })}
    >
      <h3 id="connect-wa">WhatsApp number (system-user token)</h3>
      <p class="hint">From Meta Business Suite → WhatsApp Manager. The token is checked at Meta before anything is saved and is stored encrypted.</p>
      <Field label="Phone number ID" name="phoneNumberId" inputMode="numeric" pattern="\d{1,32}" required />
      <Field label="WhatsApp Business Account ID" name="wabaId" inputMode="numeric" pattern="\d{1,32}" required />
      <Field label="System-user access token" name="accessToken" type="password" autoComplete="off" required minLength={20} />
      <ErrorLine error={error} />
      <button class="primary" disabled={busy}>
        {busy ? "Checking with Meta…" : "Connect WhatsApp"}
      </button>
    </form>
  );
}

function FinishLogin(props: { workspaceId: string; onDone: () => void }) {
  const [run, busy, error] = useAction();
  return (
    <form
      aria-labelledby="connect-login"
      onSubmit={submitting(run, async (v) => {
        const kind = v.kind as "messenger" | "instagram";
        const path = { path: { workspaceId: props.workspaceId } };
        const { state } = await ok(api.POST("/workspaces/{workspaceId}/channels/oauth/state", { params: path, body: { kind } }));
        const body = { code: v.code!, state, redirectUri: `${window.location.origin}/oauth/callback` };
        await ok(kind === "messenger" ? api.POST("/workspaces/{workspaceId}/channels/messenger/connect", { params: path, body }) : api.POST("/workspaces/{workspaceId}/channels/instagram/connect", { params: path, body }));
        props.onDone();
      })}
    >
      <h3 id="connect-login">Facebook Page or Instagram account</h3>
      <p class="hint">Finish Meta's login with the code it returned. Pages bring their linked Instagram accounts with them.</p>
      <div class="field">
        <label for="login-kind">Login</label>
        <select id="login-kind" name="kind">
          <option value="messenger">Facebook Login for Business (Pages, linked Instagram)</option>
          <option value="instagram">Instagram Login</option>
        </select>
      </div>
      <Field label="Login code" name="code" autoComplete="off" required />
      <ErrorLine error={error} />
      <button class="primary" disabled={busy}>
        Connect
      </button>
    </form>
  );
}

export function Channels(props: { workspaceId: string }) {
  const { workspaceId } = props;
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [connecting, setConnecting] = useState(false);
  const [leaving, setLeaving] = useState<Channel | null>(null);
  const [run, busy, error] = useAction();
  const load = () => run(async () => setChannels((await ok(api.GET("/workspaces/{workspaceId}/channels", { params: { path: { workspaceId } } }))).channels));
  useEffect(() => void load(), [workspaceId]);
  const manage = canManage(workspaceId);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Channels</h1>
      <ErrorLine error={error} />
      {manage && (
        <button class="primary" onClick={() => setConnecting(true)}>
          Connect a channel
        </button>
      )}
      {channels?.length === 0 && (
        <Empty title="No channels yet">
          <p>Connect a WhatsApp number, a Facebook Page or an Instagram account: their customers' messages then arrive in the inbox.</p>
        </Empty>
      )}
      <ul class="cards">
        {channels?.map((ch) => (
          <li class="card channel" aria-label={`${ch.name} (${ch.kind})`}>
            <h2>
              {ch.name} <small>{ch.handle}</small>
            </h2>
            <p>
              <span class={`chip status-${ch.status}`}>{STATUS[ch.status]}</span> <span class="chip">{ch.kind}</span>
            </p>
            {ch.problem && <p class="warning">{ch.problem}</p>}
            {ch.expiresSoon && ch.tokenExpiresAt && (
              <p class="warning" role="note">
                Access expires {formatDateTime(ch.tokenExpiresAt)}. Reconnect before then to keep receiving messages.
              </p>
            )}
            <p class="hint">
              {ch.healthCheckedAt ? `Last checked ${formatDateTime(ch.healthCheckedAt)}` : "Not checked yet"}
              {ch.connectedAt ? ` · connected ${formatDateTime(ch.connectedAt)}` : ""}
            </p>
            {manage && ch.status !== "disconnected" && ch.status !== "revoked" && <button onClick={() => setLeaving(ch)}>Disconnect…</button>}
          </li>
        ))}
      </ul>
      {connecting && (
        <Dialog title="Connect a channel" onClose={() => setConnecting(false)} wide>
          <ConnectWhatsApp workspaceId={workspaceId} onDone={() => (setConnecting(false), void load())} />
          <hr />
          <FinishLogin workspaceId={workspaceId} onDone={() => (setConnecting(false), void load())} />
        </Dialog>
      )}
      {leaving && (
        <Dialog title={`Disconnect ${leaving.name}?`} onClose={() => setLeaving(null)}>
          <p>WeChatting withdraws its access at Meta, destroys the stored token and stops receiving this channel's messages.</p>
          <div class="equal-buttons">
            {(["keep", "delete"] as const).map((history) => (
              <button
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await ok(api.DELETE("/workspaces/{workspaceId}/channels/{channelId}", { params: { path: { workspaceId, channelId: leaving.id }, query: { history } } }));
                    setLeaving(null);
                    await load();
                  })
                }
              >
                {history === "keep" ? "Disconnect, keep the history" : "Disconnect and delete every conversation"}
              </button>
            ))}
          </div>
        </Dialog>
      )}
    </section>
  );
}
