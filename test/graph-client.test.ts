/**
 * The Graph client against the Graph API simulator, in workerd: the onboarding flows of SPEC §7 end to
 * end (Embedded Signup, manual WhatsApp, Facebook Login for Business, Instagram Login), every error kind
 * of SPEC §5.5, the simulator's control API, and the secret rules: tokens only in the Authorization
 * header with a correct appsecret_proof, and never a token or secret in an URL outside the parameters
 * Meta defines, nor in any error.
 */
import { describe, expect, it } from "vitest";
import { hmacHex } from "../workers/hash.ts";
import { graphClient, type GraphEnv, type GraphError, type GraphResult } from "../workers/meta/graph-client.ts";
import { useGraphSimulator } from "./graph-simulator.ts";

const graph = useGraphSimulator();
const client = (overrides: Partial<GraphEnv> = {}) => graphClient({ ...graph.env, ...overrides });

function ok<T>(result: GraphResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

function failed<T>(result: GraphResult<T>): GraphError {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.data)}`);
  return result.error;
}

/** Every secret the simulator knows: issued tokens and both app secrets. */
function allSecrets(): string[] {
  return [...graph.sim.state.tokens.keys(), graph.env.META_APP_SECRET, graph.env.INSTAGRAM_APP_SECRET];
}

function expectNoSecret(error: GraphError, extra: string[] = []) {
  const text = JSON.stringify(error);
  for (const secret of [...allSecrets(), ...extra]) expect(text).not.toContain(secret);
  expect(error.userMessage.length).toBeGreaterThan(20);
}

const WABA = "100000000000001";
const PHONE = "200000000000001";
const PAGE = "300000000000001";
const IG = "17840000000000001";

async function embeddedSignupToken(): Promise<string> {
  const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
  return ok(await client().exchangeCode(code)).accessToken;
}

describe("WhatsApp Embedded Signup", () => {
  it("exchanges the code, reads the WABA and number, subscribes the app and registers the number", async () => {
    const { code, wabaId, phoneNumberId } = graph.sim.createCode({ kind: "whatsapp_embedded_signup", wabaId: WABA });
    expect([wabaId, phoneNumberId]).toEqual([WABA, PHONE]);
    const graphApi = client();

    const token = ok(await graphApi.exchangeCode(code));
    expect(token.accessToken).toMatch(/^EAA/);
    expect(token.expiresIn).toBeNull();

    const debug = ok(await graphApi.debugToken(token.accessToken));
    expect(debug).toMatchObject({ isValid: true, appId: "600000000000001", type: "SYSTEM_USER", expiresAt: null, problem: null });
    expect(debug.scopes).toEqual(["whatsapp_business_management", "whatsapp_business_messaging"]);
    expect(debug.granularScopes).toContainEqual({ scope: "whatsapp_business_management", targetIds: [WABA] });
    expect(debug.userId).toMatch(/^\d+$/);

    expect(ok(await graphApi.getWaba(token.accessToken, WABA))).toEqual({ id: WABA, name: "Demo Shop WhatsApp" });
    expect(ok(await graphApi.getPhoneNumber(token.accessToken, PHONE))).toEqual({
      id: PHONE,
      displayPhoneNumber: "+1 555-000-1111",
      verifiedName: "Demo Shop WhatsApp",
      qualityRating: "GREEN",
    });
    expect(ok(await graphApi.listPhoneNumbers(token.accessToken, WABA)).map((p) => p.id)).toEqual([PHONE]);
    ok(await graphApi.subscribeApp(token.accessToken, WABA));
    ok(await graphApi.registerPhoneNumber(token.accessToken, PHONE, "123456"));

    const state = graph.sim.snapshot();
    expect(state.subscriptions.whatsapp).toEqual([expect.objectContaining({ wabaId: WABA, appId: "600000000000001" })]);
    expect(state.registrations).toEqual([expect.objectContaining({ phoneNumberId: PHONE })]);

    // The token reaches only the WABA of the signup.
    const other = failed(await graphApi.getWaba(token.accessToken, "100000000000002"));
    expect(other).toMatchObject({ kind: "invalid_request", code: 100, subcode: 33, reconnect: false, retryable: false });
  });

  it("rejects a used, an expired and a mismatched code, each with a message that says to start again", async () => {
    const graphApi = client();
    const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
    ok(await graphApi.exchangeCode(code));
    const used = failed(await graphApi.exchangeCode(code));
    expect(used).toMatchObject({ kind: "invalid_request", code: 100, subcode: 36009, retryable: false, reconnect: false });
    expect(used.userMessage).toMatch(/already used.*Start connecting again/);
    expectNoSecret(used, [code]);

    const expired = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
    graph.sim.state.codes.get(expired.code)!.expiresAt = graph.sim.now() - 1;
    const late = failed(await graphApi.exchangeCode(expired.code));
    expect(late).toMatchObject({ kind: "invalid_request", subcode: 36007 });
    expect(late.userMessage).toMatch(/expired/);

    const redirect = graph.sim.createCode({ kind: "facebook_login", redirectUri: "https://app.test/callback" });
    const mismatch = failed(await graphApi.exchangeCode(redirect.code, "https://evil.test/callback"));
    expect(mismatch).toMatchObject({ kind: "invalid_request", subcode: 36008 });
    ok(await graphApi.exchangeCode(redirect.code, "https://app.test/callback"));

    const garbage = failed(await graphApi.exchangeCode("not-a-code"));
    expect(garbage.kind).toBe("invalid_request");
  });

  it("says wrong_app when the app id or the app secret is not Meta's, without leaking the secret", async () => {
    const { code } = graph.sim.createCode({ kind: "whatsapp_embedded_signup" });
    const badId = failed(await client({ META_APP_ID: "699999999999999" }).exchangeCode(code));
    expect(badId).toMatchObject({ kind: "wrong_app", code: 101, retryable: false, reconnect: false });
    expect(badId.userMessage).toMatch(/app id or app secret/);

    const badSecret = failed(await client({ META_APP_SECRET: "not-the-secret" }).exchangeCode(code));
    expect(badSecret).toMatchObject({ kind: "wrong_app", message: "Error validating client secret." });
    expectNoSecret(badSecret, ["not-the-secret"]);

    // debug_token with a wrong app token: Meta's 190 is about our app, not the customer's token.
    const token = ok(await client().exchangeCode(code)).accessToken;
    const debug = failed(await client({ META_APP_SECRET: "not-the-secret" }).debugToken(token));
    expect(debug).toMatchObject({ kind: "wrong_app", reconnect: false });
    expectNoSecret(debug, ["not-the-secret"]);

    // No secret configured: refused before anything is sent.
    const before = graph.requests.length;
    expect(failed(await client({ META_APP_SECRET: "" }).getWaba(token, WABA))).toMatchObject({ kind: "wrong_app", status: 0 });
    expect(failed(await client({ META_APP_SECRET: "" }).exchangeCode(code))).toMatchObject({ kind: "wrong_app", status: 0 });
    expect(graph.requests.length).toBe(before);
  });
});

describe("manual WhatsApp connection (system-user token)", () => {
  it("validates a minted token against the WABA and number; tokens of another app are wrong_app", async () => {
    const { token } = graph.sim.mintToken({ type: "SYSTEM_USER", wabaIds: ["100000000000002"] });
    const graphApi = client();
    expect(ok(await graphApi.getWaba(token, "100000000000002")).name).toBe("Demo Shop WhatsApp Support");
    expect(ok(await graphApi.getPhoneNumber(token, "200000000000002")).displayPhoneNumber).toBe("+1 555-000-3333");

    const foreign = graph.sim.mintToken({ type: "SYSTEM_USER", appId: "699999999999999" }).token;
    const debug = failed(await graphApi.debugToken(foreign));
    expect(debug).toMatchObject({ kind: "wrong_app", reconnect: false, retryable: false });
    expect(debug.userMessage).toMatch(/different Meta app/);
    // Its calls fail too: our appsecret_proof cannot match another app's secret.
    const call = failed(await graphApi.getWaba(foreign, WABA));
    expect(call).toMatchObject({ kind: "wrong_app", code: 100 });
    expectNoSecret(call);
  });

  it("reports debug_token's verdict on dead tokens as a problem to reconnect", async () => {
    const { token } = graph.sim.mintToken({ type: "SYSTEM_USER" });
    graph.sim.expireToken(token);
    const expired = ok(await client().debugToken(token));
    expect(expired.isValid).toBe(false);
    expect(expired.problem).toMatchObject({ kind: "token_expired", code: 190, subcode: 463, reconnect: true });

    const unknown = ok(await client().debugToken("EAAInotatoken"));
    expect(unknown).toMatchObject({ isValid: false, appId: null, type: null });
    expect(unknown.problem).toMatchObject({ kind: "token_expired", code: 190 });
  });
});

describe("Facebook Login for Business (Pages and linked Instagram accounts)", () => {
  it("code → long-lived user token → Pages with tokens and Instagram → page subscription → revocation", async () => {
    const graphApi = client();
    const { code } = graph.sim.createCode({ kind: "facebook_login", redirectUri: "https://app.test/oauth" });
    const short = ok(await graphApi.exchangeCode(code, "https://app.test/oauth"));
    expect(short.expiresIn).toBeGreaterThan(0);
    const long = ok(await graphApi.longLivedUserToken(short.accessToken));
    expect(long.expiresIn).toBe(5_183_944);
    expect(long.accessToken).not.toBe(short.accessToken);

    const debug = ok(await graphApi.debugToken(long.accessToken));
    expect(debug).toMatchObject({ isValid: true, type: "USER", userId: "500000000000001" });
    expect(debug.expiresAt).toBeGreaterThan(graph.sim.now());
    expect(debug.granularScopes).toContainEqual({ scope: "pages_messaging", targetIds: [PAGE, "300000000000002"] });

    const pages = ok(await graphApi.listPages(long.accessToken));
    expect(pages.map((p) => [p.id, p.name, p.instagram])).toEqual([
      [PAGE, "Demo Shop", { id: IG, username: "demoshop" }],
      ["300000000000002", "Demo Shop Outlet", null],
    ]);
    const page = pages[0]!;
    const pageDebug = ok(await graphApi.debugToken(page.accessToken));
    expect(pageDebug).toMatchObject({ type: "PAGE", expiresAt: null, isValid: true });

    ok(await graphApi.subscribePage(page.accessToken, PAGE, ["messages", "messaging_postbacks", "message_echoes"]));
    expect(graph.sim.snapshot().subscriptions.pages).toEqual([
      expect.objectContaining({ pageId: PAGE, fields: ["messages", "messaging_postbacks", "message_echoes"] }),
    ]);

    // A Page token is not a user token, and the user token is not a Page token.
    expect(failed(await graphApi.subscribePage(long.accessToken, PAGE, ["messages"]))).toMatchObject({ kind: "permission", code: 210 });
    expect(failed(await graphApi.revokePermissions(page.accessToken)).kind).toBe("invalid_request");

    ok(await graphApi.revokePermissions(long.accessToken));
    const revoked = failed(await graphApi.subscribePage(page.accessToken, PAGE, ["messages"]));
    expect(revoked).toMatchObject({ kind: "token_expired", code: 190, subcode: 458, reconnect: true, retryable: false });
    expect(revoked.userMessage).toMatch(/access to this account was removed.*Reconnect this channel/);
    expect(graph.sim.snapshot().revocations).toEqual([expect.objectContaining({ userId: "500000000000001", subcode: 458, source: "api" })]);
  });

  it("pages through /me/accounts with the cursor, never with Meta's next link", async () => {
    for (let i = 0; i < 130; i++) {
      const id = String(310_000_000_000_000 + i);
      graph.sim.state.pages.set(id, { id, name: `Page ${i}`, category: "Shop", instagramAccountId: null });
    }
    const { token } = graph.sim.mintToken({ type: "USER" });
    const pages = ok(await client().listPages(token));
    expect(pages).toHaveLength(132);
    expect(new Set(pages.map((p) => p.id)).size).toBe(132);
    const calls = graph.requests.filter((r) => r.url.includes("/me/accounts"));
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(call.url).not.toContain(token);
  });

  it("rejects invalid webhook fields and ids before calling Meta", async () => {
    const { token } = graph.sim.mintToken({ type: "PAGE" });
    expect(failed(await client().subscribePage(token, PAGE, ["messages&x=1"]))).toMatchObject({ kind: "invalid_request", status: 0 });
    expect(failed(await client().subscribePage(token, PAGE, []))).toMatchObject({ kind: "invalid_request", status: 0 });
    expect(failed(await client().getWaba(token, "../me/permissions"))).toMatchObject({ kind: "invalid_request", status: 0 });
    expect(failed(await client().registerPhoneNumber(token, PHONE, "12ab"))).toMatchObject({ kind: "invalid_request", status: 0 });
    expect(graph.requests).toHaveLength(0);
    // Meta's own check of field names.
    const unknownField = failed(await client().subscribePage(token, PAGE, ["nonsense"]));
    expect(unknownField).toMatchObject({ kind: "invalid_request", code: 100 });
  });
});

describe("Instagram Login", () => {
  it("code → short-lived → long-lived → refresh → /me → subscription", async () => {
    const graphApi = client();
    const { code } = graph.sim.createCode({ kind: "instagram_login", redirectUri: "https://app.test/ig" });
    const login = ok(await graphApi.exchangeInstagramCode(code, "https://app.test/ig"));
    expect(login.accessToken).toMatch(/^IGAA/);
    expect(login.permissions).toEqual(["instagram_business_basic", "instagram_business_manage_messages"]);

    const long = ok(await graphApi.instagramLongLived(login.accessToken));
    expect(long.expiresIn).toBe(5_183_944);
    const refreshed = ok(await graphApi.refreshInstagramToken(long.accessToken));
    expect(refreshed.expiresIn).toBe(5_183_944);

    const me = ok(await graphApi.instagramMe(refreshed.accessToken));
    expect(me).toEqual({ id: login.userId, userId: IG, username: "demoshop", name: "Demo Shop Instagram" });
    ok(await graphApi.subscribeInstagram(refreshed.accessToken, ["messages", "messaging_postbacks"]));
    expect(graph.sim.snapshot().subscriptions.instagram).toEqual([
      expect.objectContaining({ instagramAccountId: IG, fields: ["messages", "messaging_postbacks"], appId: "610000000000001" }),
    ]);
    // Instagram Login tokens are not Facebook tokens.
    expect(failed(await graphApi.getWaba(refreshed.accessToken, WABA))).toMatchObject({ kind: "token_expired", code: 190 });
  });

  it("translates api.instagram.com's own error shape", async () => {
    const { code } = graph.sim.createCode({ kind: "instagram_login" });
    const badSecret = failed(await client({ INSTAGRAM_APP_SECRET: "wrong-ig-secret" }).exchangeInstagramCode(code, "https://app.test/ig"));
    expect(badSecret).toMatchObject({ kind: "wrong_app", status: 400 });
    expectNoSecret(badSecret, ["wrong-ig-secret"]);
    const badApp = failed(await client({ INSTAGRAM_APP_ID: "619999999999999" }).exchangeInstagramCode(code, "https://app.test/ig"));
    expect(badApp.kind).toBe("wrong_app");

    ok(await client().exchangeInstagramCode(code, "https://app.test/ig"));
    const reused = failed(await client().exchangeInstagramCode(code, "https://app.test/ig"));
    expect(reused).toMatchObject({ kind: "invalid_request", retryable: false });
    expect(reused.userMessage).toMatch(/Start connecting again/);

    const unconfigured = failed(await client({ INSTAGRAM_APP_ID: undefined }).instagramMe("IGAAx"));
    expect(unconfigured).toMatchObject({ kind: "wrong_app", status: 0 });
    expect(graph.requests.filter((r) => r.url.includes("/me"))).toHaveLength(0);
  });
});

describe("error kinds (SPEC §5.5)", () => {
  it("token_expired: expired (463) and revoked (458, 460) tokens ask to reconnect", async () => {
    const token = await embeddedSignupToken();
    graph.sim.expireToken(token);
    const expired = failed(await client().getWaba(token, WABA));
    expect(expired).toMatchObject({ kind: "token_expired", code: 190, subcode: 463, reconnect: true, retryable: false, status: 400 });
    expect(expired.userMessage).toBe("Meta says the access token has expired. Reconnect this channel to keep receiving and sending messages.");
    expectNoSecret(expired);

    const other = await embeddedSignupToken();
    graph.sim.revokeToken(other, 460);
    const password = failed(await client().subscribeApp(other, WABA));
    expect(password).toMatchObject({ kind: "token_expired", subcode: 460, reconnect: true });
    expect(password.userMessage).toMatch(/password/);

    const unknown = failed(await client().getWaba("EAAIunknown", WABA));
    expect(unknown).toMatchObject({ kind: "token_expired", code: 190, subcode: null, reconnect: true });
  });

  it("permission: missing scopes (200, 10) ask to reconnect with every permission", async () => {
    const { token } = graph.sim.mintToken({ type: "SYSTEM_USER", scopes: ["whatsapp_business_messaging"] });
    const missing = failed(await client().getWaba(token, WABA));
    expect(missing).toMatchObject({ kind: "permission", code: 200, reconnect: true, retryable: false, status: 403 });
    expect(missing.userMessage).toMatch(/missing a permission.*Reconnect/);

    const user = graph.sim.mintToken({ type: "USER", scopes: ["pages_messaging"] }).token;
    expect(failed(await client().listPages(user))).toMatchObject({ kind: "permission", code: 10 });

    graph.sim.addFault({ pathPattern: "/register$", code: 368 });
    const blocked = failed(await client().registerPhoneNumber(await embeddedSignupToken(), PHONE, "123456"));
    expect(blocked).toMatchObject({ kind: "permission", code: 368, reconnect: false });
  });

  it("rate_limited: 4 and 80007 are retryable and carry Meta's time to regain access", async () => {
    const token = await embeddedSignupToken();
    graph.sim.addFault({ method: "POST", pathPattern: "subscribed_apps$", code: 80007, times: 2 });
    for (let i = 0; i < 2; i++) {
      const limited = failed(await client().subscribeApp(token, WABA));
      expect(limited).toMatchObject({ kind: "rate_limited", code: 80007, retryable: true, reconnect: false, retryAfterSeconds: 300 });
      expect(limited.userMessage).toMatch(/in about 5 minutes/);
    }
    ok(await client().subscribeApp(token, WABA));
    const response = graph.requests.find((r) => r.status === 400 && r.url.includes("subscribed_apps"));
    expect(response).toBeDefined();

    graph.sim.addFault({ pathPattern: "/me/accounts", code: 4 });
    const app = failed(await client().listPages(graph.sim.mintToken({ type: "USER" }).token));
    expect(app).toMatchObject({ kind: "rate_limited", code: 4, retryable: true });
  });

  it("rate-limit answers carry Meta's usage headers", async () => {
    graph.sim.addFault({ pathPattern: "/100000000000001$", code: 80007 });
    const response = await fetch(`${graph.env.GRAPH_API_BASE}/${WABA}`);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.headers.get("x-app-usage")!)).toMatchObject({ call_count: 100 });
    const buc = JSON.parse(response.headers.get("x-business-use-case-usage")!) as Record<string, { estimated_time_to_regain_access: number }[]>;
    expect(Object.values(buc)[0]?.[0]?.estimated_time_to_regain_access).toBe(5);
    expect(await response.json()).toMatchObject({ error: { code: 80007, type: "OAuthException" } });
  });

  it("unavailable: codes 1/2, HTTP 5xx without a body and network failures are retryable", async () => {
    const token = await embeddedSignupToken();
    graph.sim.addFault({ pathPattern: "/200000000000001$", code: 2 });
    expect(failed(await client().getPhoneNumber(token, PHONE))).toMatchObject({ kind: "unavailable", code: 2, status: 503, retryable: true, reconnect: false });
    graph.sim.addFault({ pathPattern: "/200000000000001$", code: 131000 });
    expect(failed(await client().getPhoneNumber(token, PHONE))).toMatchObject({ kind: "unavailable", code: 131000, retryable: true });

    const html = graphClient(graph.env, async () => new Response("<html>Bad gateway</html>", { status: 502 }));
    expect(failed(await html.getWaba(token, WABA))).toMatchObject({ kind: "unavailable", status: 502, retryable: true });

    const offline = graphClient(graph.env, async () => {
      throw new TypeError("Network connection lost.");
    });
    const down = failed(await offline.getWaba(token, WABA));
    expect(down).toMatchObject({ kind: "unavailable", status: 0, retryable: true, reconnect: false });
    expectNoSecret(down);
  });

  it("invalid_request: unknown objects (100/33) and a wrong PIN (133005)", async () => {
    const token = await embeddedSignupToken();
    const unknown = failed(await client().getPhoneNumber(token, "200000000000099"));
    expect(unknown).toMatchObject({ kind: "invalid_request", code: 100, subcode: 33, reconnect: false, retryable: false });
    ok(await client().registerPhoneNumber(token, PHONE, "123456"));
    const pin = failed(await client().registerPhoneNumber(token, PHONE, "654321"));
    expect(pin).toMatchObject({ kind: "invalid_request", code: 133005 });
    expect(pin.userMessage).toMatch(/PIN/);
    expectNoSecret(pin, ["654321", "123456"]);
  });

  it("unknown: an answer Meta would not send, and codes we do not know", async () => {
    const token = await embeddedSignupToken();
    const odd = graphClient(graph.env, async () => Response.json({ id: 5 }));
    const shape = failed(await odd.getWaba(token, WABA));
    expect(shape).toMatchObject({ kind: "unknown", status: 200, retryable: false, reconnect: false });
    expect(shape.message).toMatch(/name/);
    const notJson = graphClient(graph.env, async () => new Response("ok"));
    expect(failed(await notJson.subscribeApp(token, WABA)).kind).toBe("unknown");
    const falseSuccess = graphClient(graph.env, async () => Response.json({ success: false }));
    expect(failed(await falseSuccess.subscribeApp(token, WABA)).kind).toBe("unknown");

    graph.sim.addFault({ pathPattern: ".", code: 12345, status: 400, message: `(#12345) Something odd with ${token}` });
    const strange = failed(await client().getWaba(token, WABA));
    expect(strange).toMatchObject({ kind: "unknown", code: 12345, retryable: false });
    // Meta's message passes through, minus the token.
    expect(strange.message).toBe("(#12345) Something odd with [redacted]");
  });
});

