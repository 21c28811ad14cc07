/**
 * Schema migrations, in code so the compiled package carries them. Each runs
 * once per database (Kysely's Migrator records them). Column types are chosen
 * to mean the same on SQLite, MySQL/MariaDB and PostgreSQL.
 */
import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";
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

export function migrationProvider(dialect: DbDialect): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ "0001_packer": packerTables(dialect) }),
  };
}
