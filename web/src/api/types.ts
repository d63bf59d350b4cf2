/**
 * @module
 * Names for the API's shapes the app passes around, all taken from the generated types.
 */
import type { Paths } from "./client.ts";
import type { components } from "./openapi.gen.ts";

type Schemas = components["schemas"];
export type ConversationSummary = Schemas["ConversationSummary"];
export type ConversationStatus = Schemas["ConversationStatus"];
export type SendWindow = Schemas["SendWindow"];
/** openapi-typescript renders the nullable MetaError reference as an intersection; this is what the API sends. */
export type Message = Omit<Schemas["Message"], "error"> & { error: Schemas["MetaError"] | null };
export type MetaError = Schemas["MetaError"];
export type Note = Schemas["Note"];
export type Channel = Schemas["Channel"];
export type Member = Schemas["Member"];
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type SendBody = Paths["/workspaces/{workspaceId}/conversations/{id}/messages"]["post"]["requestBody"]["content"]["application/json"];
/** A send as the composer builds it; the idempotency key is added when it is sent. */
export type SendDraft = DistributiveOmit<SendBody, "idempotencyKey">;
export type TemplateSend = Omit<Extract<SendDraft, { kind: "template" }>, "kind">;
export type MediaType = Extract<SendBody, { kind: "media" }>["mediaType"];
export type Consent = Schemas["Consent"];
export type Template = Paths["/workspaces/{workspaceId}/channels/{channelId}/templates"]["get"]["responses"][200]["content"]["application/json"]["templates"][number];
export type ContactProfile = Schemas["ContactProfile"];
