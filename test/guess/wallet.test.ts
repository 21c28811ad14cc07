/**
 * Wallets and their ledger on every database: a cause is posted once however
 * often it is retried, a debit never takes a balance below zero — not even
 * 100 debits racing for a small balance — and reconcile finds a balance that
 * no longer equals its ledger.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import { Wallets, reconcile } from "../../src/guess/index.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

for (const target of DATABASE_TARGETS) {
  describe(`wallets on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let wallets: Wallets;

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-wallet");
      database = await openDatabase(testDb.config);
      wallets = new Wallets(database);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("posts a cause once: a repeat answers the first posting and moves nothing", async () => {
      const topup = { cause: "topup:order-1", uid: "alice", kind: "topup" as const, amount: 500 };
      assert.deepEqual(await wallets.post(topup), { applied: true, balanceAfter: 500 });
      assert.deepEqual(await wallets.post(topup), { applied: false, balanceAfter: 500 });
      // The same cause at once from many callers (a provider's repeated callback).
      const racing = await Promise.all(
        Array.from({ length: 10 }, () => wallets.post({ ...topup, cause: "topup:order-2" })),
      );
      assert.equal(racing.filter((p) => p.applied).length, 1);
      assert.equal(await wallets.balance("alice"), 1000);
    });

    it("refuses a debit above the balance with E_INSUFFICIENT_FUNDS and writes nothing", async () => {
      await assert.rejects(
        wallets.post({ cause: "stake:b-big", uid: "alice", kind: "stake", amount: -1001 }),
        (err: { code?: string; details?: { balance?: number } }) =>
          err.code === "E_INSUFFICIENT_FUNDS" && err.details?.balance === 1000,
      );
      await assert.rejects(
        wallets.post({ cause: "stake:b-none", uid: "nobody", kind: "stake", amount: -1 }),
        (err: { code?: string }) => err.code === "E_INSUFFICIENT_FUNDS",
      );
      assert.equal(await wallets.balance("alice"), 1000);
      assert.equal(await wallets.balance("nobody"), 0);
      assert.deepEqual((await reconcile(database.db)).mismatches, []);
    });

    it("never goes below zero when 100 debits race for a balance that covers 30", async () => {
      await wallets.post({ cause: "topup:race", uid: "bob", kind: "topup", amount: 300 });
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) =>
          wallets.post({ cause: `stake:race-${i}`, uid: "bob", kind: "stake", amount: -10 }),
        ),
      );
      const applied = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter(
        (r) =>
          r.status === "rejected" &&
          (r.reason as { code?: string }).code === "E_INSUFFICIENT_FUNDS",
      );
      assert.equal(applied.length, 30);
      assert.equal(refused.length, 70, "every other debit was refused for funds, not lost");
      assert.equal(await wallets.balance("bob"), 0);
      const check = await reconcile(database.db);
      assert.deepEqual(check.mismatches, []);
    });

    it("pages a wallet's ledger newest first, every entry once", async () => {
      const seen: { cause: string; balanceAfter: number }[] = [];
      let cursor: string | undefined;
      do {
        const page = await wallets.history("bob", { cursor, limit: 7 });
        assert.ok(page.entries.length <= 7);
        seen.push(...page.entries);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      assert.equal(seen.length, 31, "the top-up and the 30 stakes that passed");
      assert.equal(new Set(seen.map((e) => e.cause)).size, 31);
      const balances = seen.map((e) => e.balanceAfter).sort((a, b) => a - b);
      assert.deepEqual(
        balances,
        Array.from({ length: 31 }, (_, i) => i * 10),
        "each debit left its own balance behind",
      );
    });

    it("refuses amounts that are not whole non-zero minor units", async () => {
      for (const amount of [0, 1.5, Number.NaN, 2 ** 60]) {
        await assert.rejects(
          wallets.post({ cause: `adjust:bad-${amount}`, uid: "alice", kind: "adjust", amount }),
          (err: { code?: string }) => err.code === "E_INVALID_REQUEST",
        );
      }
    });

    it("reconcile lists a balance changed behind the ledger's back, and a ledger without a wallet", async () => {
      await database.db
        .updateTable("guess_wallets")
        .set({ balance: 999 })
        .where("uid", "=", "alice")
        .execute();
      await database.db
        .insertInto("guess_ledger")
        .values({
          cause: "adjust:orphan",
          uid: "ghost",
          kind: "adjust",
          amount: 5,
          balance_after: 5,
          match_id: null,
          reason: "test",
          created_at: Date.now(),
        })
        .execute();
      const check = await reconcile(database.db);
      assert.deepEqual(check.mismatches, [
        { uid: "alice", balance: 999, ledgerSum: 1000 },
        { uid: "ghost", balance: null, ledgerSum: 5 },
      ]);
      assert.equal(check.wallets, 2);
    });
  });
}
