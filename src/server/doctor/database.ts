/**
 * The database check: reachable, logged in, and which migrations it has. It
 * changes nothing: pending migrations are reported, and run by the next
 * start of serve, worker or files.
 */
import { redactUrl } from "../../core/index.js";
import { readMigrationState, type DatabaseConfig } from "../../db/index.js";
import { fail, pass, reason, runProbe, type Check } from "./check.js";
import { writableFile } from "./paths.js";
import { endpointOf, reachTcp } from "./reach.js";

const NAME = "database";

function migrationsText(applied: string[], pending: string[]): string {
  if (pending.length === 0) return `all ${applied.length} migrations applied`;
  return `${pending.length} of ${applied.length + pending.length} migrations pending (${pending.join(", ")}); the next start applies them`;
}

/** What to change for a driver's refusal, from the words servers use. */
function sqlFix(driver: "mysql" | "postgres", err: unknown): string {
  const text = reason(err);
  const server = driver === "mysql" ? "MySQL/MariaDB" : "PostgreSQL";
  if (
    /access denied|password authentication|authentication failed|role .* does not exist/i.test(text)
  )
    return "check the user and password in database.url, and that the server lets this user in";
  if (/unknown database|database .* does not exist/i.test(text))
    return "create the database (CREATE DATABASE ...) or name an existing one in database.url";
  if (/does not resolve|cannot connect|nothing answered|did not answer/i.test(text))
    return `start ${server} there, or correct the host and port in database.url`;
  return `check database.url and that ${server} accepts connections`;
}

async function checkSqlite(path: string): Promise<Check> {
  const exists = await writableFile(path);
  if (!exists) return pass(NAME, `sqlite ${path} (created at the first start)`);
  const { applied, pending } = await readMigrationState({ driver: "sqlite", path });
  return pass(NAME, `sqlite ${path}: ${migrationsText(applied, pending)}`);
}

async function checkServer(
  config: Extract<DatabaseConfig, { url: string }>,
  timeoutMs: number,
): Promise<Check> {
  const where = redactUrl(config.url);
  const endpoint = endpointOf(config.url);
  if (endpoint) await reachTcp(endpoint, timeoutMs);
  const { applied, pending } = await readMigrationState(config);
  return pass(NAME, `${config.driver} ${where}: ${migrationsText(applied, pending)}`);
}

export function checkDatabase(config: DatabaseConfig, timeoutMs: number): Promise<Check> {
  if (config.driver === "sqlite") {
    return runProbe(
      NAME,
      timeoutMs,
      () => checkSqlite(config.path),
      () => "make the directory writable for this user, or set database.path (or --data)",
    );
  }
  if (config.url === "") {
    return Promise.resolve(
      fail(
        NAME,
        `database.driver is ${config.driver} but database.url is empty`,
        `set database.url (${config.driver === "mysql" ? "mysql://user:pass@host:3306/db" : "postgres://user@host:5432/db"})`,
      ),
    );
  }
  return runProbe(
    NAME,
    timeoutMs,
    async () => {
      try {
        return await checkServer(config, timeoutMs);
      } catch (err) {
        // Messages of some drivers quote the URL they were given, password included.
        const where = redactUrl(config.url);
        throw new Error(`${where}: ${reason(err).split(config.url).join(where)}`);
      }
    },
    (err) => sqlFix(config.driver, err),
    redactUrl(config.url),
  );
}