describe("secrets on the wire", () => {
  it("tokens travel only in Authorization with appsecret_proof; URLs hold secrets only where Meta defines them", async () => {
    const graphApi = client();
    // Every flow once, successes and failures.
    const es = await embeddedSignupToken();
    await graphApi.debugToken(es);
    await graphApi.getWaba(es, WABA);
    await graphApi.getPhoneNumber(es, PHONE);
    await graphApi.subscribeApp(es, WABA);
    await graphApi.registerPhoneNumber(es, PHONE, "123456");
    const fb = graph.sim.createCode({ kind: "facebook_login" });
    const short = ok(await graphApi.exchangeCode(fb.code));
    const long = ok(await graphApi.longLivedUserToken(short.accessToken));
    const [page] = ok(await graphApi.listPages(long.accessToken));
    await graphApi.subscribePage(page!.accessToken, page!.id, ["messages"]);
    const ig = graph.sim.createCode({ kind: "instagram_login" });
    const login = ok(await graphApi.exchangeInstagramCode(ig.code, "https://app.test/ig"));
    const igLong = ok(await graphApi.instagramLongLived(login.accessToken));
    await graphApi.refreshInstagramToken(igLong.accessToken);
    await graphApi.instagramMe(igLong.accessToken);
    await graphApi.subscribeInstagram(igLong.accessToken, ["messages"]);
    graph.sim.expireToken(es);
    await graphApi.getWaba(es, WABA);
    await graphApi.revokePermissions(long.accessToken);

    expect(graph.requests.length).toBeGreaterThan(15);
    const tokens = [...graph.sim.state.tokens.keys()];
    const secrets: Record<string, string> = {
      [graph.env.META_APP_SECRET]: "app secret",
      [graph.env.INSTAGRAM_APP_SECRET]: "instagram app secret",
      ...Object.fromEntries(tokens.map((t) => [t, "token"])),
    };
    // Query parameters Meta defines for secrets: the code exchanges and the debugged token.
    const allowed = new Set(["client_secret", "fb_exchange_token", "input_token"]);
    for (const request of graph.requests) {
      const url = new URL(request.url);
      for (const [param, value] of url.searchParams) {
        if (secrets[value]) expect(allowed.has(param), `${secrets[value]} in ?${param} of ${url.pathname}`).toBe(true);
      }
      const igCodeExchange = url.pathname.startsWith("/api.instagram.com/");
      for (const secret of Object.keys(secrets)) {
        expect(url.pathname).not.toContain(secret);
        if (!(igCodeExchange && secret === graph.env.INSTAGRAM_APP_SECRET)) expect(request.body).not.toContain(secret);
      }
      const codeExchange = url.pathname.endsWith("/oauth/access_token");
      const authorization = request.headers.authorization;
      if (codeExchange) {
        expect(authorization).toBeUndefined();
        continue;
      }
      expect(authorization, `${request.method} ${url.pathname}`).toMatch(/^Bearer \S+$/);
      const bearer = authorization!.slice("Bearer ".length);
      const secret = url.pathname.startsWith("/graph.instagram.com/") ? graph.env.INSTAGRAM_APP_SECRET : graph.env.META_APP_SECRET;
      expect(url.searchParams.get("appsecret_proof"), `${request.method} ${url.pathname}`).toBe(await hmacHex(secret, bearer));
    }
    // The Instagram code exchange sends its secret in the form body, never in the URL.
    const igExchange = graph.requests.find((r) => r.url.includes("/api.instagram.com/oauth/access_token"))!;
    expect(new URLSearchParams(igExchange.body).get("client_secret")).toBe(graph.env.INSTAGRAM_APP_SECRET);
    expect(igExchange.url).not.toContain(graph.env.INSTAGRAM_APP_SECRET);
  });

  it("the simulator enforces appsecret_proof like Meta with Require App Secret on", async () => {
    const token = await embeddedSignupToken();
    const bare = await fetch(`${graph.env.GRAPH_API_BASE}/${WABA}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await bare.json()).toMatchObject({ error: { code: 100, message: "API calls from the server require an appsecret_proof argument" } });
    const wrong = await fetch(`${graph.env.GRAPH_API_BASE}/${WABA}?appsecret_proof=${"0".repeat(64)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await wrong.json()).toMatchObject({ error: { code: 100, message: "Invalid appsecret_proof provided in the API argument" } });
  });
});

describe("simulator control API over HTTP", () => {
  const control = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    fetch(`http://graph.simulator/__simulator${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it("creates codes and tokens, injects faults, expires and revokes, shows and resets state", async () => {
    const created = await control("/codes", { kind: "facebook_login", pages: [PAGE] });
    expect(created.status).toBe(201);
    const { code, pages } = (await created.json()) as { code: string; pages: string[] };
    expect(pages).toEqual([PAGE]);
    const user = ok(await client().exchangeCode(code));
    expect(ok(await client().listPages(user.accessToken)).map((p) => p.id)).toEqual([PAGE]);

    expect((await control("/codes", { kind: "whatsapp_embedded_signup", wabaId: "100000000000009" })).status).toBe(400);
    expect((await control("/codes", { kind: "nope" })).status).toBe(400);

    const minted = (await (await control("/tokens", { type: "SYSTEM_USER", expiresIn: 3600 })).json()) as { token: string; expiresAt: number };
    expect(minted.expiresAt).toBe(graph.sim.now() + 3600);
    expect((await control(`/tokens/${minted.token}/expire`, {})).status).toBe(200);
    expect(failed(await client().getWaba(minted.token, WABA)).subcode).toBe(463);

    const other = (await (await control("/tokens", {})).json()) as { token: string };
    expect((await control(`/tokens/${other.token}/revoke`, { subcode: 460 })).status).toBe(200);
    expect(failed(await client().getWaba(other.token, WABA)).subcode).toBe(460);
    expect((await control("/tokens/nope/revoke", {})).status).toBe(404);

    expect((await control("/faults", { pathPattern: "(", code: 1 })).status).toBe(400);
    expect((await control("/faults", { method: "get", pathPattern: "/v25\\.0/100000000000001$", code: 17, times: 1 })).status).toBe(201);
    const fresh = graph.sim.mintToken().token;
    expect(failed(await client().getWaba(fresh, WABA))).toMatchObject({ kind: "rate_limited", code: 17 });
    ok(await client().getWaba(fresh, WABA));

    const state = (await (await control("/state")).json()) as { revocations: unknown[]; tokens: { valid: boolean }[] };
    expect(state.revocations).toHaveLength(1);
    expect(state.tokens.filter((t) => !t.valid).length).toBeGreaterThanOrEqual(2);

    expect((await control("/reset", {})).status).toBe(200);
    const after = (await (await control("/state")).json()) as { tokens: unknown[]; revocations: unknown[] };
    expect(after).toMatchObject({ tokens: [], revocations: [] });
    expect(failed(await client().getWaba(fresh, WABA)).kind).toBe("token_expired");
  });
});
