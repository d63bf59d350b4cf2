import { app } from "./app.ts";

export { Conversation } from "../durable-objects/conversation.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Cloudflare.Env>;
