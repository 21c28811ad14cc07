/**
 * FileMetadata in SQL through Kysely, the same on SQLite, MySQL/MariaDB and
 * PostgreSQL (tables: migrations 0002_files and 0003_file_quota). Several
 * `gamedock files` instances may share the database, so every method is one
 * statement or one transaction, and the two that race — a blob being removed
 * while a new file is made to point at it — take a row lock on the blob
 * (SQLite has a single writer, so one statement there is enough). Quota
 * reservations are decided in metadata-quota.ts, listing pages built in
 * metadata-list.ts.
 */
import { type Kysely, type Transaction, sql } from "kysely";
import { GamedockError } from "../core/index.js";
import type {
  Database,
  DbDialect,
  FileBlobTable,
  FileTable,
  FileUploadTable,
  Tables,
} from "../db/index.js";
import type {
  BlobRecord,
  FileListQuery,
  FileMetadata,
  FileRecord,
  ReserveOutcome,
  ReserveRequest,
  UploadRecord,
} from "./contract.js";
import { listFileRows } from "./metadata-list.js";
import { QuotaSql, usageOf } from "./metadata-quota.js";

const FILE_COLUMNS = [
  "id",
  "name",
  "content_type",
  "size",
  "sha256",
  "md5",
  "blob_key",
  "owner",
  "created_at",
  "expires_at",
] as const satisfies readonly (keyof FileTable)[];

function toBlob(row: FileBlobTable): BlobRecord {
  return { sha256: row.sha256, md5: row.md5, size: row.size, blobKey: row.blob_key };
}

function toFileRow(file: FileRecord): FileTable {
  return {
    id: file.id,
    name: file.name,
    content_type: file.contentType,
    size: file.size,
    sha256: file.sha256,
    md5: file.md5,
    blob_key: file.blobKey,
    owner: file.owner,
    created_at: file.createdAt.getTime(),
    expires_at: file.expiresAt === null ? null : file.expiresAt.getTime(),
  };
}

