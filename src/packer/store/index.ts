/**
 * The packer's durable state (the original design's backup queues, made
 * durable), in three parts: jobs and their channels as clients see them
 * (jobs.ts), the leases and transitions of channels' work (tasks.ts), and the
 * outbox of notifications (outbox.ts). Every visible change of a job runs in a
 * transaction that holds the job's row (base.ts).
 */
import type { Database } from "../../db/index.js";
import { StoreBase } from "./base.js";
import { JobStore } from "./jobs.js";
import { Outbox } from "./outbox.js";
import { TaskLeases } from "./tasks.js";

export { selectJob, type JobRow, type TaskError, type TaskRow, type Trx } from "./base.js";
export {
  afterChange,
  emptyCounts,
  newJobRow,
  newTaskRows,
  type ChangeCursor,
  type ChannelPage,
  type StateCounts,
} from "./jobs.js";
export { MAX_FAILED_LISTED, finalStatus, levelOf, notifyTargetsOf } from "./outbox.js";
export type { ClaimOptions, ClaimResult } from "./tasks.js";

export class PackStore {
  readonly jobs: JobStore;
  readonly tasks: TaskLeases;
  readonly outbox: Outbox;
  readonly base: StoreBase;

  constructor(
    readonly database: Database,
    now: () => number = Date.now,
  ) {
    this.base = new StoreBase(database.db, now);
    this.jobs = new JobStore(this.base);
    this.tasks = new TaskLeases(this.base);
    this.outbox = new Outbox(this.base);
  }

  get db() {
    return this.base.db;
  }

  now(): number {
    return this.base.now();
  }
}
