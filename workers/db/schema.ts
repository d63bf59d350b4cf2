/**
 * @module
 * D1 records. Conversations and messages here are a mirror of the per-conversation Durable Objects,
 * which own ordering and dedup; every mirrored row carries the DO's `rev` so a late or repeated
 * write can never move a row backwards.
 */
import { sql } from "drizzle-orm";
import type { MessageContent, MetaError } from "../events.ts";
import type { Reaction } from "../../durable-objects/message-state.ts";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () =>
  integer("created_at")
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

export const channelKinds = ["whatsapp", "instagram", "messenger"] as const;
/**
 * active: ingesting and sending. needs_reconnection: Meta refused the token (expired, permission
 * removed); sends are blocked, webhooks still ingested. disconnected: the workspace withdrew consent.
 * revoked: the business removed our app at Meta (deauthorize callback, account_update).
 */
export const channelStatuses = ["active", "needs_reconnection", "disconnected", "revoked"] as const;
export type ChannelStatus = (typeof channelStatuses)[number];
export type ChannelKind = (typeof channelKinds)[number];

export const channels = sqliteTable(
  "channels",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    kind: text("kind", { enum: channelKinds }).notNull(),
    /** WhatsApp phone_number_id, Messenger Page id or Instagram professional account id. */
    externalId: text("external_id").notNull(),
    /** WhatsApp: the WABA that owns the number (account-level webhooks are addressed to it). */
    wabaId: text("waba_id"),
    /** Instagram accounts linked to a Page may be addressed by the Page id (Messenger API for Instagram). */
    pageId: text("page_id"),
    name: text("name").notNull(),
    /** Display phone number or @handle. */
    handle: text("handle"),
    status: text("status", { enum: channelStatuses })
      .notNull()
      .default("active"),
    /** The Meta user (or Instagram user) whose grant the stored token carries: deauthorize callbacks name it. */
    metaUserId: text("meta_user_id"),
    /** When the stored token expires (null: never, or no token). */
    tokenExpiresAt: integer("token_expires_at"),
    healthCheckedAt: integer("health_checked_at"),
    /** Human-readable reason the channel needs attention (Meta's error, translated). */
    healthProblem: text("health_problem"),
    /** Meta asked us to slow down for the whole account (130429, BUC limits): no sends before this. */
    sendPausedUntil: integer("send_paused_until"),
    connectedAt: integer("connected_at"),
    disconnectedAt: integer("disconnected_at"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("channels_kind_external").on(t.kind, t.externalId),
    index("channels_waba").on(t.wabaId),
    index("channels_page").on(t.pageId),
  ],
);

export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    channelId: text("channel_id").notNull(),
    /** The identity conversations are keyed by: BSUID when Meta sent one, else wa_id / IGSID / PSID. */
    identity: text("identity").notNull(),
    waId: text("wa_id"),
    bsuid: text("bsuid"),
    name: text("name"),
    username: text("username"),
    rev: integer("rev").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("contacts_channel_identity").on(t.channelId, t.identity), index("contacts_workspace").on(t.workspaceId)],
);

/** resolved and snoozed conversations reopen when the customer writes again. */
export const conversationStatuses = ["open", "pending", "snoozed", "resolved"] as const;
export type ConversationStatus = (typeof conversationStatuses)[number];

