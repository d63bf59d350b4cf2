CREATE TABLE `channel_secrets` (
	`channel_id` text NOT NULL,
	`purpose` text NOT NULL,
	`workspace_id` text NOT NULL,
	`key_id` text NOT NULL,
	`ciphertext` text NOT NULL,
	`iv` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`expires_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`channel_id`, `purpose`)
);
--> statement-breakpoint
CREATE INDEX `channel_secrets_workspace` ON `channel_secrets` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `workspace_keys` (
	`workspace_id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`wrapped_key` text NOT NULL,
	`master_key_id` text NOT NULL,
	`encryptions` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`rotated_at` integer
);
--> statement-breakpoint
CREATE INDEX `workspace_keys_master` ON `workspace_keys` (`master_key_id`,`workspace_id`);