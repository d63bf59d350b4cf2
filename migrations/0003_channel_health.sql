ALTER TABLE `channels` ADD `meta_user_id` text;--> statement-breakpoint
ALTER TABLE `channels` ADD `token_expires_at` integer;--> statement-breakpoint
ALTER TABLE `channels` ADD `health_checked_at` integer;--> statement-breakpoint
ALTER TABLE `channels` ADD `health_problem` text;--> statement-breakpoint
ALTER TABLE `channels` ADD `connected_at` integer;--> statement-breakpoint
ALTER TABLE `channels` ADD `disconnected_at` integer;