CREATE TABLE `channel_events` (
	`id` text PRIMARY KEY NOT NULL,
	`dedupe_key` text NOT NULL,
	`workspace_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`field` text NOT NULL,
	`event` text NOT NULL,
	`timestamp` integer NOT NULL,
	`payload` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `channel_events_dedupe` ON `channel_events` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `channel_events_channel` ON `channel_events` (`channel_id`,`timestamp`);--> statement-breakpoint
CREATE TABLE `channels` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`external_id` text NOT NULL,
	`waba_id` text,
	`page_id` text,
	`name` text NOT NULL,
	`handle` text,
	`status` text DEFAULT 'active' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `channels_kind_external` ON `channels` (`kind`,`external_id`);--> statement-breakpoint
CREATE INDEX `channels_waba` ON `channels` (`waba_id`);--> statement-breakpoint
CREATE INDEX `channels_page` ON `channels` (`page_id`);--> statement-breakpoint
CREATE TABLE `contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`identity` text NOT NULL,
	`wa_id` text,
	`bsuid` text,
	`name` text,
	`username` text,
	`rev` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_channel_identity` ON `contacts` (`channel_id`,`identity`);--> statement-breakpoint
CREATE INDEX `contacts_workspace` ON `contacts` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`last_message_at` integer NOT NULL,
	`last_message_preview` text,
	`last_direction` text,
	`message_count` integer NOT NULL,
	`rev` integer NOT NULL,
	`content_rev` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `conversations_workspace_activity` ON `conversations` (`workspace_id`,`last_message_at`,`id`);--> statement-breakpoint
CREATE INDEX `conversations_activity` ON `conversations` (`last_message_at`,`id`);--> statement-breakpoint
CREATE TABLE `messages` (
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	`workspace_id` text NOT NULL,
	`external_id` text NOT NULL,
	`direction` text NOT NULL,
	`type` text NOT NULL,
	`text` text,
	`body` text NOT NULL,
	`timestamp` integer NOT NULL,
	`arrived_at` integer NOT NULL,
	`status` text,
	`error` text,
	`reactions` text NOT NULL,
	`deleted_at` integer,
	`rev` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `seq`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_conversation_external` ON `messages` (`conversation_id`,`external_id`);--> statement-breakpoint
CREATE INDEX `messages_display` ON `messages` (`conversation_id`,`timestamp`,`seq`);--> statement-breakpoint
CREATE INDEX `messages_workspace` ON `messages` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `quarantine` (
	`id` text PRIMARY KEY NOT NULL,
	`dedupe_key` text NOT NULL,
	`received_at` integer NOT NULL,
	`object` text,
	`field` text,
	`account_id` text,
	`reason` text NOT NULL,
	`detail` text NOT NULL,
	`payload` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `quarantine_dedupe` ON `quarantine` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `quarantine_received` ON `quarantine` (`received_at`,`id`);--> statement-breakpoint
CREATE TABLE `workspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
