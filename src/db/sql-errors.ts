/** How each SQL driver reports the two errors transactions retry on (guessing, chat). */

/** A key collision: the row a concurrent transaction inserted first. */
export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return (
    code === "ER_DUP_ENTRY" || // mysql2
    code === "23505" || // pg unique_violation
    code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    code === "SQLITE_CONSTRAINT_UNIQUE"
  );
}

/** MySQL's and PostgreSQL's deadlock errors: the database rolled the transaction back. */
export function isDeadlock(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === "ER_LOCK_DEADLOCK" || code === "40P01";
}