function toFile(row: FileTable): FileRecord {
  return {
    id: row.id,
    name: row.name,
    contentType: row.content_type,
    size: row.size,
    sha256: row.sha256,
    md5: row.md5,
    blobKey: row.blob_key,
    owner: row.owner,
    createdAt: new Date(row.created_at),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

function toUploadRow(upload: UploadRecord): FileUploadTable {
  return {
    id: upload.id,
    name: upload.name,
    content_type: upload.contentType,
    owner: upload.owner,
    size: upload.size,
    received: upload.offset,
    sha256: upload.digests?.sha256 ?? null,
    md5: upload.digests?.md5 ?? null,
    created_at: upload.createdAt.getTime(),
    expires_at: upload.expiresAt.getTime(),
  };
}

function toUpload(row: FileUploadTable): UploadRecord {
  return {
    id: row.id,
    name: row.name,
    contentType: row.content_type,
    owner: row.owner,
    size: row.size,
    offset: row.received,
    digests: row.sha256 !== null && row.md5 !== null ? { sha256: row.sha256, md5: row.md5 } : null,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
  };
}

/** mysql2 reports a primary-key collision as ER_DUP_ENTRY (errno 1062). */
function isDuplicateKey(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === "ER_DUP_ENTRY";
}

export class SqlFileMetadata implements FileMetadata {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;
  private readonly quota: QuotaSql;

  constructor(database: Database) {
    this.db = database.db;
    this.dialect = database.dialect;
    this.quota = new QuotaSql(database.db, database.dialect);
  }

  async findBlob(sha256: string): Promise<BlobRecord | null> {
    const row = await this.db
      .selectFrom("file_blobs")
      .selectAll()
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row ? toBlob(row) : null;
  }

  async addBlob(blob: BlobRecord): Promise<{ blob: BlobRecord; created: boolean }> {
    const row: FileBlobTable = {
      sha256: blob.sha256,
      md5: blob.md5,
      size: blob.size,
      blob_key: blob.blobKey,
      created_at: Date.now(),
    };
    // The existing blob may be removed between our conflicting insert and the
    // select; the next insert then records ours.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.insertBlobIfAbsent(row)) return { blob: toBlob(row), created: true };
      const existing = await this.findBlob(blob.sha256);
      if (existing) return { blob: existing, created: false };
    }
    throw new GamedockError(
      "E_INTERNAL",
      `blob ${blob.sha256} kept being recorded and removed concurrently; retry the upload`,
      { sha256: blob.sha256 },
    );
  }

  /** True if this call inserted the row; false if a blob with its sha256 exists. */
  private async insertBlobIfAbsent(row: FileBlobTable): Promise<boolean> {
    if (this.dialect === "mysql") {
      // Not INSERT IGNORE: that would also turn truncation and other errors
      // into warnings. A duplicate key is the only error that means "exists".
      try {
        await this.db.insertInto("file_blobs").values(row).execute();
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    }
    const result = await this.db
      .insertInto("file_blobs")
      .values(row)
      .onConflict((conflict) => conflict.column("sha256").doNothing())
      .executeTakeFirst();
    return result.numInsertedOrUpdatedRows === 1n;
  }

  async removeBlobIfUnused(sha256: string): Promise<boolean> {
    const removeUnused = (db: Kysely<Tables>) =>
      db
        .deleteFrom("file_blobs")
        .where("file_blobs.sha256", "=", sha256)
        .where((eb) =>
          eb.not(
            eb.exists(eb.selectFrom("files").select("files.id").where("files.sha256", "=", sha256)),
          ),
        )
        .executeTakeFirst();
    if (this.dialect === "sqlite") return (await removeUnused(this.db)).numDeletedRows > 0n;
    // The DELETE alone is not enough on PostgreSQL: its NOT EXISTS reads the
    // statement's snapshot and misses a file committed while the DELETE waited
    // for the blob row (in a test, 14 of 200 races left a file without its
    // blob). createFile holds a share lock on the blob until it commits; this
    // exclusive lock waits for it, and the DELETE, a later statement, sees the file.
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.lockBlob(trx, sha256, "update"))) return false;
      return (await removeUnused(trx)).numDeletedRows > 0n;
    });
  }

  async createFile(file: FileRecord): Promise<void> {
    const row = toFileRow(file);
    // The reservation the upload held becomes the file's usage in the same transaction.
    const consumeReservation = (trx: Transaction<Tables>) =>
      trx.deleteFrom("file_reservations").where("id", "=", file.id).execute();
    let inserted: boolean;
    if (this.dialect === "sqlite") {
      inserted = await this.db.transaction().execute(async (trx) => {
        // INSERT … SELECT … WHERE EXISTS: one statement, atomic under SQLite's single writer.
        const result = await trx
          .insertInto("files")
          .columns(FILE_COLUMNS)
          .expression(
            trx
              .selectNoFrom(FILE_COLUMNS.map((column) => sql.val(row[column]).as(column)))
              .where((eb) =>
                eb.exists(
                  eb
                    .selectFrom("file_blobs")
                    .select("sha256")
                    .where("file_blobs.sha256", "=", row.sha256),
                ),
              ),
          )
          .executeTakeFirst();
        if (result.numInsertedOrUpdatedRows !== 1n) return false;
        await consumeReservation(trx);
        return true;
      });
    } else {
      inserted = await this.db.transaction().execute(async (trx) => {
        if (!(await this.lockBlob(trx, row.sha256, "share"))) return false;
        await trx.insertInto("files").values(row).execute();
        await consumeReservation(trx);
        return true;
      });
    }
    if (!inserted) {
      // A file must never point at bytes that are gone (a cleaner may have just
      // removed the blob it found unused).
      throw new GamedockError(
        "E_INTERNAL",
        `file ${file.id}: blob ${file.sha256} is not recorded (addBlob first; it may have been removed concurrently, so retry the upload)`,
        { id: file.id, sha256: file.sha256 },
      );
    }
  }

  /**
   * Locks the blob row until the transaction ends; false if there is none.
   * "share" lets files be created side by side; "update" excludes them.
   */
  private async lockBlob(
    trx: Transaction<Tables>,
    sha256: string,
    mode: "share" | "update",
  ): Promise<boolean> {
    const query = trx.selectFrom("file_blobs").select("sha256").where("sha256", "=", sha256);
    const locked =
      mode === "update"
        ? query.forUpdate()
        : this.dialect === "mysql"
          ? // MariaDB has no FOR SHARE; both it and MySQL 8 accept the older spelling.
            query.modifyEnd(sql`lock in share mode`)
          : query.forShare();
    return (await locked.executeTakeFirst()) !== undefined;
  }

  async getFile(id: string): Promise<FileRecord | null> {
    const row = await this.db
      .selectFrom("files")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toFile(row) : null;
  }

  async findByDigest(
    kind: "sha256" | "md5",
    hex: string,
    at = new Date(),
  ): Promise<FileRecord | null> {
    const now = at.getTime();
    const row = await this.db
      .selectFrom("files")
      .selectAll()
      .where(kind, "=", hex)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? toFile(row) : null;
  }

  async listFiles(query: FileListQuery): Promise<FileRecord[]> {
    return (await listFileRows(this.db, this.dialect, query)).map(toFile);
  }

  async deleteFile(id: string): Promise<FileRecord | null> {
    if (this.dialect !== "mysql") {
      const row = await this.db
        .deleteFrom("files")
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      return row ? toFile(row) : null;
    }
    // MySQL has no DELETE … RETURNING: read under a lock so that of two
    // concurrent deletes only one returns the record.
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("files")
        .selectAll()
        .where("id", "=", id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return null;
      await trx.deleteFrom("files").where("id", "=", id).execute();
      return toFile(row);
    });
  }

  usedBytes(owner: string, now = new Date()): Promise<number> {
    return usageOf(this.db, owner, now.getTime());
  }

  reserve(request: ReserveRequest): Promise<ReserveOutcome> {
    return this.quota.reserve(request);
  }

  renewReservation(id: string, expiresAt: Date): Promise<void> {
    return this.quota.renew(id, expiresAt);
  }

  releaseReservation(id: string): Promise<void> {
    return this.quota.release(id);
  }

  async expiredFiles(now: Date, limit: number): Promise<FileRecord[]> {
    const rows = await this.db
      .selectFrom("files")
      .selectAll()
      .where("expires_at", "<=", now.getTime())
      .orderBy("expires_at", "asc")
      .orderBy("id", "asc")
      .limit(limit)
      .execute();
    return rows.map(toFile);
  }

  async saveUpload(upload: UploadRecord): Promise<void> {
    const { id, ...changes } = toUploadRow(upload);
    const insert = this.db.insertInto("file_uploads").values({ id, ...changes });
    await (
      this.dialect === "mysql"
        ? insert.onDuplicateKeyUpdate(changes)
        : insert.onConflict((conflict) => conflict.column("id").doUpdateSet(changes))
    ).execute();
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    const row = await this.db
      .selectFrom("file_uploads")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toUpload(row) : null;
  }

  async deleteUpload(id: string): Promise<void> {
    // With its reservation: the space comes back exactly when the upload is gone.
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("file_uploads").where("id", "=", id).execute();
      await trx.deleteFrom("file_reservations").where("id", "=", id).execute();
    });
  }

  async expiredUploads(now: Date, limit: number): Promise<UploadRecord[]> {
    const rows = await this.db
      .selectFrom("file_uploads")
      .selectAll()
      .where("expires_at", "<=", now.getTime())
      .orderBy("expires_at", "asc")
      .orderBy("id", "asc")
      .limit(limit)
      .execute();
    return rows.map(toUpload);
  }
}
