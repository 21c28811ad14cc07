/**
 * Opens the SQL database through Kysely: better-sqlite3 (embedded default),
 * mysql2 (MySQL/MariaDB) or pg (PostgreSQL). Each driver is imported only when
 * used, so the embedded default never loads mysql2 or pg. Migrations run on open.
 */
import { dirname } from "node:path";
import type SQLite from "better-sqlite3";
import { Kysely, Migrator, type Dialect, type SqliteDatabase } from "kysely";
import { GamedockError, redactUrl, makeDirectorySync, directoryError } from "../core/index.js";
import { migrationProvider } from "./migrations.js";
import type { Tables } from "./schema.js";

export type DbDialect = "sqlite" | "mysql" | "postgres";

export type DatabaseConfig =
  | { driver: "sqlite"; /** file; ":memory:" for tests */ path: string }
  | { driver: "mysql" | "postgres"; url: string };

export interface Database {
  readonly dialect: DbDialect;
  readonly db: Kysely<Tables>;
  close(): Promise<void>;
}

async function sqliteDialect(path: string): Promise<Dialect> {
  const { default: SQLite } = await import("better-sqlite3");
  const { SqliteDialect } = await import("kysely");
  if (path !== ":memory:") {
    makeDirectorySync(dirname(path), directoryError("directory of the SQLite database"));
  }
  const database = new SQLite(path);
  // WAL lets readers (the HTTP API) run while a worker writes; busy_timeout
  // makes a second process (gamedock worker) wait for the lock instead of failing.
  database.pragma("journal_mode = WAL");
  database.pragma("busy_timeout = 5000");
  database.pragma("synchronous = NORMAL");
  return new SqliteDialect({ database: withStatementCache(database) });
}

/** Distinct SQL texts kept compiled; the queries gamedock makes are far fewer. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles the SQL on
 * each prepare: a tenth of serve's CPU per cluster task went there
 * (bench:cluster). Statements are kept by their SQL text, least recently
 * used first out. Reuse is safe because every query runs synchronously to
 * its end (no statement is left half-iterated: gamedock never streams), and
 * SQLite recompiles a kept statement itself when the schema changed.
 */
function withStatementCache(database: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql); // to the back: most recently used
      } else {
        statement = database.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) {
          statements.delete(statements.keys().next().value!);
        }
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

async function mysqlDialect(url: string): Promise<Dialect> {
  const { createPool } = await import("mysql2");
  const { MysqlDialect } = await import("kysely");
  return new MysqlDialect({
    pool: createPool({
      uri: url,
      connectionLimit: 10,
      supportBigNumbers: true,
      charset: "utf8mb4",
    }),
  });
}

async function postgresDialect(url: string): Promise<Dialect> {
  const pg = await import("pg");
  const { PostgresDialect } = await import("kysely");
  // int8 (bigint) arrives as a string by default; our bigints are millisecond
  // times and byte sizes, far below 2^53.
  const INT8 = 20;
  const builtin = pg.default.types;
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === INT8
        ? (value: string) => Number(value)
        : (builtin.getTypeParser as (o: number, f?: string) => unknown)(
            oid,
            format,
          )) as typeof builtin.getTypeParser,
  };
  return new PostgresDialect({
    pool: new pg.default.Pool({ connectionString: url, max: 10, types }),
  });
}

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const dialect: Dialect =
    config.driver === "sqlite"
      ? await sqliteDialect(config.path)
      : config.driver === "mysql"
        ? await mysqlDialect(config.url)
        : await postgresDialect(config.url);
  const db = new Kysely<Tables>({ dialect });
  const where = config.driver === "sqlite" ? config.path : redactUrl(config.url);
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider(config.driver),
      migrationTableName: "gamedock_migrations",
      migrationLockTableName: "gamedock_migrations_lock",
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw new GamedockError(
      "E_SERVICE_UNAVAILABLE",
      `cannot open the ${config.driver} database at ${where}: ${(err as Error).message}`,
      { driver: config.driver },
    );
  }
  return { dialect: config.driver, db, close: () => db.destroy() };
}

export interface MigrationState {
  applied: string[];
  /** Run by the next openDatabase (the next start of serve, worker or files). */
  pending: string[];
}

/**
 * Connects and reads which migrations the database has, changing nothing
 * (`gamedock doctor`). A SQLite file is created if missing: check first.
 * Throws the driver's own error when the database cannot be reached.
 */
export async function readMigrationState(config: DatabaseConfig): Promise<MigrationState> {
  const dialect: Dialect =
    config.driver === "sqlite"
      ? await sqliteDialect(config.path)
      : config.driver === "mysql"
        ? await mysqlDialect(config.url)
        : await postgresDialect(config.url);
  const db = new Kysely<Tables>({ dialect });
  try {
    const migrations = await new Migrator({
      db,
      provider: migrationProvider(config.driver),
      migrationTableName: "gamedock_migrations",
      migrationLockTableName: "gamedock_migrations_lock",
    }).getMigrations();
    return {
      applied: migrations.filter((m) => m.executedAt !== undefined).map((m) => m.name),
      pending: migrations.filter((m) => m.executedAt === undefined).map((m) => m.name),
    };
  } finally {
    await db.destroy().catch(() => undefined);
  }
}
