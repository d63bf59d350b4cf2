/**
 * @module
 * Operator routes (behind the operator key): cross-tenant maintenance such as the webhook
 * quarantine and the vault's master-key rotation.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { errorDoc, jsonBody } from "../api-schemas.ts";
import { audit } from "../audit.ts";
import { operatorKey } from "../auth/operator-key.ts";
import { deletionStatusPath, processMetaDeletionNow, recordMetaDeletion } from "../privacy/meta-deletion.ts";
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

operatorRoutes.openapi(
  createRoute({
    method: "post",
    path: "/operator/deletion-requests",
    summary: "Enter a data-deletion request received by email (same pipeline, code and status page as Meta's callback)",
    security: [{ operatorKey: [] }],
    request: {
      body: jsonBody(
        z.object({
          metaUserId: z.string().trim().regex(/^\d{1,32}$/, "The person's Meta id (app-scoped, PSID or IGSID): digits only").openapi({ description: "The id the person gave us or Meta listed" }),
        }),
      ),
    },
    responses: {
      201: { description: "Recorded; give the person the url and code", content: { "application/json": { schema: z.object({ url: z.string(), confirmation_code: z.string() }) } } },
      400: errorDoc("Invalid request"),
      401: errorDoc("Missing or wrong operator key"),
    },
  }),
  async (c) => {
    const request = await recordMetaDeletion(c.env, { metaUserId: c.req.valid("json").metaUserId, source: "operator", dedupeKey: null });
    c.executionCtx.waitUntil(processMetaDeletionNow(c.env, request.id));
    const code = request.confirmationCode!;
    return c.json({ url: `${new URL(c.req.url).origin}${deletionStatusPath(code)}`, confirmation_code: code }, 201);
  },
);
