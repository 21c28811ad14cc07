/**
 * A throwaway database per test run, for suites that run once per SQL dialect:
 * SQLite in a temp dir, a fresh database on the loopback MariaDB (3306) and
 * PostgreSQL (5432). Created and dropped with mysql2 and pg directly, not
 * through openDatabase, so the code under test never sees an admin connection.
 *
 *   for (const target of DATABASE_TARGETS)
 *     describe(`… on ${target.dialect}`, { skip: target.skip }, () => { … });
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { DatabaseConfig, DbDialect } from "../../src/db/index.js";
import { skipUnlessService, uniquePrefix } from "./services.js";

const MYSQL_ROOT = "mysql://root@127.0.0.1:3306/";
const POSTGRES_ROOT = "postgres://postgres@127.0.0.1:5432/postgres";

export interface DatabaseTarget {
  dialect: DbDialect;
  /** node:test's `skip`: false, or why the service is missing. */
  skip: string | false;
}

/** Every dialect; the service checks run once, when this module loads. */
export const DATABASE_TARGETS: readonly DatabaseTarget[] = [
  { dialect: "sqlite", skip: false },
  { dialect: "mysql", skip: await skipUnlessService("mariadb") },
  { dialect: "postgres", skip: await skipUnlessService("postgres") },
];

export interface TestDatabase {
  dialect: DbDialect;
  /** What openDatabase takes; open it as often as the test needs. */
  config: DatabaseConfig;
  /** MySQL database or PostgreSQL database name; the file path for SQLite. */
  name: string;
  /** Removes the database; close every pool on it first. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /**
   * MySQL only: the database's default character set. Tables that must hold
   * any UTF-8 have to say utf8mb4 themselves; "latin1" checks that they do.
   */
  mysqlCharset?: string;
}

export async function createTestDatabase(
  dialect: DbDialect,
  label: string,
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const name = uniquePrefix(label);
  if (dialect === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), `${name}-`));
    const path = join(dir, "gamedock.db");
    return {
      dialect,
      config: { driver: "sqlite", path },
      name: path,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (dialect === "mysql") {
    const { createConnection } = await import("mysql2/promise");
    const admin = async (statement: string): Promise<void> => {
      const connection = await createConnection({ uri: MYSQL_ROOT });
      try {
        await connection.query(statement);
      } finally {
        await connection.end();
      }
    };
    const charset = options.mysqlCharset ?? "utf8mb4";
    await admin(`CREATE DATABASE \`${name}\` CHARACTER SET ${charset}`);
    return {
      dialect,
      config: { driver: "mysql", url: `${MYSQL_ROOT}${name}` },
      name,
      drop: () => admin(`DROP DATABASE IF EXISTS \`${name}\``),
    };
  }
  const { default: pg } = await import("pg");
  const admin = async (statement: string): Promise<void> => {
    const client = new pg.Client({ connectionString: POSTGRES_ROOT });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(POSTGRES_ROOT);
  url.pathname = `/${name}`;
  return {
    dialect,
    config: { driver: "postgres", url: url.toString() },
    name,
    drop: async () => {
      // pg's Pool.end() resolves before its sockets are closed, so the server
      // may still count sessions for a moment: wait for them rather than
      // terminate them (a terminated session raises an error in the test
      // process). A pool a failed test never closed is terminated at last.
      for (let attempt = 0; attempt < 60; attempt++) {
        try {
          await admin(`DROP DATABASE IF EXISTS "${name}"`);
          return;
        } catch (err) {
          if (!isObjectInUse(err)) throw err;
          await delay(50);
        }
      }
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** PostgreSQL's 55006: the database still has sessions. */
function isObjectInUse(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === "55006";
}
