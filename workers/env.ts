/**
 * @module
 * Bindings come from `wrangler types` (worker-configuration.d.ts); secrets are declared here because
 * they are never in wrangler.toml.
 */
declare global {
  namespace Cloudflare {
    interface Env {
      /** Meta app secret: verifies X-Hub-Signature-256 and signed_request callbacks. */
      META_APP_SECRET: string;
      /** The previous app secret, accepted as well while a rotation is under way (optional). */
      META_APP_SECRET_PREVIOUS?: string;
      /** Token Meta echoes in the GET verification handshake. */
      META_VERIFY_TOKEN: string;
      /** Bearer token for the read API until accounts exist. */
      API_TOKEN: string;
    }
  }
}

export type Env = Cloudflare.Env;
