/**
 * The quota half of SqlFileMetadata (tables: migration 0003_file_quota): what
 * an owner uses, and reservations decided so that parallel uploads can never
 * together pass the quota — on SQLite, MySQL/MariaDB and PostgreSQL alike.
 *
 * A decision reads the owner's usage and writes a reservation; two decisions
 * of one owner must not interleave. Each runs in one transaction that first
 * writes the owner's row in `file_quota_owners` and then (MySQL, PostgreSQL)
 * locks it FOR UPDATE: the next decision for that owner waits for the commit,
 * and, under READ COMMITTED, its usage query sees what the first one reserved.
 * On SQLite the first write takes the database's single write lock for the
 * transaction, which serializes every decision there.
 */
import { type Kysely, type Transaction, sql } from "kysely";
import type { DbDialect, FileReservationTable, Tables } from "../db/index.js";
import type { ReserveOutcome, ReserveRequest } from "./contract.js";

/** SUM over bigint is DECIMAL on MySQL and numeric on PostgreSQL: the drivers return strings. */
type SqlSum = number | string | null;

/** A transaction that lost a deadlock (MySQL 1213, PostgreSQL 40P01) is simply run again. */
const DEADLOCK_RETRIES = 5;

function isDeadlock(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === "ER_LOCK_DEADLOCK" || code === "40P01";
}

/**
 * Bytes `owner` uses at `now`: unexpired files plus reservations that still
 * count — backed by a tus upload record (released only when the record goes,
 * under the upload's lock, so a PATCH in flight keeps its space), or, without
 * one, not yet past their expiry. `exceptId` leaves one reservation out.
 * One statement, one snapshot: a file and the reservation it replaced are
 * never both counted, nor both missed.
 */
export async function usageOf(
  db: Kysely<Tables>,
  owner: string,
  now: number,
  exceptId?: string,
): Promise<number> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom("files")
        .select((s) => s.fn.sum<SqlSum>("size").as("bytes"))
        .where("owner", "=", owner)
        .where((w) => w.or([w("expires_at", "is", null), w("expires_at", ">", now)]))
        .as("file_bytes"),
      eb
        .selectFrom("file_reservations as r")
        .select((s) => s.fn.sum<SqlSum>("r.bytes").as("bytes"))
        .where("r.owner", "=", owner)
        .$if(exceptId !== undefined, (q) => q.where("r.id", "!=", exceptId ?? ""))
        .where((w) =>
          w.or([
            w("r.expires_at", ">", now),
            w.exists(
              w.selectFrom("file_uploads as u").select("u.id").whereRef("u.id", "=", "r.id"),
            ),
          ]),
        )
        .as("reserved_bytes"),
    ])
    .executeTakeFirstOrThrow();
  return Number(row.file_bytes ?? 0) + Number(row.reserved_bytes ?? 0);
}

export class QuotaSql {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly dialect: DbDialect,
  ) {}

  async reserve(request: ReserveRequest): Promise<ReserveOutcome> {
    return this.decideFor(request.owner, async (trx) => {
      const now = request.now.getTime();
      const othersUse = await usageOf(trx, request.owner, now, request.id);
      const room = request.quotaBytes - othersUse;
      if (room < request.bytes) return { held: null, othersUse };
      const held = Math.min(Math.max(request.upTo ?? request.bytes, request.bytes), room);
      await this.upsert(trx, {
        id: request.id,
        owner: request.owner,
        bytes: held,
        created_at: now,
        expires_at: request.expiresAt.getTime(),
      });
      return { held, othersUse };
    });
  }

  async renew(id: string, expiresAt: Date): Promise<void> {
    await this.db
      .updateTable("file_reservations")
      .set({ expires_at: expiresAt.getTime() })
      .where("id", "=", id)
      .execute();
  }

  async release(id: string): Promise<void> {
    await this.db.deleteFrom("file_reservations").where("id", "=", id).execute();
  }

  /** Runs `work` as the only quota decision of `owner` in progress, in one transaction. */
  private async decideFor<T>(
    owner: string,
    work: (trx: Transaction<Tables>) => Promise<T>,
  ): Promise<T> {
    const transaction =
      this.dialect === "sqlite"
        ? this.db.transaction()
        : // Each statement sees what committed before it, such as the reservation
          // of the decision this one waited for (MySQL's default would not).
          this.db.transaction().setIsolationLevel("read committed");
    for (let attempt = 1; ; attempt++) {
      try {
        return await transaction.execute(async (trx) => {
          await this.insertOwner(trx, owner); // a write first: SQLite's write lock from here on
          if (this.dialect !== "sqlite") {
            await trx
              .selectFrom("file_quota_owners")
              .select("owner")
              .where("owner", "=", owner)
              .forUpdate()
              .execute();
          }
          return work(trx);
        });
      } catch (err) {
        if (attempt >= DEADLOCK_RETRIES || !isDeadlock(err)) throw err;
      }
    }
  }

  private async insertOwner(trx: Transaction<Tables>, owner: string): Promise<void> {
    const insert = trx.insertInto("file_quota_owners").values({ owner });
    await (
      this.dialect === "mysql"
        ? insert.onDuplicateKeyUpdate({ owner: sql<string>`owner` })
        : insert.onConflict((conflict) => conflict.column("owner").doNothing())
    ).execute();
  }

  private async upsert(trx: Transaction<Tables>, row: FileReservationTable): Promise<void> {
    const changes = { bytes: row.bytes, expires_at: row.expires_at };
    const insert = trx.insertInto("file_reservations").values(row);
    await (
      this.dialect === "mysql"
        ? insert.onDuplicateKeyUpdate(changes)
        : insert.onConflict((conflict) => conflict.column("id").doUpdateSet(changes))
    ).execute();
  }
}
