/**
 * Connects the demo workspace's channels for `npm start` the way a business would: the demo owner
 * signs in and goes through the product's own flows (WhatsApp manual connect with a system-user token,
 * Facebook Login for the Pages and their linked Instagram account) against the Graph API simulator.
 * Each start does it again because the simulator keeps its tokens in memory; the channels keep their
 * ids, and with them their history.
 */
import { demoChannels, demoWorkspace } from "../workers/demo-workspace.ts";

type Session = { cookie: string; csrf: string };

async function json<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export async function connectDemoChannels(origin: string, graphOrigin: string, email: string, password: string): Promise<number> {
  const signin = await fetch(`${origin}/api/auth/signin`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email, password }),
  });
  const cookie = signin.headers.getSetCookie().find((c) => c.startsWith("__Host-wc_session="))?.split(";")[0];
  const { csrfToken } = await json<{ csrfToken: string }>(signin, "signing in as the demo owner");
  if (!cookie) throw new Error("signing in as the demo owner set no session cookie");
  const session: Session = { cookie, csrf: csrfToken };

  const api = <T>(path: string, body: unknown) =>
    fetch(`${origin}/api/workspaces/${demoWorkspace.id}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, cookie: session.cookie, "x-csrf-token": session.csrf },
      body: JSON.stringify(body),
    }).then((r) => json<T>(r, `POST ${path}`));
  const simulator = <T>(path: string, body: unknown) =>
    fetch(`${graphOrigin}/__simulator${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) =>
      json<T>(r, `simulator ${path}`),
    );

  let connected = 0;
  for (const channel of demoChannels.filter((c) => c.kind === "whatsapp")) {
    const { token } = await simulator<{ token: string }>("/tokens", { type: "SYSTEM_USER" });
    await api("/channels/whatsapp/manual", { phoneNumberId: channel.externalId, wabaId: channel.wabaId, accessToken: token });
    connected++;
  }
  const { state } = await api<{ state: string }>("/channels/oauth/state", { kind: "messenger" });
  const redirectUri = `${origin}/settings/channels`;
  const { code } = await simulator<{ code: string }>("/codes", { kind: "facebook_login", redirectUri });
  const pages = await api<{ channels: unknown[] }>("/channels/messenger/connect", { code, state, redirectUri });
  return connected + pages.channels.length;
}