export const conversations = sqliteTable(
  "conversations",
  {
    /** The Durable Object id (hex) of the conversation. */
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    channelId: text("channel_id").notNull(),
    contactId: text("contact_id").notNull(),
    lastMessageAt: integer("last_message_at").notNull(),
    lastMessagePreview: text("last_message_preview"),
    lastDirection: text("last_direction", { enum: ["in", "out"] }),
    messageCount: integer("message_count").notNull(),
    /** Messages from the customer: unread counts are this minus what a member has seen. */
    inboundCount: integer("inbound_count").notNull().default(0),
    /** Meta time of the customer's newest message: the send windows start here (workers/send-window.ts). */
    lastInboundAt: integer("last_inbound_at"),
    /** WhatsApp free entry point (click-to-WhatsApp ad, Page CTA): free-form sending until then. */
    freeEntryUntil: integer("free_entry_until"),
    status: text("status", { enum: conversationStatuses }).notNull().default("open"),
    snoozedUntil: integer("snoozed_until"),
    assigneeId: text("assignee_id"),
    /** JSON array of label names, filtered with json_each. */
    labels: text("labels", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** Highest DO revision whose changes are all in D1 (contiguous): the mirror's watermark. */
    rev: integer("rev").notNull(),
    /** Highest DO revision whose conversation fields are applied (may run ahead of `rev`). */
    contentRev: integer("content_rev").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("conversations_workspace_activity").on(t.workspaceId, t.lastMessageAt, t.id),
    index("conversations_activity").on(t.lastMessageAt, t.id),
    index("conversations_workspace_status").on(t.workspaceId, t.status, t.lastMessageAt, t.id),
    index("conversations_workspace_assignee").on(t.workspaceId, t.assigneeId, t.lastMessageAt, t.id),
  ],
);

/** How far each member has read each conversation (customer messages seen). */
export const conversationReads = sqliteTable(
  "conversation_reads",
  {
    conversationId: text("conversation_id").notNull(),
    userId: text("user_id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    inboundSeen: integer("inbound_seen").notNull(),
    readAt: integer("read_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index("conversation_reads_user").on(t.userId)],
);

/** What admins know about a contact beyond what Meta sends: kept apart so the mirror never overwrites it. */
export const contactProfiles = sqliteTable("contact_profiles", {
  contactId: text("contact_id").primaryKey(),
  workspaceId: text("workspace_id").notNull(),
  /** Overrides the name Meta reports, when set. */
  displayName: text("display_name"),
  notes: text("notes"),
  updatedBy: text("updated_by").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const messages = sqliteTable(
  "messages",
  {
    conversationId: text("conversation_id").notNull(),
    /** Gap-free per-conversation arrival sequence assigned by the Durable Object. */
    seq: integer("seq").notNull(),
    workspaceId: text("workspace_id").notNull(),
    externalId: text("external_id").notNull(),
    direction: text("direction", { enum: ["in", "out"] }).notNull(),
    type: text("type").notNull(),
    text: text("text"),
    /** The normalised message (see workers/events.ts), JSON. */
    body: text("body", { mode: "json" }).$type<MessageContent>().notNull(),
    /** Meta's timestamp, epoch ms. Display order is (timestamp, seq). */
    timestamp: integer("timestamp").notNull(),
    arrivedAt: integer("arrived_at").notNull(),
    status: text("status"),
    error: text("error", { mode: "json" }).$type<MetaError>(),
    reactions: text("reactions", { mode: "json" }).$type<Reaction[]>().notNull(),
    deletedAt: integer("deleted_at"),
    /** The member who sent it from WeChatting (null: the customer, or sent elsewhere). */
    sentBy: text("sent_by"),
    rev: integer("rev").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.seq] }),
    uniqueIndex("messages_conversation_external").on(t.conversationId, t.externalId),
    index("messages_display").on(t.conversationId, t.timestamp, t.seq),
    index("messages_workspace").on(t.workspaceId),
  ],
);

/** Signed payload items we could not understand or route: kept with the reason, never dropped. */
export const quarantine = sqliteTable(
  "quarantine",
  {
    id: text("id").primaryKey(),
    /** Hash of the item, so Meta's retries of the same POST quarantine it once. */
    dedupeKey: text("dedupe_key").notNull(),
    receivedAt: integer("received_at").notNull(),
    object: text("object"),
    field: text("field"),
    accountId: text("account_id"),
    reason: text("reason", {
      enum: ["invalid_envelope", "unknown_object", "unknown_field", "schema_mismatch", "unknown_account"],
    }).notNull(),
    detail: text("detail").notNull(),
    payload: text("payload").notNull(),
  },
  (t) => [uniqueIndex("quarantine_dedupe").on(t.dedupeKey), index("quarantine_received").on(t.receivedAt, t.id)],
);

/** Account-level webhooks (account_update, template status, value-level errors) of a connected channel. */
export const channelEvents = sqliteTable(
  "channel_events",
  {
    id: text("id").primaryKey(),
    dedupeKey: text("dedupe_key").notNull(),
    workspaceId: text("workspace_id").notNull(),
    channelId: text("channel_id").notNull(),
    field: text("field").notNull(),
    event: text("event").notNull(),
    timestamp: integer("timestamp").notNull(),
    payload: text("payload").notNull(),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [uniqueIndex("channel_events_dedupe").on(t.dedupeKey), index("channel_events_channel").on(t.channelId, t.timestamp)],
);

// ── Accounts, sessions, workspaces and roles ─────────────────────────────────────────────────────

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** Normalised (trimmed, lower-cased, NFC) so one address is one account. */
    email: text("email").notNull(),
    emailVerifiedAt: integer("email_verified_at"),
    name: text("name").notNull(),
    /** E.164, optional. */
    phone: text("phone"),
    /** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
    passwordHash: text("password_hash").notNull(),
    /** When the user confirmed being 18 or older (sign-up refuses otherwise). */
    adultConfirmedAt: integer("adult_confirmed_at").notNull(),
    status: text("status", { enum: ["active", "deactivated"] })
      .notNull()
      .default("active"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("users_email").on(t.email)],
);

export const policyAcceptances = sqliteTable(
  "policy_acceptances",
  {
    userId: text("user_id").notNull(),
    version: text("version").notNull(),
    acceptedAt: integer("accepted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.version] })],
);

export const sessions = sqliteTable(
  "sessions",
  {
    /** SHA-256 of the session token: the token itself is only ever in the user's cookie. */
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    userAgent: text("user_agent"),
    /** Keyed hash of the client address (never the address itself). */
    clientHash: text("client_hash"),
  },
  (t) => [index("sessions_user").on(t.userId), index("sessions_expiry").on(t.expiresAt)],
);

export const roles = ["owner", "admin", "agent"] as const;
export type Role = (typeof roles)[number];

export const memberships = sqliteTable(
  "memberships",
  {
    workspaceId: text("workspace_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: roles }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId] }), index("memberships_user").on(t.userId)],
);

export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    email: text("email").notNull(),
    role: text("role", { enum: roles }).notNull(),
    invitedBy: text("invited_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    acceptedAt: integer("accepted_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("invitations_workspace").on(t.workspaceId)],
);

/** Ids (jti) of single-use signed links that have been used, kept until they would have expired. */
export const usedTokens = sqliteTable("used_tokens", {
  jti: text("jti").primaryKey(),
  usedAt: integer("used_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id"),
    actorUserId: text("actor_user_id"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    /** Keyed hash of the client address. */
    clientHash: text("client_hash"),
    at: integer("at").notNull(),
    detail: text("detail", { mode: "json" }).$type<Record<string, string | number | boolean | null>>(),
  },
  (t) => [index("audit_workspace").on(t.workspaceId, t.at), index("audit_actor").on(t.actorUserId, t.at)],
);

/** Fixed-window attempt counters for sign-in and reset (per account and per client). */
export const rateLimits = sqliteTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  count: integer("count").notNull(),
});

/** Local development only: every mail the product sends, readable at /dev/mailbox. */
export const devMailbox = sqliteTable(
  "dev_mailbox",
  {
    id: text("id").primaryKey(),
    to: text("to").notNull(),
    subject: text("subject").notNull(),
    text: text("text").notNull(),
    sentAt: integer("sent_at").notNull(),
  },
  (t) => [index("dev_mailbox_to").on(t.to, t.sentAt)],
);

// ── The vault (workers/vault): channel tokens under envelope encryption ──────────────────────────

/**
 * One AES-256-GCM data key per workspace, stored only wrapped by a master key from secrets. Deleting
 * the row makes the workspace's ciphertexts unreadable; copies in D1 backups (which hold the wrapped
 * key too) follow once the master key that wrapped it is rotated out and retired.
 */
export const workspaceKeys = sqliteTable(
  "workspace_keys",
  {
    workspaceId: text("workspace_id").primaryKey(),
    /** Random id of this data key; every ciphertext records it, so a re-created key is told apart. */
    keyId: text("key_id").notNull(),
    /** base64(IV ‖ AES-GCM(master key, data key)); the AAD binds it to this workspace and key id. */
    wrappedKey: text("wrapped_key").notNull(),
    /** Which master key wrapped it: rotation re-wraps the rows not under the active one. */
    masterKeyId: text("master_key_id").notNull(),
    /** Encryptions made with this data key, held well below NIST SP 800-38D's 2^32 for random IVs. */
    encryptions: integer("encryptions").notNull().default(0),
    createdAt: createdAt(),
    rotatedAt: integer("rotated_at"),
  },
  (t) => [index("workspace_keys_master").on(t.masterKeyId, t.workspaceId)],
);

/** A channel's credentials (access token, refresh token…), sealed by the workspace data key. */
export const channelSecrets = sqliteTable(
  "channel_secrets",
  {
    channelId: text("channel_id").notNull(),
    /** What the secret is for, e.g. "access_token"; part of the AAD, like the channel and workspace. */
    purpose: text("purpose").notNull(),
    workspaceId: text("workspace_id").notNull(),
    /** The workspace data key that sealed it (`workspace_keys.key_id`). */
    keyId: text("key_id").notNull(),
    /** base64 of the AES-GCM ciphertext and its 16-byte tag. */
    ciphertext: text("ciphertext").notNull(),
    /** base64 of the random 96-bit IV, fresh for every encryption. */
    iv: text("iv").notNull(),
    /** 1 when first sealed, +1 each time the secret is replaced. */
    version: integer("version").notNull(),
    createdAt: createdAt(),
    /** The token's own expiry (epoch ms), when Meta gives one. */
    expiresAt: integer("expires_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.purpose] }), index("channel_secrets_workspace").on(t.workspaceId)],
);

// ── Privacy (issue 7): rights requests, exports, consent, restrictions, retention ───────────────

export const rightsRequestKinds = [
  "access",
  "erasure",
  "restriction",
  "objection",
  "meta_deletion",
  "contact_access",
  "contact_erasure",
  "contact_restriction",
] as const;
export type RightsRequestKind = (typeof rightsRequestKinds)[number];
export const rightsRequestStatuses = ["received", "in_progress", "completed", "refused", "cancelled"] as const;
export type RightsRequestStatus = (typeof rightsRequestStatuses)[number];
export const rightsRequestSources = ["self_service", "workspace_admin", "meta_callback", "operator"] as const;

/**
 * The ledger of every rights request (GDPR Art. 12(3): answered within one month): what was asked,
 * by whom, when it is due and how it ended. Rows with work left (an erasure after its grace period,
 * a Meta deletion) are claimed by the scheduled run through `lease_until`, so two runs never work on
 * one request at once and a crashed run's claim simply expires.
 */
export const rightsRequests = sqliteTable(
  "rights_requests",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: rightsRequestKinds }).notNull(),
    /** What `subject_id` names: one of our users, a workspace's contact, or a Meta app-scoped user id. */
    subjectType: text("subject_type", { enum: ["user", "contact", "meta_user"] }).notNull(),
    /** Cleared once an erasure is done when it is an outside identifier (Meta's), so the ledger keeps none. */
    subjectId: text("subject_id"),
    workspaceId: text("workspace_id"),
    source: text("source", { enum: rightsRequestSources }).notNull(),
    /** Key of the public status page (Meta callback, operator entry): 128+ random bits, base64url. */
    confirmationCode: text("confirmation_code"),
    /** Makes repeats of one request (Meta's retries) land on the same row. */
    dedupeKey: text("dedupe_key"),
    receivedAt: integer("received_at").notNull(),
    dueAt: integer("due_at").notNull(),
    /** Work starts no earlier (an account erasure's grace period ends then). */
    notBefore: integer("not_before").notNull(),
    status: text("status", { enum: rightsRequestStatuses }).notNull(),
    /** A short statement without personal data: what was done, or why it was refused. */
    outcome: text("outcome"),
    completedAt: integer("completed_at"),
    leaseUntil: integer("lease_until"),
    /** The deletion receipt: categories and counts erased and when; never personal data. */
    receipt: text("receipt", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (t) => [
    uniqueIndex("rights_requests_code").on(t.confirmationCode),
    uniqueIndex("rights_requests_dedupe").on(t.dedupeKey),
    index("rights_requests_subject").on(t.subjectType, t.subjectId, t.receivedAt),
    index("rights_requests_due").on(t.status, t.notBefore),
  ],
);

export const exportStatuses = ["pending", "ready", "failed", "expired"] as const;

/** A user's data export, built step by step by whoever holds its lease (request `waitUntil`, cron). */
export const exportJobs = sqliteTable(
  "export_jobs",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    requestId: text("request_id").notNull(),
    status: text("status", { enum: exportStatuses }).notNull(),
    /** Where the build stands: the section index and the keyset cursor inside it. */
    section: integer("section").notNull().default(0),
    cursor: text("cursor"),
    chunks: integer("chunks").notNull().default(0),
    bytes: integer("bytes").notNull().default(0),
    leaseUntil: integer("lease_until"),
    createdAt: integer("created_at").notNull(),
    readyAt: integer("ready_at"),
    /** After this the chunks are deleted by the scheduled run. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("export_jobs_user").on(t.userId, t.createdAt), index("export_jobs_status").on(t.status, t.expiresAt)],
);

/** The export's JSON, in pieces well under D1's 2 MB value limit, concatenated by the download. */
export const exportChunks = sqliteTable(
  "export_chunks",
  {
    jobId: text("job_id").notNull(),
    seq: integer("seq").notNull(),
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);

/** A user's restriction of processing and objection switches (GDPR Arts. 18, 21); null = off. */
export const userPrivacy = sqliteTable("user_privacy", {
  userId: text("user_id").primaryKey(),
  processingRestrictedAt: integer("processing_restricted_at"),
  analyticsObjectionAt: integer("analytics_objection_at"),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Contacts a workspace restricted: kept, hidden from agents, never messaged. A table of its own
 * because the D1 mirror rewrites whole `contacts` rows from the Durable Objects.
 */
export const contactRestrictions = sqliteTable(
  "contact_restrictions",
  {
    contactId: text("contact_id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    restrictedAt: integer("restricted_at").notNull(),
    restrictedBy: text("restricted_by"),
  },
  (t) => [index("contact_restrictions_workspace").on(t.workspaceId)],
);

/**
 * Every cookie/analytics choice, appended (the latest per subject is in force): `u:<user id>` for
 * users, `c:<consent id>` for visitors identified only by the essential consent cookie.
 */
export const consentRecords = sqliteTable(
  "consent_records",
  {
    id: text("id").primaryKey(),
    subject: text("subject").notNull(),
    analytics: integer("analytics", { mode: "boolean" }).notNull(),
    preferences: integer("preferences", { mode: "boolean" }).notNull(),
    policyVersion: text("policy_version").notNull(),
    recordedAt: integer("recorded_at").notNull(),
  },
  (t) => [index("consent_records_subject").on(t.subject, t.recordedAt)],
);

/** First-party product analytics: counts per event and UTC day, nothing that identifies anyone. */
export const analyticsDaily = sqliteTable(
  "analytics_daily",
  {
    day: text("day").notNull(),
    event: text("event").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.event] })],
);

/** A workspace's message retention (off unless an admin sets it). */
export const retentionPolicies = sqliteTable("retention_policies", {
  workspaceId: text("workspace_id").primaryKey(),
  keepDays: integer("keep_days").notNull(),
  updatedAt: integer("updated_at").notNull(),
  updatedBy: text("updated_by"),
});

/** Leases of scheduled jobs, so two overlapping runs never sweep at once. */
export const jobLeases = sqliteTable("job_leases", {
  name: text("name").primaryKey(),
  owner: text("owner").notNull(),
  leaseUntil: integer("lease_until").notNull(),
});
