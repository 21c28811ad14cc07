/**
 * What the packer's three stores share: the Kysely handle, the clock, and the
 * job-scoped transaction that orders every visible change of one job.
 *
 * withJob first updates the job's row — a row lock on MySQL/PostgreSQL,
 * SQLite's write lock taken up front — and bumps `change_seq`, so the
 * transitions of one job run one at a time (exactly one of them sees the job
 * finish) and every channel they change can be stamped with the new sequence
 * number (`changed_seq`), which is how event streams read only what changed.
 */
import { sql, type Kysely, type Transaction } from "kysely";
import type { PackJobTable, PackTaskTable, Tables } from "../../db/index.js";

export type JobRow = PackJobTable;
export type TaskRow = PackTaskTable;
export type Trx = Transaction<Tables>;

export interface TaskError {
  code: string;
  message: string;
}

export class StoreBase {
  constructor(
    readonly db: Kysely<Tables>,
    readonly now: () => number,
  ) {}

  /** Runs `work` in a transaction that holds the job's row lock and has bumped its change_seq. */
  withJob<T>(jobId: string, work: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("pack_jobs")
        .set((eb) => ({ updated_at: this.now(), change_seq: eb("change_seq", "+", 1) }))
        .where("id", "=", jobId)
        .execute();
      return work(trx);
    });
  }
}

/** The job's row, read through `db` (a transaction or the pool); undefined if there is none. */
export function selectJob(db: Kysely<Tables> | Trx, jobId: string): Promise<JobRow | undefined> {
  return db.selectFrom("pack_jobs").selectAll().where("id", "=", jobId).executeTakeFirst();
}

/** The job's change_seq as a subquery, for stamping a changed task inside withJob. */
export function currentSeq(jobId: string) {
  return sql<number>`(select change_seq from pack_jobs where id = ${jobId})`;
}
