/**
 * Schema migrations, in code so the compiled package carries them. Each runs
 * once per database (Kysely's Migrator records them). Column types are chosen
 * to mean the same on SQLite, MySQL/MariaDB and PostgreSQL.
 */
import {
  type CreateTableBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  sql,
} from "kysely";
import type { DbDialect } from "./open.js";

/** MySQL TEXT stops at 64 KiB; an upload checkpoint with thousands of parts is larger. */
const longText = (dialect: DbDialect) => (dialect === "mysql" ? sql`mediumtext` : sql`text`);

function packerTables(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("pack_jobs")
        .addColumn("id", "varchar(40)", (c) => c.primaryKey())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("apk", "text", (c) => c.notNull())
        .addColumn("apk_path", "text", (c) => c.notNull())
        .addColumn("queue", "varchar(64)", (c) => c.notNull())
        .addColumn("target", "varchar(64)", (c) => c.notNull())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("name_template", "text", (c) => c.notNull())
        .addColumn("format", "varchar(16)", (c) => c.notNull())
        .addColumn("notify_level", "varchar(16)", (c) => c.notNull())
        .addColumn("notify_targets", "text", (c) => c.notNull())
        .addColumn("round", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("cancel_requested", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("finished_at", "bigint")
        .execute();
      await db.schema
        .createIndex("pack_jobs_status_created")
        .on("pack_jobs")
        .columns(["status", "created_at"])
        .execute();
      await db.schema
        .createIndex("pack_jobs_created")
        .on("pack_jobs")
        .columns(["created_at"])
        .execute();

      await db.schema
        .createTable("pack_tasks")
        .addColumn("job_id", "varchar(40)", (c) => c.notNull())
        .addColumn("channel", "varchar(255)", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("extras", "text", (c) => c.notNull())
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("error_code", "varchar(64)")
        .addColumn("error_message", "text")
        .addColumn("owner", "varchar(255)")
        .addColumn("lease_until", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("dispatched", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("file_name", "text")
        .addColumn("output_key", "text")
        .addColumn("output_size", "bigint")
        .addColumn("output_sha256", "varchar(64)")
        .addColumn("upload_checkpoint", longText(dialect))
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("pack_tasks_pk", ["job_id", "channel"])
        .execute();
      await db.schema
        .createIndex("pack_tasks_state")
        .on("pack_tasks")
        .columns(["state", "dispatched"])
        .execute();

      await db.schema
        .createTable("notifications")
        .addColumn("id", "varchar(400)", (c) => c.primaryKey())
        .addColumn("event_id", "varchar(320)", (c) => c.notNull())
        .addColumn("job_id", "varchar(40)", (c) => c.notNull())
        .addColumn("channel", "varchar(255)")
        .addColumn("notifier", "varchar(64)", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("last_error", "text")
        .addColumn("dispatched", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("sent_at", "bigint")
        .execute();
      await db.schema
        .createIndex("notifications_job")
        .on("notifications")
        .columns(["job_id", "state"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("notifications").execute();
      await db.schema.dropTable("pack_tasks").execute();
      await db.schema.dropTable("pack_jobs").execute();
    },
  };
}

/**
 * A key compared for equality. MySQL's default collations ignore case, and file
 * ids are base64url, where "aB" and "Ab" are different files: keys use the
 * binary collation there. SQLite and PostgreSQL compare bytes already.
 */
const key = (dialect: DbDialect, length: number) =>
  dialect === "mysql"
    ? sql`varchar(${sql.lit(length)}) character set utf8mb4 collate utf8mb4_bin`
    : sql`varchar(${sql.lit(length)})`;

/**
 * File names are user input (Chinese, emoji): a MySQL table must be utf8mb4
 * whatever the server's or database's default is (often latin1 or 3-byte
 * utf8), and InnoDB for the row locks SqlFileMetadata relies on.
 */
const mysqlTableOptions =
  (dialect: DbDialect) =>
  <T extends string, C extends string>(table: CreateTableBuilder<T, C>) =>
    dialect === "mysql"
      ? table.modifyEnd(sql`engine = InnoDB default character set utf8mb4`)
      : table;

function fileTables(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // One row per distinct content; many files may point at one blob.
      await db.schema
        .createTable("file_blobs")
        .addColumn("sha256", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("md5", key(dialect, 32), (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("blob_key", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();

      await db.schema
        .createTable("files")
        .addColumn("id", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("content_type", "varchar(255)", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("sha256", key(dialect, 64), (c) => c.notNull())
        .addColumn("md5", key(dialect, 32), (c) => c.notNull())
        .addColumn("blob_key", "text", (c) => c.notNull())
        .addColumn("owner", key(dialect, 128), (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint")
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema.createIndex("files_sha256").on("files").columns(["sha256"]).execute();
      await db.schema.createIndex("files_md5").on("files").columns(["md5"]).execute();
      await db.schema
        .createIndex("files_owner_expires")
        .on("files")
        .columns(["owner", "expires_at"])
        .execute();
      await db.schema.createIndex("files_expires").on("files").columns(["expires_at"]).execute();

      // A tus upload in progress; the bytes so far are in the uploads target.
      // `received`, not `offset`: OFFSET is a reserved word in SQL.
      await db.schema
        .createTable("file_uploads")
        .addColumn("id", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("content_type", "varchar(255)", (c) => c.notNull())
        .addColumn("owner", key(dialect, 128), (c) => c.notNull())
        .addColumn("size", "bigint")
        .addColumn("received", "bigint", (c) => c.notNull())
        .addColumn("hash_state", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("file_uploads_expires")
        .on("file_uploads")
        .columns(["expires_at"])
        .execute();
      // usedBytes sums an owner's uploads on every quota check.
      await db.schema
        .createIndex("file_uploads_owner")
        .on("file_uploads")
        .columns(["owner"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("file_uploads").execute();
      await db.schema.dropTable("files").execute();
      await db.schema.dropTable("file_blobs").execute();
    },
  };
}

/**
 * Shared extras stored once per job (not copied into every channel row), the
 * change sequence the event streams read changes by, and the count of finished
 * stages that, with `attempts`, bounds how often a channel can be started.
 */
function packerLimits(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // Nullable, no default: MySQL accepts no literal default on a TEXT column.
      await db.schema.alterTable("pack_jobs").addColumn("extras", "text").execute();
      await db.schema
        .alterTable("pack_jobs")
        .addColumn("change_seq", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable("pack_tasks")
        .addColumn("succeeded", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable("pack_tasks")
        .addColumn("changed_seq", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex("pack_tasks_changes")
        .on("pack_tasks")
        .columns(["job_id", "changed_seq"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex("pack_tasks_changes").on("pack_tasks").execute();
      await db.schema.alterTable("pack_tasks").dropColumn("changed_seq").execute();
      await db.schema.alterTable("pack_tasks").dropColumn("succeeded").execute();
      await db.schema.alterTable("pack_jobs").dropColumn("change_seq").execute();
      await db.schema.alterTable("pack_jobs").dropColumn("extras").execute();
    },
  };
}

/**
 * Per-owner quota that parallel uploads cannot overrun (docs/files.md#quota).
 * An upload reserves its bytes before it stores them; the reservation becomes
 * the file's usage when the file is recorded (the same transaction deletes it)
 * and is given back on failure, termination and expiry. `file_quota_owners`
 * has one row per owner, locked while a reservation is decided, so two
 * requests of one owner decide one after the other on every dialect.
 */
function fileQuotaTables(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("file_quota_owners")
        .addColumn("owner", key(dialect, 128), (c) => c.primaryKey())
        .$call(mysqlTableOptions(dialect))
        .execute();
      // `id` is the upload's: the PUT's file id or the tus upload id.
      await db.schema
        .createTable("file_reservations")
        .addColumn("id", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("owner", key(dialect, 128), (c) => c.notNull())
        .addColumn("bytes", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("file_reservations_owner")
        .on("file_reservations")
        .columns(["owner", "expires_at"])
        .execute();
      // Uploads already in progress keep the space they counted for before.
      await sql`insert into file_reservations (id, owner, bytes, created_at, expires_at)
        select id, owner, coalesce(size, received), created_at, expires_at from file_uploads`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("file_reservations").execute();
      await db.schema.dropTable("file_quota_owners").execute();
    },
  };
}

/** The task cluster: tasks, executors, and the result cache (docs/cluster.md). */
function clusterTables(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("cluster_tasks")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("idem_key", key(dialect, 255), (c) => c.unique())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("tool", "varchar(64)", (c) => c.notNull())
        .addColumn("pool", "varchar(64)", (c) => c.notNull())
        .addColumn("args", longText(dialect), (c) => c.notNull())
        .addColumn("inputs", longText(dialect), (c) => c.notNull())
        .addColumn("outputs", "text", (c) => c.notNull())
        .addColumn("env", "text", (c) => c.notNull())
        .addColumn("timeouts", "text", (c) => c.notNull())
        .addColumn("retries", "integer", (c) => c.notNull())
        .addColumn("cacheable", "integer", (c) => c.notNull())
        .addColumn("cache_digest", "varchar(64)")
        .addColumn("owner", "varchar(128)", (c) => c.notNull())
        .addColumn("notify_level", "varchar(16)", (c) => c.notNull())
        .addColumn("notify_targets", "text", (c) => c.notNull())
        .addColumn("executor_id", "varchar(64)")
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("cancel_requested", "integer", (c) => c.notNull())
        .addColumn("deadline_at", "bigint")
        .addColumn("result", longText(dialect))
        .addColumn("error_code", "varchar(64)")
        .addColumn("error_message", "text")
        .addColumn("dispatched", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("assigned_at", "bigint")
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("cluster_tasks_status_deadline")
        .on("cluster_tasks")
        .columns(["status", "deadline_at"])
        .execute();
      await db.schema
        .createIndex("cluster_tasks_created")
        .on("cluster_tasks")
        .columns(["created_at"])
        .execute();
      await db.schema
        .createIndex("cluster_tasks_executor")
        .on("cluster_tasks")
        .columns(["executor_id", "status"])
        .execute();
      await db.schema
        .createTable("cluster_executors")
        .addColumn("id", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("host", "varchar(255)", (c) => c.notNull())
        .addColumn("pool", "varchar(64)", (c) => c.notNull())
        .addColumn("tools", "text", (c) => c.notNull())
        .addColumn("labels", "text", (c) => c.notNull())
        .addColumn("slots", "integer", (c) => c.notNull())
        .addColumn("busy", "integer", (c) => c.notNull())
        .addColumn("cache_bytes", "bigint", (c) => c.notNull())
        .addColumn("cache_max", "bigint", (c) => c.notNull())
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("registered_at", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createTable("cluster_results")
        .addColumn("digest", key(dialect, 64), (c) => c.primaryKey())
        .addColumn("task_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("result", longText(dialect), (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("cluster_results").execute();
      await db.schema.dropTable("cluster_executors").execute();
      await db.schema.dropTable("cluster_tasks").execute();
    },
  };
}

/**
 * Jobs whose children are composed in the target record the mother they
 * uploaded (mothers/<sha256>.apk), so the sweep deletes a mother only once
 * no job needs it (docs/storage.md, "Server-side copy").
 */
function packerMothers(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("pack_jobs").addColumn("mother_sha256", "varchar(64)").execute();
      await db.schema
        .createIndex("pack_jobs_mother")
        .on("pack_jobs")
        .columns(["target", "mother_sha256"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex("pack_jobs_mother").on("pack_jobs").execute();
      await db.schema.alterTable("pack_jobs").dropColumn("mother_sha256").execute();
    },
  };
}

/**
 * Match guessing's money (docs/guess.md, "Wallets"): one balance per uid that
 * can never go negative (a CHECK, besides the conditional update that
 * debits), and an append-only ledger whose primary key is each entry's
 * cause, so an entry is written once however often its cause is retried.
 */
function guessWallets(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("guess_wallets")
        .addColumn("uid", key(dialect, 128), (c) => c.primaryKey())
        .addColumn("balance", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addCheckConstraint("guess_wallets_balance_not_negative", sql`balance >= 0`)
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createTable("guess_ledger")
        .addColumn("cause", key(dialect, 191), (c) => c.primaryKey())
        .addColumn("uid", key(dialect, 128), (c) => c.notNull())
        .addColumn("kind", "varchar(16)", (c) => c.notNull())
        .addColumn("amount", "bigint", (c) => c.notNull())
        .addColumn("balance_after", "bigint", (c) => c.notNull())
        .addColumn("match_id", key(dialect, 64))
        .addColumn("reason", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("guess_ledger_uid_created")
        .on("guess_ledger")
        .columns(["uid", "created_at"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("guess_ledger").execute();
      await db.schema.dropTable("guess_wallets").execute();
    },
  };
}

/**
 * Guessing matches (docs/guess.md, "Matches"): one row per match, unique by
 * the feed's external id, with its state (iGuessState) and approval; its
 * options with odds; and the audit trail of every admin action.
 */
function guessMatches(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("guess_matches")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("external_id", key(dialect, 128), (c) => c.notNull().unique())
        .addColumn("type", key(dialect, 32), (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("teams", "text", (c) => c.notNull())
        .addColumn("starts_at", "bigint", (c) => c.notNull())
        .addColumn("lock_at", "bigint", (c) => c.notNull())
        .addColumn("state", "integer", (c) => c.notNull())
        .addColumn("approved", "integer", (c) => c.notNull())
        .addColumn("result", key(dialect, 64))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      // The lists: by state (all types, or one) in start order.
      await db.schema
        .createIndex("guess_matches_state_start")
        .on("guess_matches")
        .columns(["state", "starts_at", "id"])
        .execute();
      await db.schema
        .createIndex("guess_matches_type_state_start")
        .on("guess_matches")
        .columns(["type", "state", "starts_at", "id"])
        .execute();
      await db.schema
        .createTable("guess_options")
        .addColumn("match_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("option_id", key(dialect, 64), (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("label", "text", (c) => c.notNull())
        .addColumn("odds", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("guess_options_pk", ["match_id", "option_id"])
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createTable("guess_audit")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("actor", key(dialect, 128), (c) => c.notNull())
        .addColumn("action", "varchar(32)", (c) => c.notNull())
        .addColumn("match_id", key(dialect, 40))
        .addColumn("uid", key(dialect, 128))
        .addColumn("before_state", "text")
        .addColumn("after_state", "text")
        .addColumn("reason", "text")
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("guess_audit_at")
        .on("guess_audit")
        .columns(["at", "id"])
        .execute();
      await db.schema
        .createIndex("guess_audit_match")
        .on("guess_audit")
        .columns(["match_id", "at"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("guess_audit").execute();
      await db.schema.dropTable("guess_options").execute();
      await db.schema.dropTable("guess_matches").execute();
    },
  };
}

/**
 * Bets and reservations (docs/guess.md, "Bets"). A bet is unique by its
 * client's id per uid (placing is idempotent); settlement walks a match's
 * bets of one status in id order, in batches (match_id, status, id), and
 * pushes the outcomes that are due (match_id, push_state, id); a user's
 * bets are listed newest first (uid, created_at, id).
 */
function guessBets(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("guess_bets")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("uid", key(dialect, 128), (c) => c.notNull())
        .addColumn("client_bet_id", key(dialect, 64), (c) => c.notNull())
        .addColumn("match_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("option_id", key(dialect, 64), (c) => c.notNull())
        .addColumn("stake", "bigint", (c) => c.notNull())
        .addColumn("odds", "integer", (c) => c.notNull())
        .addColumn("win_amount", "bigint", (c) => c.notNull())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("credited", "bigint", (c) => c.notNull())
        .addColumn("push_state", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("settled_at", "bigint")
        .addUniqueConstraint("guess_bets_client", ["uid", "client_bet_id"])
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("guess_bets_match_status")
        .on("guess_bets")
        .columns(["match_id", "status", "id"])
        .execute();
      await db.schema
        .createIndex("guess_bets_match_push")
        .on("guess_bets")
        .columns(["match_id", "push_state", "id"])
        .execute();
      await db.schema
        .createIndex("guess_bets_uid_created")
        .on("guess_bets")
        .columns(["uid", "created_at", "id"])
        .execute();
      await db.schema
        .createIndex("guess_bets_uid_match")
        .on("guess_bets")
        .columns(["uid", "match_id"])
        .execute();
      // The daily statistics: bets by time, and payouts and refunds by time.
      await db.schema
        .createIndex("guess_bets_created")
        .on("guess_bets")
        .columns(["created_at"])
        .execute();
      await db.schema
        .createIndex("guess_ledger_kind_created")
        .on("guess_ledger")
        .columns(["kind", "created_at"])
        .execute();
      await db.schema
        .createTable("guess_reservations")
        .addColumn("match_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("uid", key(dialect, 128), (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("reminded_at", "bigint")
        .addPrimaryKeyConstraint("guess_reservations_pk", ["match_id", "uid"])
        .$call(mysqlTableOptions(dialect))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex("guess_ledger_kind_created").on("guess_ledger").execute();
      await db.schema.dropTable("guess_reservations").execute();
      await db.schema.dropTable("guess_bets").execute();
    },
  };
}

/**
 * Top-up orders (docs/payments.md). An order is created pending; a verified
 * payment marks it paid with the provider's transaction id. A transaction
 * pays one order only: (provider, transaction_id) is unique, so a second
 * order cannot claim it even in a race. A user's client id for an order is
 * unique per uid (creating is idempotent); both unique keys allow any number
 * of NULLs on all three databases.
 */
function guessOrders(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("guess_orders")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("uid", key(dialect, 128), (c) => c.notNull())
        .addColumn("client_order_id", key(dialect, 64))
        .addColumn("amount", "bigint", (c) => c.notNull())
        .addColumn("currency", "varchar(3)", (c) => c.notNull())
        .addColumn("provider", "varchar(16)", (c) => c.notNull())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("transaction_id", key(dialect, 64))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("paid_at", "bigint")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("guess_orders_client", ["uid", "client_order_id"])
        .addUniqueConstraint("guess_orders_transaction", ["provider", "transaction_id"])
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createIndex("guess_orders_uid_created")
        .on("guess_orders")
        .columns(["uid", "created_at", "id"])
        .execute();
      // The sweep that closes pending orders past their expiry.
      await db.schema
        .createIndex("guess_orders_status_expires")
        .on("guess_orders")
        .columns(["status", "expires_at"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("guess_orders").execute();
    },
  };
}

/**
 * Chat (docs/chat.md): conversations with their last seq, members with
 * their read cursor (read diffusion: a message is stored once per
 * conversation, not once per member), and messages keyed by (conversation,
 * seq), unique by their sender's client id so a retried send stores nothing
 * new.
 */
function chatTables(dialect: DbDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("chat_conversations")
        .addColumn("id", key(dialect, 40), (c) => c.primaryKey())
        .addColumn("kind", "varchar(8)", (c) => c.notNull())
        .addColumn("direct_key", key(dialect, 64), (c) => c.unique())
        .addColumn("name", "text")
        .addColumn("last_seq", "bigint", (c) => c.notNull())
        .addColumn("member_count", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .$call(mysqlTableOptions(dialect))
        .execute();
      await db.schema
        .createTable("chat_members")
        .addColumn("conv_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("uid", key(dialect, 128), (c) => c.notNull())
        .addColumn("role", "varchar(8)", (c) => c.notNull())
        .addColumn("read_seq", "bigint", (c) => c.notNull())
        .addColumn("joined_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("chat_members_pk", ["conv_id", "uid"])
        .$call(mysqlTableOptions(dialect))
        .execute();
      // A user's conversations.
      await db.schema
        .createIndex("chat_members_uid")
        .on("chat_members")
        .columns(["uid", "conv_id"])
        .execute();
      await db.schema
        .createTable("chat_messages")
        .addColumn("conv_id", key(dialect, 40), (c) => c.notNull())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("id", key(dialect, 40), (c) => c.notNull().unique())
        .addColumn("sender", key(dialect, 128), (c) => c.notNull())
        .addColumn("client_msg_id", key(dialect, 64), (c) => c.notNull())
        .addColumn("type", "varchar(16)", (c) => c.notNull())
        .addColumn("text", "text")
        .addColumn("file_id", key(dialect, 64))
        .addColumn("meta", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("recalled_at", "bigint")
        .addPrimaryKeyConstraint("chat_messages_pk", ["conv_id", "seq"])
        .addUniqueConstraint("chat_messages_client", ["conv_id", "sender", "client_msg_id"])
        .$call(mysqlTableOptions(dialect))
        .execute();
      // "Was this file shared in this conversation?"
      await db.schema
        .createIndex("chat_messages_file")
        .on("chat_messages")
        .columns(["conv_id", "file_id"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("chat_messages").execute();
      await db.schema.dropTable("chat_members").execute();
      await db.schema.dropTable("chat_conversations").execute();
    },
  };
}

/**
 * A tus upload's running hash state (hash-wasm's, saved after every PATCH)
 * gave way to native digests kept in memory by the instance taking the
 * PATCHes, rebuilt from the stored bytes on a takeover (issue 15): the record
 * keeps only the final digests, saved before the upload becomes a file.
 */
function uploadDigests(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("file_uploads").dropColumn("hash_state").execute();
      await db.schema.alterTable("file_uploads").addColumn("sha256", "varchar(64)").execute();
      await db.schema.alterTable("file_uploads").addColumn("md5", "varchar(32)").execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable("file_uploads").dropColumn("md5").execute();
      await db.schema.alterTable("file_uploads").dropColumn("sha256").execute();
      await db.schema.alterTable("file_uploads").addColumn("hash_state", "text").execute();
    },
  };
}

/**
 * GET /api/v1/files lists live files newest first, by (created_at, id) keyset
 * pages: this index lets a page read its own rows instead of sorting the table.
 */
function filesCreated(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex("files_created")
        .on("files")
        .columns(["created_at", "id"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex("files_created").on("files").execute();
    },
  };
}

export function migrationProvider(dialect: DbDialect): MigrationProvider {
  return {
    getMigrations: () =>
      Promise.resolve({
        "0001_packer": packerTables(dialect),
        "0002_files": fileTables(dialect),
        "0003_file_quota": fileQuotaTables(dialect),
        "0004_packer_limits": packerLimits(),
        "0005_cluster": clusterTables(dialect),
        "0006_packer_mothers": packerMothers(),
        "0007_guess_wallets": guessWallets(dialect),
        "0008_guess_matches": guessMatches(dialect),
        "0009_guess_bets": guessBets(dialect),
        "0010_guess_orders": guessOrders(dialect),
        "0011_chat": chatTables(dialect),
        "0012_upload_digests": uploadDigests(),
        "0013_files_created": filesCreated(),
      }),
  };
}
