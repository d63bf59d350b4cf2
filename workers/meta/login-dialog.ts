/**
 * @module
 * The address of Meta's login dialog for each way of connecting a channel (SPEC §7.2, §7.3). The
 * inbox opens it in a pop-up; Meta sends the browser back to our `/oauth/callback` with `code` and
 * `state` (or `error`), and that page hands them to the inbox, which finishes the connection here.
 *
 * WhatsApp Embedded Signup uses the same Facebook Login for Business dialog, with the Embedded Signup
 * configuration and `extras`, rather than Meta's JavaScript SDK: the SDK would be a third-party script
 * in the inbox (which loads nothing from elsewhere), and what its `message` event reports (the WABA
 * and phone number) the business token's granular scopes tell the backend anyway.
 */

export const LOGIN_KINDS = ["whatsapp", "messenger", "instagram"] as const;
export type LoginKind = (typeof LOGIN_KINDS)[number];

export type DialogEnv = {
  META_APP_ID: string;
  INSTAGRAM_APP_ID?: string;
  /** e.g. `https://www.facebook.com/v25.0` (locally the Meta simulator). */
  FACEBOOK_DIALOG_BASE: string;
  /** e.g. `https://www.instagram.com` (locally the Meta simulator). */
  INSTAGRAM_AUTHORIZE_BASE: string;
  /** The Embedded Signup configuration (App Dashboard → Facebook Login for Business → Configurations). */
  WA_EMBEDDED_SIGNUP_CONFIG_ID?: string;
  /** A Facebook Login for Business configuration for Pages; without one the dialog asks for SCOPES.messenger. */
  FACEBOOK_LOGIN_CONFIG_ID?: string;
};

/** What each login asks for when no configuration decides it. */
export const SCOPES: Record<Exclude<LoginKind, "whatsapp">, readonly string[]> = {
  messenger: ["pages_show_list", "pages_messaging", "pages_manage_metadata", "business_management", "instagram_basic", "instagram_manage_messages"],
  instagram: ["instagram_business_basic", "instagram_business_manage_messages"],
};

/** Embedded Signup v4 (SPEC §7.2: v2 is deprecated): the customer sets up a WABA and a number. */
const EMBEDDED_SIGNUP_EXTRAS = JSON.stringify({ setup: {}, featureType: "", sessionInfoVersion: "3", version: "v4" });

export type DialogAddress = { ok: true; url: string } | { ok: false; missing: string };

export function loginDialogUrl(env: DialogEnv, kind: LoginKind, login: { state: string; redirectUri: string }): DialogAddress {
  const common = { redirect_uri: login.redirectUri, state: login.state, response_type: "code" };
  if (kind === "instagram") {
    if (!env.INSTAGRAM_APP_ID) return { ok: false, missing: "INSTAGRAM_APP_ID" };
    return { ok: true, url: address(`${env.INSTAGRAM_AUTHORIZE_BASE}/oauth/authorize`, { client_id: env.INSTAGRAM_APP_ID, ...common, scope: SCOPES.instagram.join(",") }) };
  }
  const dialog = `${env.FACEBOOK_DIALOG_BASE}/dialog/oauth`;
  if (kind === "whatsapp") {
    if (!env.WA_EMBEDDED_SIGNUP_CONFIG_ID) return { ok: false, missing: "WA_EMBEDDED_SIGNUP_CONFIG_ID" };
    return {
      ok: true,
      url: address(dialog, {
        client_id: env.META_APP_ID,
        ...common,
        config_id: env.WA_EMBEDDED_SIGNUP_CONFIG_ID,
        override_default_response_type: "true",
        extras: EMBEDDED_SIGNUP_EXTRAS,
      }),
    };
  }
  const asked: Record<string, string> = env.FACEBOOK_LOGIN_CONFIG_ID ? { config_id: env.FACEBOOK_LOGIN_CONFIG_ID, override_default_response_type: "true" } : { scope: SCOPES.messenger.join(",") };
  return { ok: true, url: address(dialog, { client_id: env.META_APP_ID, ...common, ...asked }) };
}

function address(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
