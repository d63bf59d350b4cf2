/**
 * @module
 * Until accounts exist the API is reached with a bearer token from a secret: it is never open.
 */
import { createMiddleware } from "hono/factory";
import { errorResponse } from "./http-error.ts";
import { timingSafeEqualString } from "./webhook-signature.ts";

export const bearerAuth = () =>
  createMiddleware<{ Bindings: Cloudflare.Env }>(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token || !c.env.API_TOKEN || !(await timingSafeEqualString(token, c.env.API_TOKEN))) {
      c.header("WWW-Authenticate", 'Bearer realm="wechatting"');
      return errorResponse(c, 401, "unauthorized", "A valid bearer token is required (Authorization: Bearer <token>)");
    }
    await next();
  });
