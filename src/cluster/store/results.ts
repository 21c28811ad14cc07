/** The result cache: a cacheable task's digest → the first successful result. */
import type { Kysely } from "kysely";
import type { Tables } from "../../db/index.js";

export class ResultCache {
  constructor(
    readonly db: Kysely<Tables>,
    readonly now: () => number,
  ) {}

  async get(digest: string): Promise<string | null> {
    const row = await this.db
      .selectFrom("cluster_results")
      .select("result")
      .where("digest", "=", digest)
      .executeTakeFirst();
    return row?.result ?? null;
  }

  /** Keeps the first result of a digest; a later one with the same digest is dropped. */
  async put(digest: string, taskId: string, result: string): Promise<void> {
    try {
      await this.db
        .insertInto("cluster_results")
        .values({ digest, task_id: taskId, result, created_at: this.now() })
        .execute();
    } catch (err) {
      if (!(await this.get(digest))) throw err; // not a duplicate key: a real failure
    }
  }

  async purge(before: number): Promise<void> {
    await this.db.deleteFrom("cluster_results").where("created_at", "<", before).execute();
  }
}
