import { app } from "./app.ts";
import { audit } from "./audit.ts";
// Only handlers and Durable Object classes may be exported here: workerd refuses anything else.
import { CHANNEL_HEALTH_CRON, checkChannelHealth } from "./channels/health.ts";
import { RETENTION_CRON, runRetention } from "./privacy/retention.ts";

export { Conversation } from "../durable-objects/conversation.ts";
export { Inbox } from "../durable-objects/inbox.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    if (controller.cron === CHANNEL_HEALTH_CRON) {
      const report = await checkChannelHealth(env, controller.scheduledTime);
      await audit(env.DB, { action: "cron.channel_health", detail: report });
    }
    // runRetention audits its own counts (and a skipped overlapping run writes nothing).
    if (controller.cron === RETENTION_CRON) await runRetention(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Cloudflare.Env>;
