/**
 * FileMetadata conformance: one suite, run on SQLite, MariaDB and PostgreSQL,
 * each in a database of its own. Tests share that database, so each uses its
 * own ids, digests and owners; only the expiry tests use times in 1970, which
 * no other test does, so they see exactly their own rows.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { openDatabase, type Database } from "../../src/db/index.js";
import type { FileRecord, ReserveRequest, UploadRecord } from "../../src/files/contract.js";
import { SqlFileMetadata } from "../../src/files/metadata.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const hex = (bytes: number): string => randomBytes(bytes).toString("hex");
const newId = (): string => randomBytes(12).toString("base64url");
const GiB = 2 ** 30;
const CHINESE_EMOJI_NAME = "渠道包 测试版 🎮😀 𠜎.apk";

function fileFor(overrides: Partial<FileRecord> = {}): FileRecord {
  const sha256 = overrides.sha256 ?? hex(32);
  return {
    id: newId(),
    name: "audio.amr",
    contentType: "audio/amr",
    size: 1234,
    sha256,
    md5: hex(16),
    blobKey: `blobs/${sha256}`,
    owner: `owner-${hex(4)}`,
    createdAt: new Date(1_700_000_000_123),
    expiresAt: null,
    ...overrides,
  };
}

function uploadFor(overrides: Partial<UploadRecord> = {}): UploadRecord {
  return {
    id: newId(),
    name: "upload.bin",
    contentType: "application/octet-stream",
    owner: `owner-${hex(4)}`,
    size: null,
    offset: 0,
    digests: null,
    createdAt: new Date(1_700_000_000_321),
    expiresAt: new Date(Date.now() + 3_600_000),
    ...overrides,
  };
}

for (const target of DATABASE_TARGETS) {
  describe(`SqlFileMetadata on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase | undefined;
    let database: Database | undefined;
    let meta: SqlFileMetadata;

    /** Records the blob, then the file: the order the service uses. */
    async function store(file: FileRecord): Promise<FileRecord> {
      await meta.addBlob({
        sha256: file.sha256,
        md5: file.md5,
        size: file.size,
        blobKey: file.blobKey,
      });
      await meta.createFile(file);
      return file;
    }

    before(async () => {
      // MySQL: a latin1 database, so the tables must declare utf8mb4 themselves.
      testDb = await createTestDatabase(target.dialect, "files", { mysqlCharset: "latin1" });
      database = await openDatabase(testDb.config);
      meta = new SqlFileMetadata(database);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("opens an already migrated database again", async () => {
      const again = await openDatabase(testDb!.config);
      try {
        const rows = await again.db.selectFrom("files").select("id").limit(1).execute();
        assert.ok(Array.isArray(rows));
        const applied = await sql<{ name: string }>`select name from gamedock_migrations`.execute(
          again.db,
        );
        assert.deepEqual(applied.rows.map((row) => row.name).sort(), [
          "0001_packer",
          "0002_files",
          "0003_file_quota",
          "0004_packer_limits",
          "0005_cluster",
          "0006_packer_mothers",
          "0007_guess_wallets",
          "0008_guess_matches",
          "0009_guess_bets",
          "0010_guess_orders",
          "0011_chat",
          "0012_upload_digests",
          "0013_files_created",
        ]);
      } finally {
        await again.close();
      }
    });

    it("returns a file exactly as stored: UTF-8 names, ms dates, numbers past 4 GiB", async () => {
      const kept = await store(
        fileFor({ name: CHINESE_EMOJI_NAME, size: 5 * GiB + 7, contentType: "图片/png" }),
      );
      const expiring = await store(
        fileFor({ createdAt: new Date(1_234_567_890_999), expiresAt: new Date(4_102_444_800_456) }),
      );
      for (const file of [kept, expiring]) {
        const got = await meta.getFile(file.id);
        assert.deepEqual(got, file);
        assert.ok(got.createdAt instanceof Date);
        assert.equal(typeof got.size, "number");
      }
      const blob = await meta.findBlob(kept.sha256);
      assert.deepEqual(blob, {
        sha256: kept.sha256,
        md5: kept.md5,
        size: 5 * GiB + 7,
        blobKey: kept.blobKey,
      });
    });

    // MySQL only: the other dialects have no per-table character set.
    if (target.dialect === "mysql")
      it("creates its MySQL tables in utf8mb4", async () => {
        const result = await sql<{ table_name: string; collation: string }>`
        select table_name as table_name, table_collation as collation
        from information_schema.tables
        where table_schema = database() and table_name in ('file_blobs', 'files', 'file_uploads')`.execute(
          database!.db,
        );
        assert.equal(result.rows.length, 3);
        for (const row of result.rows) assert.match(row.collation, /^utf8mb4_/, row.table_name);
      });

    it("keeps ids that differ only in letter case apart", async () => {
      const suffix = hex(6);
      const upper = await store(fileFor({ id: `CaseId${suffix}`, name: "upper" }));
      const lower = await store(fileFor({ id: `caseid${suffix}`, name: "lower" }));
      assert.equal((await meta.getFile(upper.id))?.name, "upper");
      assert.equal((await meta.getFile(lower.id))?.name, "lower");
      assert.equal(await meta.getFile(`CASEID${suffix}`), null);
    });

    it("answers null for what is not there", async () => {
      assert.equal(await meta.getFile(newId()), null);
      assert.equal(await meta.findBlob(hex(32)), null);
      assert.equal(await meta.findByDigest("sha256", hex(32)), null);
      assert.equal(await meta.findByDigest("md5", hex(16)), null);
      assert.equal(await meta.deleteFile(newId()), null);
      assert.equal(await meta.getUpload(newId()), null);
      assert.equal(await meta.removeBlobIfUnused(hex(32)), false);
    });

    it("records a blob once when two uploads of the same content finish together", async () => {
      const sha256 = hex(32);
      const md5 = hex(16);
      const [a, b] = await Promise.all([
        meta.addBlob({ sha256, md5, size: 10, blobKey: "uploads/a" }),
        meta.addBlob({ sha256, md5, size: 10, blobKey: "uploads/b" }),
      ]);
      assert.deepEqual([a.created, b.created].sort(), [false, true]);
      const winner = a.created ? a.blob : b.blob;
      assert.equal(a.blob.blobKey, winner.blobKey);
      assert.equal(b.blob.blobKey, winner.blobKey);
      assert.deepEqual(await meta.findBlob(sha256), winner);

      const many = hex(32);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          meta.addBlob({ sha256: many, md5, size: 10, blobKey: `uploads/${i}` }),
        ),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.blob.blobKey)).size, 1);
    });

    it("removes a blob only once no file points at it", async () => {
      const first = await store(fileFor());
      const second = await store(fileFor({ sha256: first.sha256, md5: first.md5 }));
      assert.equal(await meta.removeBlobIfUnused(first.sha256), false);
      await meta.deleteFile(first.id);
      assert.equal(await meta.removeBlobIfUnused(first.sha256), false);
      assert.notEqual(await meta.findBlob(first.sha256), null);
      await meta.deleteFile(second.id);
      assert.equal(await meta.removeBlobIfUnused(first.sha256), true);
      assert.equal(await meta.findBlob(first.sha256), null);
      assert.equal(await meta.removeBlobIfUnused(first.sha256), false);
    });

    it("refuses a file whose blob is not recorded", async () => {
      const file = fileFor();
      await assert.rejects(meta.createFile(file), { code: "E_INTERNAL", message: /addBlob/ });
      assert.equal(await meta.getFile(file.id), null);
    });

    it("never leaves a file without its blob when a cleaner races the upload", async () => {
      for (let round = 0; round < 40; round++) {
        const file = fileFor();
        await meta.addBlob({
          sha256: file.sha256,
          md5: file.md5,
          size: file.size,
          blobKey: file.blobKey,
        });
        const [created, removed] = await Promise.allSettled([
          meta.createFile(file),
          meta.removeBlobIfUnused(file.sha256),
        ]);
        assert.equal(removed.status, "fulfilled");
        const blob = await meta.findBlob(file.sha256);
        const stored = await meta.getFile(file.id);
        if (created.status === "fulfilled") {
          assert.equal(removed.value, false);
          assert.notEqual(blob, null);
          assert.deepEqual(stored, file);
        } else {
          assert.equal(removed.value, true);
          assert.equal(blob, null);
          assert.equal(stored, null);
        }
      }
    });

    it("finds the newest unexpired file by sha256 or md5", async () => {
      const sha256 = hex(32);
      const md5 = hex(16);
      const t0 = 1_700_000_000_000;
      const older = await store(fileFor({ sha256, md5, createdAt: new Date(t0) }));
      const newer = await store(fileFor({ sha256, md5, createdAt: new Date(t0 + 1000) }));
      await store(
        fileFor({
          sha256,
          md5,
          createdAt: new Date(t0 + 2000),
          expiresAt: new Date(Date.now() - 60_000),
        }),
      );
      // Same md5, other content, older: an md5 lookup must still pick `newer`.
      await store(fileFor({ sha256: hex(32), md5, createdAt: new Date(t0 - 1) }));
      assert.deepEqual(await meta.findByDigest("sha256", sha256), newer);
      assert.deepEqual(await meta.findByDigest("md5", md5), newer);
      await meta.deleteFile(newer.id);
      assert.deepEqual(await meta.findByDigest("sha256", sha256), older);
      assert.equal(await meta.findByDigest("md5", sha256), null);
    });

    it("deletes a file once and returns what it deleted", async () => {
      const file = await store(fileFor({ name: CHINESE_EMOJI_NAME }));
      assert.deepEqual(await meta.deleteFile(file.id), file);
      assert.equal(await meta.deleteFile(file.id), null);
      assert.equal(await meta.getFile(file.id), null);

      const raced = await store(fileFor());
      const results = await Promise.all([meta.deleteFile(raced.id), meta.deleteFile(raced.id)]);
      assert.deepEqual(
        results.filter((r) => r !== null),
        [raced],
      );
    });

    it("counts an owner's unexpired files and reservations", async () => {
      const owner = `quota-${hex(4)}`;
      const now = new Date();
      const later = new Date(now.getTime() + 3_600_000);
      assert.equal(await meta.usedBytes(owner), 0);
      await store(fileFor({ owner, size: 100 }));
      await store(fileFor({ owner, size: 200, expiresAt: later }));
      await store(fileFor({ owner, size: 400, expiresAt: new Date(now.getTime() - 60_000) }));
      await store(fileFor({ owner: `${owner}-other`, size: 800 }));
      await store(fileFor({ owner, size: 5 * GiB }));
      // An upload record alone no longer counts: its reservation does.
      await meta.saveUpload(uploadFor({ owner, size: 1000, offset: 10 }));
      const reserved = await meta.reserve(reservation(owner, 1000, 10 * GiB));
      assert.deepEqual(reserved, { held: 1000, othersUse: 100 + 200 + 5 * GiB });
      const used = await meta.usedBytes(owner, now);
      assert.equal(typeof used, "number");
      assert.equal(used, 100 + 200 + 5 * GiB + 1000);
    });

    /** A reservation request of `bytes` under `quota`, with a one-hour lease. */
    function reservation(
      owner: string,
      bytes: number,
      quotaBytes: number,
      extra: Partial<ReserveRequest> = {},
    ): ReserveRequest {
      const now = new Date();
      return {
        id: newId(),
        owner,
        bytes,
        quotaBytes,
        now,
        expiresAt: new Date(now.getTime() + 3_600_000),
        ...extra,
      };
    }

    it("reserves what fits, refuses what does not, and grants ahead only up to the quota", async () => {
      const owner = `reserve-${hex(4)}`;
      await store(fileFor({ owner, size: 300 }));
      const a = reservation(owner, 500, 1000);
      assert.deepEqual(await meta.reserve(a), { held: 500, othersUse: 300 });
      // Too much: nothing changes.
      assert.deepEqual(await meta.reserve(reservation(owner, 201, 1000)), {
        held: null,
        othersUse: 800,
      });
      assert.equal(await meta.usedBytes(owner), 800);
      // Asking ahead (an upload of unknown length) gets what is left, not more.
      const grow = reservation(owner, 100, 1000, { upTo: 10_000 });
      assert.deepEqual(await meta.reserve(grow), { held: 200, othersUse: 800 });
      assert.equal(await meta.usedBytes(owner), 1000);
      // A reservation is resized in place: its own bytes are not "others".
      assert.deepEqual(await meta.reserve({ ...grow, bytes: 150, upTo: 150 }), {
        held: 150,
        othersUse: 800,
      });
      assert.deepEqual(await meta.reserve({ ...a, bytes: 550 }), { held: 550, othersUse: 450 });
      assert.equal(await meta.usedBytes(owner), 1000);
      await meta.releaseReservation(a.id);
      await meta.releaseReservation(a.id);
      assert.equal(await meta.usedBytes(owner), 450);
    });

    it("never lets parallel reservations of one owner pass the quota", async () => {
      for (let round = 0; round < 5; round++) {
        const owner = `race-${hex(4)}`;
        await store(fileFor({ owner, size: 1 }));
        const outcomes = await Promise.all(
          Array.from({ length: 12 }, () => meta.reserve(reservation(owner, 3, 10))),
        );
        assert.equal(outcomes.filter((o) => o.held !== null).length, 3, `round ${round}`);
        assert.equal(await meta.usedBytes(owner), 10);
        // Two owners never wait for or count against each other.
        const [x, y] = await Promise.all([
          meta.reserve(reservation(`${owner}-x`, 10, 10)),
          meta.reserve(reservation(`${owner}-y`, 10, 10)),
        ]);
        assert.equal(x.held, 10);
        assert.equal(y.held, 10);
      }
    });

    it("turns a reservation into the file's usage when the file is recorded", async () => {
      const owner = `settle-${hex(4)}`;
      const request = reservation(owner, 1000, 1000);
      await meta.reserve(request);
      const file = fileFor({ id: request.id, owner, size: 600 });
      await store(file);
      assert.equal(await meta.usedBytes(owner), 600);
      assert.equal((await meta.reserve(reservation(owner, 400, 1000))).held, 400);
    });

    it("counts a PUT's reservation until its lease ends, a tus upload's until its record goes", async () => {
      const owner = `lease-${hex(4)}`;
      const now = new Date();
      const past = new Date(now.getTime() - 1000);
      const lapsed = reservation(owner, 100, 10_000, { expiresAt: past });
      await meta.reserve({ ...lapsed, now: new Date(past.getTime() - 1000) });
      const renewed = reservation(owner, 200, 10_000, { expiresAt: past });
      await meta.reserve({ ...renewed, now: new Date(past.getTime() - 1000) });
      await meta.renewReservation(renewed.id, new Date(now.getTime() + 60_000));
      const upload = uploadFor({ owner, size: 400, expiresAt: past });
      await meta.saveUpload(upload);
      await meta.reserve(
        reservation(owner, 400, 10_000, {
          id: upload.id,
          expiresAt: past,
          now: new Date(past.getTime() - 1000),
        }),
      );
      // The lapsed lease is free; the renewed one and the expired-but-unswept upload still count.
      assert.equal(await meta.usedBytes(owner, now), 200 + 400);
      await meta.deleteUpload(upload.id);
      assert.equal(await meta.usedBytes(owner, now), 200);
    });

    it("lists expired files oldest first, up to the limit", async () => {
      const at = (ms: number) => store(fileFor({ expiresAt: new Date(ms) }));
      const second = await at(2_000);
      const first = await at(1_000);
      await at(3_000);
      const now = new Date(2_500);
      assert.deepEqual(await meta.expiredFiles(now, 10), [first, second]);
      assert.deepEqual(await meta.expiredFiles(now, 1), [first]);
      assert.deepEqual(await meta.expiredFiles(new Date(2_000), 10), [first, second]);
      assert.deepEqual(await meta.expiredFiles(new Date(999), 10), []);
    });

    it("lists live files newest first by (createdAt, id), in keyset pages", async () => {
      // Created in 2128: newer than any other test's files, so an unsearched page starts with these.
      const base = 5_000_000_000_000;
      const now = new Date();
      const tie = newId();
      const tag = `list-${hex(6)}`;
      const at = (ms: number, overrides: Partial<FileRecord> = {}) =>
        store(fileFor({ name: `${tag}.bin`, createdAt: new Date(base + ms), ...overrides }));
      const oldest = await at(0);
      // Same millisecond: the id decides. The ids share a prefix so every collation orders them alike.
      const tieLow = await at(5, { id: `${tie}1` });
      const tieHigh = await at(5, { id: `${tie}2` });
      await at(7, { expiresAt: new Date(now.getTime() - 1) }); // expired: never listed
      const expiring = await at(8, { expiresAt: new Date(now.getTime() + 3_600_000) });
      const newest = await at(9);
      const order = [newest, expiring, tieHigh, tieLow, oldest];

      assert.deepEqual(await meta.listFiles({ limit: 5, now }), order);
      const search = { name: tag };
      assert.deepEqual(await meta.listFiles({ search, limit: 100, now }), order);
      const pages: FileRecord[][] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const page = await meta.listFiles({ search, limit: 2, now, ...(after ? { after } : {}) });
        pages.push(page);
        const last = page.at(-1);
        if (page.length < 2 || !last) break;
        after = { createdAt: last.createdAt, id: last.id };
        // Recorded between pages, and newer than all: no later page shifts because of it.
        await at(100 + pages.length);
      }
      assert.deepEqual(
        pages,
        [[newest, expiring], [tieHigh, tieLow], [oldest], []].slice(0, pages.length),
      );
      assert.deepEqual(pages.flat(), order);
      // Once its time passes, the expiring file drops out too.
      const later = new Date(now.getTime() + 3_600_000);
      const listed = await meta.listFiles({ search, limit: 100, now: later });
      assert.ok(!listed.some((file) => file.id === expiring.id));
      assert.ok(listed.some((file) => file.id === newest.id));
    });

    it("searches names case-insensitively, taking %, _ and ! literally, UTF-8 included", async () => {
      const tag = `find-${hex(6)}`;
      const named = async (name: string) => store(fileFor({ name: `${tag} ${name}` }));
      const promo = await named("促销50%_OFF 战报 🎮.apk");
      const offer = await named("50x_offer.apk");
      const bang = await named("hello!world.txt");
      const plain = await named("plain.txt");
      const smile = await named("😀.txt");
      const found = async (text: string) => {
        const files = await meta.listFiles({
          search: { name: text },
          limit: 1000,
          now: new Date(),
        });
        // Other tests' files share this database: look at this test's only.
        return files
          .filter((file) => file.name.startsWith(tag))
          .map((file) => file.name)
          .sort();
      };
      const names = (...files: FileRecord[]) => files.map((file) => file.name).sort();
      assert.deepEqual(await found(tag), names(promo, offer, bang, plain, smile));
      assert.deepEqual(await found("off"), names(promo, offer));
      assert.deepEqual(await found("OFFER"), names(offer));
      assert.deepEqual(await found("50%_off"), names(promo)); // unescaped it would match 50x_offer
      assert.deepEqual(await found("%"), names(promo));
      assert.deepEqual(await found("_"), names(promo, offer));
      assert.deepEqual(await found("!"), names(bang));
      assert.deepEqual(await found("!%"), []);
      assert.deepEqual(await found("战报"), names(promo));
      assert.deepEqual(await found("促销50%_off 战"), names(promo));
      assert.deepEqual(await found("🎮"), names(promo)); // not every emoji equal to every other
      assert.deepEqual(await found("😀"), names(smile));
      assert.deepEqual(await found(`${tag} p`), names(plain));
      assert.deepEqual(await found("no such name"), []);
    });

    it("searches sha256 and md5 prefixes along with the name", async () => {
      const file = await store(fileFor({ name: `digest-${hex(6)}.bin` }));
      // Newer, and named by the first 8 digits of the other's sha256: found by name.
      const other = await store(
        fileFor({
          name: `${file.sha256.slice(0, 8)}.txt`,
          createdAt: new Date(file.createdAt.getTime() + 1),
        }),
      );
      const search = (prefix: string) => ({ name: prefix, digestPrefix: prefix });
      const ids = async (prefix: string) =>
        (await meta.listFiles({ search: search(prefix), limit: 100, now: new Date() })).map(
          (f) => f.id,
        );
      assert.deepEqual(await ids(file.sha256.slice(0, 8)), [other.id, file.id]);
      assert.deepEqual(await ids(file.sha256.slice(0, 40)), [file.id]);
      assert.deepEqual(await ids(file.sha256), [file.id]);
      assert.deepEqual(await ids(file.md5.slice(0, 8)), [file.id]);
      assert.deepEqual(await ids(file.md5), [file.id]);
      // A prefix is where a digest starts, not anywhere in it.
      assert.deepEqual(await ids(file.sha256.slice(1, 9)), []);
      // Without digestPrefix, hex is only a name.
      const byName = await meta.listFiles({
        search: { name: file.sha256.slice(0, 8) },
        limit: 100,
        now: new Date(),
      });
      assert.deepEqual(
        byName.map((f) => f.id),
        [other.id],
      );
    });

    it("saves an upload after every PATCH: insert, then update every field", async () => {
      const upload = uploadFor({ name: CHINESE_EMOJI_NAME });
      await meta.saveUpload(upload);
      assert.deepEqual(await meta.getUpload(upload.id), upload);

      const patched: UploadRecord = {
        ...upload,
        name: "renamed.bin",
        contentType: "video/mp4",
        size: 6 * GiB,
        offset: 5 * GiB + 3,
        digests: { sha256: hex(32), md5: hex(16) },
        expiresAt: new Date(upload.expiresAt.getTime() + 86_400_123),
      };
      await meta.saveUpload(patched);
      const got = await meta.getUpload(upload.id);
      assert.deepEqual(got, patched);
      assert.equal(typeof got.offset, "number");

      await meta.deleteUpload(upload.id);
      assert.equal(await meta.getUpload(upload.id), null);
      await meta.deleteUpload(upload.id);
    });

    it("lists expired uploads oldest first, up to the limit", async () => {
      const at = async (ms: number) => {
        const upload = uploadFor({ expiresAt: new Date(ms) });
        await meta.saveUpload(upload);
        return upload;
      };
      const second = await at(2_000);
      const first = await at(1_000);
      await at(3_000);
      const now = new Date(2_500);
      assert.deepEqual(await meta.expiredUploads(now, 10), [first, second]);
      assert.deepEqual(await meta.expiredUploads(now, 1), [first]);
      assert.deepEqual(await meta.expiredUploads(new Date(999), 10), []);
    });
  });
}
