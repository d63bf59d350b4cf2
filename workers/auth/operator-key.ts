/**
 * @module
 * The operator API key (for cross-tenant operations such as the webhook quarantine). Only its
 * SHA-256 is configured (`OPERATOR_KEY_SHA256`), so the key itself is stored nowhere at rest.
 */
import { createMiddleware } from "hono/factory";
import { sha256Hex } from "../hash.ts";
import { errorResponse } from "../http-error.ts";
import { timingSafeEqualString } from "../webhook-signature.ts";

export const operatorKey = () =>
  createMiddleware<{ Bindings: Cloudflare.Env }>(async (c, next) => {
    const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    const expected = c.env.OPERATOR_KEY_SHA256?.toLowerCase();
    if (!presented || !expected || !(await timingSafeEqualString(await sha256Hex(presented), expected))) {
      c.header("WWW-Authenticate", 'Bearer realm="wechatting-operator"');
      return errorResponse(c, 401, "unauthorized", "A valid operator key is required (Authorization: Bearer <key>)");
    }
    await next();
  });
