/**
 * @module
 * Settings → Channels: each channel's health and token expiry, connecting (Meta's login in a pop-up:
 * Embedded Signup, Facebook Login for Business, Instagram Login; or a WhatsApp system-user token, or
 * a login code from elsewhere) and disconnecting with the choice to keep or delete the history.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";
import { formatDateTime } from "../format.ts";
import { canManage } from "../state/session.ts";
import { Dialog } from "../ui/dialog.tsx";
import { Empty } from "../ui/empty.tsx";
import { ErrorLine, Field, submitting, useAction } from "../ui/form.tsx";
import { metaLogin, type LoginAnswer, type LoginKind } from "./meta-login.ts";

type Channel = components["schemas"]["Channel"];
const STATUS = { active: "Connected", needs_reconnection: "Needs reconnection", disconnected: "Disconnected", revoked: "Access withdrawn at Meta" };

const FLOWS: { kind: LoginKind; label: string; hint: string }[] = [
  { kind: "whatsapp", label: "WhatsApp Business", hint: "Meta's Embedded Signup: choose or create a WhatsApp Business account and number." },
  { kind: "messenger", label: "Facebook Pages", hint: "Facebook Login for Business. Pages bring their linked Instagram accounts with them." },
  { kind: "instagram", label: "Instagram account", hint: "Instagram Login, for a professional account without a Facebook Page." },
];

/** Finishes a login with the code Meta handed back: the same calls whether it came from the pop-up or was pasted. */
function finishLogin(workspaceId: string, kind: LoginKind, answer: LoginAnswer) {
  const params = { path: { workspaceId } };
  const body = { code: answer.code, state: answer.state, redirectUri: answer.redirectUri };
  if (kind === "whatsapp") return ok(api.POST("/workspaces/{workspaceId}/channels/whatsapp/embedded-signup", { params, body }));
  if (kind === "messenger") return ok(api.POST("/workspaces/{workspaceId}/channels/messenger/connect", { params, body }));
  return ok(api.POST("/workspaces/{workspaceId}/channels/instagram/connect", { params, body }));
}

/** Which button reconnects a channel of this kind (Instagram accounts linked to a Page come back with it). */
const RECONNECT_WITH: Record<Channel["kind"], string> = { whatsapp: "WhatsApp Business", messenger: "Facebook Pages", instagram: "Facebook Pages or Instagram account" };

function ConnectWithMeta(props: { workspaceId: string; reconnecting: Channel | null; onDone: () => void }) {
  const [run, busy, error] = useAction();
  const [waiting, setWaiting] = useState<LoginKind | null>(null);
  const stop = useRef<AbortController | null>(null);
  const stopButton = useRef<HTMLButtonElement>(null);
  useEffect(() => () => stop.current?.abort(), []);
  // The flow buttons are disabled while Meta's window is open: keep the keyboard's place on Stop.
  useEffect(() => void (waiting && stopButton.current?.focus()), [waiting]);
  const start = (kind: LoginKind) =>
    void run(async () => {
      const controller = new AbortController();
      stop.current = controller;
      setWaiting(kind);
      try {
        const answer = await metaLogin(props.workspaceId, kind, controller.signal);
        setWaiting(null);
        await finishLogin(props.workspaceId, kind, answer);
        props.onDone();
      } finally {
        setWaiting(null);
      }
    });
  const { reconnecting } = props;
  return (
    <section aria-labelledby="connect-meta">
      <h3 id="connect-meta">Connect with Meta</h3>
      <p class="hint">Meta opens in a new window; sign in there and choose what WeChatting may use. Tokens are stored encrypted and never shown.</p>
      {reconnecting && (
        <p role="note">
          To reconnect {reconnecting.name}, choose {RECONNECT_WITH[reconnecting.kind]} and pick the same account in Meta's window: its conversations stay.
        </p>
      )}
      <ul class="connect-flows">
        {FLOWS.map((flow) => (
          <li>
            <button class="primary" disabled={busy} aria-describedby={`flow-${flow.kind}`} onClick={() => start(flow.kind)}>
              {flow.label}
            </button>
            <p class="hint" id={`flow-${flow.kind}`}>
              {flow.hint}
            </p>
          </li>
        ))}
      </ul>
      <p role="status">{waiting ? "Waiting for Meta's window…" : busy ? "Connecting…" : ""}</p>
      {waiting && (
        <button ref={stopButton} onClick={() => stop.current?.abort()}>
          Stop
        </button>
      )}
      <ErrorLine error={error} />
    </section>
  );
}

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
        const { state, redirectUri } = await ok(api.POST("/workspaces/{workspaceId}/channels/oauth/state", { params: { path: { workspaceId: props.workspaceId } }, body: { kind } }));
        await finishLogin(props.workspaceId, kind, { code: v.code!, state, redirectUri });
        props.onDone();
      })}
    >
      <h3 id="connect-login">Finish a login by its code</h3>
      <p class="hint">When Meta's window could not hand the login back to this tab, it shows the code: paste it here. Pages bring their linked Instagram accounts with them.</p>
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
  const [reconnecting, setReconnecting] = useState<Channel | null>(null);
  const openConnect = (channel: Channel | null) => (setReconnecting(channel), setConnecting(true));
  const [leaving, setLeaving] = useState<Channel | null>(null);
  const [run, busy, error] = useAction();
  const load = () => run(async () => setChannels((await ok(api.GET("/workspaces/{workspaceId}/channels", { params: { path: { workspaceId } } }))).channels));
  useEffect(() => void load(), [workspaceId]);
  const manage = canManage(workspaceId);
  const connected = () => (setConnecting(false), void load());
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Channels</h1>
      <ErrorLine error={error} />
      {manage && (
        <button class="primary" onClick={() => openConnect(null)}>
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
            {manage && ch.status !== "active" && (
              <button class="primary" aria-label={`Reconnect ${ch.name}`} onClick={() => openConnect(ch)}>
                Reconnect…
              </button>
            )}{" "}
            {manage && ch.status !== "disconnected" && ch.status !== "revoked" && <button onClick={() => setLeaving(ch)}>Disconnect…</button>}
          </li>
        ))}
      </ul>
      {connecting && (
        <Dialog title="Connect a channel" onClose={() => setConnecting(false)} wide>
          <ConnectWithMeta workspaceId={workspaceId} reconnecting={reconnecting} onDone={connected} />
          <details>
            <summary>Other ways to connect</summary>
            <ConnectWhatsApp workspaceId={workspaceId} onDone={connected} />
            <hr />
            <FinishLogin workspaceId={workspaceId} onDone={connected} />
          </details>
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
