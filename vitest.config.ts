import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")),
          META_APP_SECRET: "test-app-secret",
          META_APP_SECRET_PREVIOUS: "test-app-secret-previous",
          META_VERIFY_TOKEN: "test-verify-token",
          // sha256("test-operator-key")
          OPERATOR_KEY_SHA256: "0ff86987c8ca08303de41f67acd9dda633b6ac174e05534d0d365f8299ae30fc",
          SESSION_SECRET: "test-session-secret-0123456789abcdef",
          PASSWORD_PEPPER: "test-password-pepper",
          // Two vault master keys, as during a rotation: k2026 wraps, k2025 still unwraps.
          VAULT_MASTER_KEYS: JSON.stringify({
            k2025: "Aeo4/dmi6qjb0i0LPFJCdZQhZtYqjdYoNkjWkUPGyWs=",
            k2026: "AO/yhhxA+8pLpKEuOe1vFxpisEwKvNqZOJqtXbob3bE=",
          }),
          VAULT_ACTIVE_KEY_ID: "k2026",
          MAIL_MODE: "dev",
          // The Graph API is the Meta simulator (test/graph-simulator.ts routes these to it).
          GRAPH_API_BASE: "http://graph.simulator/graph.facebook.com/v25.0",
          INSTAGRAM_GRAPH_BASE: "http://graph.simulator/graph.instagram.com/v25.0",
          INSTAGRAM_API_BASE: "http://graph.simulator/api.instagram.com",
          FACEBOOK_DIALOG_BASE: "http://graph.simulator/www.facebook.com/v25.0",
          INSTAGRAM_AUTHORIZE_BASE: "http://graph.simulator/www.instagram.com",
          META_MEDIA_BASE: "http://graph.simulator",
          WA_EMBEDDED_SIGNUP_CONFIG_ID: "700000000000001",
          META_APP_ID: "600000000000001",
          INSTAGRAM_APP_ID: "610000000000001",
          INSTAGRAM_APP_SECRET: "test-instagram-app-secret",
          WEBHOOK_MAX_BYTES: "65536",
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    teardownTimeout: 60_000,
    // Every file shares one workerd thread where each password hash takes ~0.25 s: a busy machine
    // stretches a test of a dozen sign-ins well past Vitest's default 5 s.
    testTimeout: 20_000,
  },
}));
