/** Executors in SQL: registration, heartbeats, and who has gone silent. */
import type { Kysely } from "kysely";
import type { ClusterExecutorTable, Tables } from "../../db/index.js";
import type { ExecutorRegistration } from "../model.js";

export type ExecutorRow = ClusterExecutorTable;

export class ExecutorStore {
  constructor(
    readonly db: Kysely<Tables>,
    readonly now: () => number,
  ) {}

  /** Registers (or re-registers after a restart, under the same id) an executor as alive. */
  async register(executor: ExecutorRegistration): Promise<ExecutorRow> {
    const now = this.now();
    const row: ExecutorRow = {
      id: executor.id,
      host: executor.host,
      pool: executor.pool,
      tools: JSON.stringify(executor.tools),
      labels: JSON.stringify(executor.labels),
      slots: executor.slots,
      busy: 0,
      cache_bytes: executor.cache.bytes,
      cache_max: executor.cache.max,
      state: "alive",
      registered_at: now,
      last_seen: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("cluster_executors").where("id", "=", executor.id).execute();
      await trx.insertInto("cluster_executors").values(row).execute();
    });
    return row;
  }

  /** Records a heartbeat; false when the executor is unknown or was declared lost (it must register again). */
  async heartbeat(id: string, report: { busy: number; cacheBytes: number }): Promise<boolean> {
    const result = await this.db
      .updateTable("cluster_executors")
      .set({ busy: report.busy, cache_bytes: report.cacheBytes, last_seen: this.now() })
      .where("id", "=", id)
      .where("state", "=", "alive")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  get(id: string): Promise<ExecutorRow | undefined> {
    return this.db
      .selectFrom("cluster_executors")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
  }

  list(): Promise<ExecutorRow[]> {
    return this.db
      .selectFrom("cluster_executors")
      .selectAll()
      .where("state", "!=", "gone")
      .orderBy("registered_at")
      .execute();
  }

  alive(pool: string): Promise<ExecutorRow[]> {
    return this.db
      .selectFrom("cluster_executors")
      .selectAll()
      .where("pool", "=", pool)
      .where("state", "=", "alive")
      .execute();
  }

  /** Marks alive executors silent since before `cutoff` as lost; returns their ids. */
  async markLost(cutoff: number): Promise<string[]> {
    const silent = await this.db
      .selectFrom("cluster_executors")
      .select("id")
      .where("state", "=", "alive")
      .where("last_seen", "<", cutoff)
      .execute();
    const lost: string[] = [];
    for (const { id } of silent) {
      const result = await this.db
        .updateTable("cluster_executors")
        .set({ state: "lost" })
        .where("id", "=", id)
        .where("state", "=", "alive")
        .where("last_seen", "<", cutoff)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) lost.push(id);
    }
    return lost;
  }

  /** An executor that said goodbye. */
  async deregister(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable("cluster_executors")
      .set({ state: "gone", busy: 0 })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
