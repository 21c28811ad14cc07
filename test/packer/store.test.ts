/**
 * The packer's store on SQLite, MariaDB and PostgreSQL, each in a database of
 * its own: what a job costs to store, pages and counts, leases and the start
 * count that stops a channel from looping, the change sequence event streams
 * read, and transitions racing on one job.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { openDatabase, type Database } from "../../src/db/index.js";
import { PackStore, afterChange, type ClaimOptions } from "../../src/packer/store/index.js";
import { newJobFor } from "./jobs.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const jobFor = newJobFor;

const claimAs = (owner: string, overrides: Partial<ClaimOptions> = {}): ClaimOptions => ({
  from: ["queued", "packing"],
  to: "packing",
  owner,
  leaseMs: 60_000,
  maxUnfinished: 3,
  ownerIsLive: () => true,
  ...overrides,
});

for (const target of DATABASE_TARGETS) {
  describe(`PackStore on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase | undefined;
    let database: Database | undefined;
    let store: PackStore;

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "packstore");
      database = await openDatabase(testDb.config);
      store = new PackStore(database);
    });

    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("stores shared extras once per job, not once per channel", async () => {
      // The attack from the issue, scaled down: large shared extras, many channels.
      const sharedExtras = Object.fromEntries(
        Array.from({ length: 32 }, (_, i) => [`k${i}`, "v".repeat(100)]),
      );
      const job = jobFor(2000, { sharedExtras });
      await store.jobs.create(job);
      const size = (column: "extras") =>
        store.db
          .selectFrom("pack_tasks")
          .select(sql<number | string>`sum(length(${sql.ref(column)}))`.as("bytes"))
          .where("job_id", "=", job.id)
          .executeTakeFirstOrThrow();
      const perChannel = Number((await size("extras")).bytes) / job.channels.length;
      assert.equal(perChannel, 2, "a channel without extras of its own stores {}");
      const row = await store.jobs.get(job.id);
      assert.equal(row?.extras, JSON.stringify(sharedExtras), "the shared set is on the job, once");
      assert.ok(JSON.stringify(sharedExtras).length > 3000);
    });

    it("answers pages of channels with counts, in request order", async () => {
      const job = jobFor(2500);
      await store.jobs.create(job);
      const first = await store.jobs.snapshot(job.id, { after: null, limit: 1000 });
      assert.ok(first);
      assert.equal(first.page.rows.length, 1000);
      assert.equal(first.page.rows[0]?.channel, "c0");
      assert.equal(first.counts.queued, 2500);
      assert.equal(first.counts.total, 2500);
      assert.equal(first.page.next, 999);
      const second = await store.jobs.channelPage(job.id, { after: first.page.next, limit: 1000 });
      assert.equal(second.rows[0]?.channel, "c1000");
      const last = await store.jobs.channelPage(job.id, { after: 1999, limit: 1000 });
      assert.equal(last.rows.length, 500);
      assert.equal(last.next, null, "no cursor after the last page");
      const failedOnly = await store.jobs.channelPage(job.id, {
        after: null,
        limit: 10,
        state: "failed",
      });
      assert.deepEqual(failedOnly.rows, []);
      assert.equal(await store.jobs.snapshot("nope", { after: null, limit: 1 }), null);
    });

    it("counts every start, and a channel that never finishes runs out of starts", async () => {
      const job = jobFor(1);
      await store.jobs.create(job);
      const ref = { jobId: job.id, channel: "c0" };
      // A poison message whose worker dies each time: claim, owner gone, claim again …
      for (let start = 1; start <= 3; start++) {
        const result = await store.tasks.claim(
          ref,
          claimAs(`host/1/w${start}`, { ownerIsLive: () => false }),
        );
        assert.equal(result.kind, "claimed");
        assert.equal(result.kind === "claimed" && result.task.attempts, start);
      }
      const exhausted = await store.tasks.claim(
        ref,
        claimAs("host/1/w4", { ownerIsLive: () => false }),
      );
      assert.equal(exhausted.kind, "exhausted");
      assert.equal(exhausted.kind === "exhausted" && exhausted.task.attempts, 3);
    });

    it("does not let a repack reset the count: finished stages are what it subtracts", async () => {
      const job = jobFor(1);
      await store.jobs.create(job);
      const ref = { jobId: job.id, channel: "c0" };
      const rounds: string[] = [];
      // pack ✓ → upload ✗ (work file lost) → back to queued → pack ✓ → … the loop of the issue.
      for (let round = 0; round < 10; round++) {
        const pack = await store.tasks.claim(ref, claimAs("me"));
        rounds.push(pack.kind);
        if (pack.kind !== "claimed") break;
        await store.tasks.advance(ref, "me", "uploading", { finished: true });
        const upload = await store.tasks.claim(
          ref,
          claimAs("me", { from: ["uploading"], to: "uploading" }),
        );
        rounds.push(upload.kind);
        if (upload.kind !== "claimed") break;
        await store.tasks.advance(ref, "me", "queued", {}); // repack: not a finished stage
      }
      assert.equal(rounds.at(-1), "exhausted", `ended: ${rounds.join(",")}`);
      assert.ok(rounds.length < 10, "it stopped well before ten rounds");
      // An operator's retry is the one thing that starts the count over.
      await store.tasks.failUnheld(ref, { code: "E_ATTEMPTS_EXHAUSTED", message: "x" });
      assert.equal(await store.jobs.retry(job.id), 1);
      const again = await store.tasks.claim(ref, claimAs("me"));
      assert.equal(again.kind === "claimed" && again.task.attempts, 1);
    });

    it("lets exactly one of two racing claims take a task", async () => {
      const job = jobFor(1);
      await store.jobs.create(job);
      const ref = { jobId: job.id, channel: "c0" };
      const results = await Promise.all(
        ["a", "b", "c", "d"].map((owner) =>
          store.tasks.claim(ref, claimAs(`host/1/${owner}`, { ownerIsLive: () => true })),
        ),
      );
      assert.equal(results.filter((r) => r.kind === "claimed").length, 1);
      const row = await store.tasks.get(ref);
      assert.equal(row?.attempts, 1);
      assert.equal((await store.jobs.get(job.id))?.status, "running");
    });

    it("stamps every visible change so a reader gets only what changed since", async () => {
      const job = jobFor(50);
      await store.jobs.create(job);
      const start = (await store.jobs.get(job.id))?.change_seq ?? -1;
      assert.equal(start, 0);
      for (const channel of ["c3", "c7"]) {
        await store.tasks.claim({ jobId: job.id, channel }, claimAs("me"));
      }
      const seq = (await store.jobs.get(job.id))?.change_seq ?? 0;
      assert.equal(seq, 2);
      const changed = await store.jobs.changedSince(job.id, afterChange(0), 100);
      assert.deepEqual(
        changed.map((t) => t.channel),
        ["c3", "c7"],
      );
      assert.deepEqual(await store.jobs.changedSince(job.id, afterChange(seq), 100), []);
      await store.tasks.renewLeases("me", 60_000); // not a visible change
      await store.tasks.markDispatched({ jobId: job.id, channel: "c0" }, "queued");
      assert.equal((await store.jobs.get(job.id))?.change_seq, seq);
    });

    it("pages changes that share one sequence number (a cancel stamps them all)", async () => {
      const job = jobFor(450);
      await store.jobs.create(job);
      await store.jobs.cancel(job.id, () => Promise.resolve([]));
      const seen: string[] = [];
      let cursor = afterChange(0);
      for (;;) {
        const rows = await store.jobs.changedSince(job.id, cursor, 200);
        seen.push(...rows.map((r) => r.channel));
        const last = rows.at(-1);
        if (rows.length < 200 || !last) break;
        cursor = { seq: last.changed_seq, pos: last.seq };
      }
      assert.equal(seen.length, 450);
      assert.equal(new Set(seen).size, 450, "each changed channel once");
    });

    it("finishes a job exactly once when its last channels settle together", async () => {
      const job = jobFor(8);
      await store.jobs.create(job);
      const refs = job.channels.map((c) => ({ jobId: job.id, channel: c.channel }));
      for (const ref of refs) await store.tasks.claim(ref, claimAs(`o-${ref.channel}`));
      const outbox: string[] = [];
      await Promise.all(
        refs.map((ref) =>
          store.tasks.advance(
            ref,
            `o-${ref.channel}`,
            "failed",
            { error_code: "E_X" },
            async (trx) => {
              const row = await trx
                .selectFrom("pack_jobs")
                .selectAll()
                .where("id", "=", job.id)
                .executeTakeFirstOrThrow();
              outbox.push(...(await store.outbox.finishJobIfComplete(trx, row)));
            },
          ),
        ),
      );
      assert.equal(outbox.length, 1, "one job.finished row, by one transition");
      const finished = await store.jobs.get(job.id);
      assert.equal(finished?.status, "failed");
      const row = await store.outbox.get(outbox[0]!);
      const event = JSON.parse(row!.event) as { counts: { failed: number }; failed: unknown[] };
      assert.equal(event.counts.failed, 8);
      assert.equal(event.failed.length, 8);
    });

    it("lists at most 100 failed channels in job.finished; the counts have the rest", async () => {
      const job = jobFor(150);
      await store.jobs.create(job);
      const cancelled = await store.jobs.cancel(job.id, (trx, row) =>
        store.outbox.finishJobIfComplete(trx, row),
      );
      assert.equal(cancelled.notifications.length, 1);
      const row = await store.outbox.get(cancelled.notifications[0]!);
      const event = JSON.parse(row!.event) as {
        status: string;
        counts: { cancelled: number; total: number };
        failed: unknown[];
      };
      assert.equal(event.status, "cancelled");
      assert.deepEqual([event.counts.cancelled, event.counts.total], [150, 150]);
      assert.equal(event.failed.length, 0, "cancelled channels are not failures");
      const failing = jobFor(150, { notifyLevel: "summary" });
      await store.jobs.create(failing);
      for (const c of failing.channels) {
        await store.tasks.failUnheld(
          { jobId: failing.id, channel: c.channel },
          { code: "E_X", message: "x" },
        );
      }
      const done = await store.db.transaction().execute(async (trx) => {
        const jobRow = await trx
          .selectFrom("pack_jobs")
          .selectAll()
          .where("id", "=", failing.id)
          .executeTakeFirstOrThrow();
        return store.outbox.finishJobIfComplete(trx, jobRow);
      });
      const finished = JSON.parse((await store.outbox.get(done[0]!))!.event) as {
        counts: { failed: number };
        failed: unknown[];
      };
      assert.equal(finished.counts.failed, 150);
      assert.equal(finished.failed.length, 100);
    });
  });
}
