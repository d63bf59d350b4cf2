/**
 * @module
 * How every route answers a request its zod schema refuses: 400 with the first problem, naming the
 * field (`email: Enter a valid email address`).
 */
import type { Hook } from "@hono/zod-openapi";
import { errorResponse } from "./http-error.ts";

export const validationHook: Hook<unknown, any, any, unknown> = (result, c) => {
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join(".") || result.target;
    return errorResponse(c, 400, "invalid_request", `${where}: ${issue?.message ?? "invalid"}`);
  }
};
