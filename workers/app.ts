/**
 * @module
 * The Worker's routes: Meta webhooks, the JSON API and (locally) the dev mailbox. Static inbox
 * assets are served by the platform for every other path (wrangler.toml `[assets]`).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requireSession } from "./auth/middleware.ts";
import { errorResponse } from "./http-error.ts";
import { requestOrigin } from "./request-origin.ts";
import { auth } from "./routes/auth.ts";
import { channelRoutes } from "./routes/channels.ts";
import { contactRoutes } from "./routes/contacts.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { liveRoutes } from "./routes/live.ts";
import { sendingRoutes } from "./routes/sending.ts";
import { devMailbox } from "./routes/dev-mailbox.ts";
import { operatorRoutes } from "./routes/operator.ts";
import { privacyRoutes, publicPrivacyRoutes, workspacePrivacyRoutes } from "./routes/privacy.ts";
import { privacyPages } from "./routes/privacy-pages.ts";
import { quarantineRoutes } from "./routes/quarantine.ts";
import { metaCallbacks } from "./routes/meta-callbacks.ts";
import { webhooks } from "./routes/webhooks.ts";
import { workspaceRoutes } from "./routes/workspaces.ts";
import { securityHeaders } from "./security-headers.ts";
import { validationHook } from "./validation.ts";

const api = new OpenAPIHono<{ Bindings: Cloudflare.Env }>({ defaultHook: validationHook });
// Another site may never change anything, with or without our cookie.
api.use("*", requestOrigin());
for (const path of ["/workspaces", "/workspaces/*", "/invitations/*"]) api.use(path, requireSession());
api.route("/", auth);
api.route("/", privacyRoutes);
api.route("/", publicPrivacyRoutes);
api.route("/", workspaceRoutes);
// Before the conversation routes: it hides restricted contacts' conversations from agents.
api.route("/", workspacePrivacyRoutes);
api.route("/", conversationRoutes);
api.route("/", liveRoutes);
api.route("/", sendingRoutes);
api.route("/", contactRoutes);
api.route("/", channelRoutes);
api.route("/", quarantineRoutes);
api.route("/", operatorRoutes);
api.openAPIRegistry.registerComponent("securitySchemes", "operatorKey", { type: "http", scheme: "bearer" });
api.openAPIRegistry.registerComponent("securitySchemes", "session", { type: "apiKey", in: "cookie", name: "__Host-wc_session" });
api.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "WeChatting API",
    version: "0.2.0",
    description:
      "Unified inbox for WhatsApp Business, Instagram and Messenger. Routes are reached with the session cookie " +
      "set at sign-in; state-changing requests also need the session's X-CSRF-Token.",
  },
  security: [{ session: [] }],
});

export const app = new Hono<{ Bindings: Cloudflare.Env }>()
  .use("*", securityHeaders())
  .route("/webhooks/meta", metaCallbacks)
  .route("/webhooks", webhooks)
  .route("/api", api)
  .route("/privacy", privacyPages)
  .route("/dev/mailbox", devMailbox)
  .notFound((c) => errorResponse(c, 404, "not_found", `No route for ${c.req.method} ${c.req.path}`))
  .onError((error, c) => {
    // Hono's own refusals (a body that is not JSON: 400, another media type: 415) are the client's.
    if (error instanceof HTTPException && error.status < 500) {
      return errorResponse(c, error.status, "invalid_request", error.message || "The request body could not be read");
    }
    console.error(error);
    return errorResponse(c, 500, "internal_error", "Something went wrong on our side");
  });

export type App = typeof app;
