/**
 * @module
 * Operator routes (behind the operator key): cross-tenant maintenance such as the webhook
 * quarantine and the vault's master-key rotation.
 */
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import { errorDoc, jsonBody } from "../api-schemas.ts";
import { audit } from "../audit.ts";
import { operatorKey } from "../auth/operator-key.ts";
import { RewrapReport, RewrapRequest, rewrapWorkspaceKeys } from "../vault/rotate.ts";
import { validationHook } from "../validation.ts";

export const operatorRoutes = new OpenAPIHono<{ Bindings: Cloudflare.Env }>({ defaultHook: validationHook });

operatorRoutes.use("/operator/*", operatorKey());

operatorRoutes.openapi(
  createRoute({
    method: "post",
    path: "/operator/vault/rotate",
    summary: "Re-wrap workspace data keys under the active master key (idempotent, resumable; operator key)",
    security: [{ operatorKey: [] }],
    request: { body: jsonBody(RewrapRequest) },
    responses: {
      200: { description: "Progress of this call", content: { "application/json": { schema: RewrapReport } } },
      400: errorDoc("Invalid request"),
      401: errorDoc("Missing or wrong operator key"),
    },
  }),
  async (c) => {
    const { batchSize, after } = c.req.valid("json");
    const report = await rewrapWorkspaceKeys(c.env, { batchSize, ...(after ? { after } : {}) });
    await audit(c.env.DB, {
      action: "vault.master_key_rotation",
      detail: { rewrapped: report.rewrapped, failed: report.failed.length, remaining: report.remaining },
    });
    return c.json(report, 200);
  },
);
