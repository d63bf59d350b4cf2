CREATE TABLE `contact_profiles` (
	`contact_id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`display_name` text,
	`notes` text,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `conversation_reads` (
	`conversation_id` text NOT NULL,
	`user_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`inbound_seen` integer NOT NULL,
	`read_at` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `conversation_reads_user` ON `conversation_reads` (`user_id`);--> statement-breakpoint
ALTER TABLE `channels` ADD `send_paused_until` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `inbound_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `last_inbound_at` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `free_entry_until` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `status` text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `snoozed_until` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `assignee_id` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `labels` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
CREATE INDEX `conversations_workspace_status` ON `conversations` (`workspace_id`,`status`,`last_message_at`,`id`);--> statement-breakpoint
CREATE INDEX `conversations_workspace_assignee` ON `conversations` (`workspace_id`,`assignee_id`,`last_message_at`,`id`);--> statement-breakpoint
ALTER TABLE `messages` ADD `sent_by` text;