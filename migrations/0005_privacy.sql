CREATE TABLE `analytics_daily` (
	`day` text NOT NULL,
	`event` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`day`, `event`)
);
--> statement-breakpoint
CREATE TABLE `consent_records` (
	`id` text PRIMARY KEY NOT NULL,
	`subject` text NOT NULL,
	`analytics` integer NOT NULL,
	`preferences` integer NOT NULL,
	`policy_version` text NOT NULL,
	`recorded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `consent_records_subject` ON `consent_records` (`subject`,`recorded_at`);--> statement-breakpoint
CREATE TABLE `contact_restrictions` (
	`contact_id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`restricted_at` integer NOT NULL,
	`restricted_by` text
);
--> statement-breakpoint
CREATE INDEX `contact_restrictions_workspace` ON `contact_restrictions` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `export_chunks` (
	`job_id` text NOT NULL,
	`seq` integer NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`job_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `export_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`request_id` text NOT NULL,
	`status` text NOT NULL,
	`section` integer DEFAULT 0 NOT NULL,
	`cursor` text,
	`chunks` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`ready_at` integer,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `export_jobs_user` ON `export_jobs` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `export_jobs_status` ON `export_jobs` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `job_leases` (
	`name` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`lease_until` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `retention_policies` (
	`workspace_id` text PRIMARY KEY NOT NULL,
	`keep_days` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text
);
--> statement-breakpoint
CREATE TABLE `rights_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`subject_type` text NOT NULL,
	`subject_id` text,
	`workspace_id` text,
	`source` text NOT NULL,
	`confirmation_code` text,
	`dedupe_key` text,
	`received_at` integer NOT NULL,
	`due_at` integer NOT NULL,
	`not_before` integer NOT NULL,
	`status` text NOT NULL,
	`outcome` text,
	`completed_at` integer,
	`lease_until` integer,
	`receipt` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rights_requests_code` ON `rights_requests` (`confirmation_code`);--> statement-breakpoint
CREATE UNIQUE INDEX `rights_requests_dedupe` ON `rights_requests` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `rights_requests_subject` ON `rights_requests` (`subject_type`,`subject_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `rights_requests_due` ON `rights_requests` (`status`,`not_before`);--> statement-breakpoint
CREATE TABLE `user_privacy` (
	`user_id` text PRIMARY KEY NOT NULL,
	`processing_restricted_at` integer,
	`analytics_objection_at` integer,
	`updated_at` integer NOT NULL
);
