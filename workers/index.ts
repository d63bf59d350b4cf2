import { app } from "./app.ts";
import { audit } from "./audit.ts";
// Only handlers and Durable Object classes may be exported here: workerd refuses anything else.
import { CHANNEL_HEALTH_CRON, checkChannelHealth } from "./channels/health.ts";

export { Conversation } from "../durable-objects/conversation.ts";
export { Inbox } from "../durable-objects/inbox.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    if (controller.cron === CHANNEL_HEALTH_CRON) {
      const report = await checkChannelHealth(env, controller.scheduledTime);
      await audit(env.DB, { action: "cron.channel_health", detail: report });
    }
  },
} satisfies ExportedHandler<Cloudflare.Env>;
