/**
 * @module
 * Bindings come from `wrangler types` (worker-configuration.d.ts); secrets are declared here because
 * they are never in wrangler.toml.
 */
declare global {
  namespace Cloudflare {
    interface Env {
      /** The Meta app's id (App Dashboard → Settings → Basic). */
      META_APP_ID: string;
      /** Instagram API with Instagram Login has its own app id and secret (optional: only for that flow). */
      INSTAGRAM_APP_ID?: string;
      INSTAGRAM_APP_SECRET?: string;
      /** The Embedded Signup configuration id (App Dashboard → Facebook Login for Business); without it WhatsApp connects manually only. */
      WA_EMBEDDED_SIGNUP_CONFIG_ID?: string;
      /** A Facebook Login for Business configuration for Pages (optional: otherwise the dialog asks for the scopes itself). */
      FACEBOOK_LOGIN_CONFIG_ID?: string;
      /** Meta app secret: verifies X-Hub-Signature-256 and signed_request callbacks. */
      META_APP_SECRET: string;
      /** The previous app secret, accepted as well while a rotation is under way (optional). */
      META_APP_SECRET_PREVIOUS?: string;
      /** Token Meta echoes in the GET verification handshake. */
      META_VERIFY_TOKEN: string;
      /** SHA-256 (hex) of the operator API key: the key itself is never configured or stored. */
      OPERATOR_KEY_SHA256: string;
      /** Keys signed links, CSRF tokens and client-address hashes (HMAC-SHA256). */
      SESSION_SECRET: string;
      /** Mixed into every password hash; never stored with the hashes. */
      PASSWORD_PEPPER: string;
      /**
       * Vault master keys, JSON `{ "<id>": "<base64 of 32 random bytes>", … }` (ids `[a-z0-9-]{1,32}`):
       * each unwraps the workspace data keys it wrapped; several are configured during a rotation.
       */
      VAULT_MASTER_KEYS: string;
      /** Id of the master key in VAULT_MASTER_KEYS that wraps new and re-wrapped workspace data keys. */
      VAULT_ACTIVE_KEY_ID: string;
      /** "dev": mail lands in the local dev mailbox; "http": sent through MAIL_API_URL. */
      MAIL_MODE: "dev" | "http";
      MAIL_FROM?: string;
      MAIL_API_URL?: string;
      MAIL_API_KEY?: string;
    }
  }
}

export type Env = Cloudflare.Env;
