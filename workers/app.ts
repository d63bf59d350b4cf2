/**
 * @module
 * The Worker's routes: Meta webhooks and the JSON API. Static inbox assets are served by the
 * platform for every other path (wrangler.toml `[assets]`).
 */
import { Hono } from "hono";
import { errorResponse } from "./http-error.ts";
import { api } from "./routes/api.ts";
import { webhooks } from "./routes/webhooks.ts";

export const app = new Hono<{ Bindings: Cloudflare.Env }>()
  .route("/webhooks", webhooks)
  .route("/api", api)
  .notFound((c) => errorResponse(c, 404, "not_found", `No route for ${c.req.method} ${c.req.path}`))
  .onError((error, c) => {
    console.error(error);
    return errorResponse(c, 500, "internal_error", "Something went wrong on our side");
  });

export type App = typeof app;
