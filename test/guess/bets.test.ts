/**
 * Placing bets in SQL on every database: a bet debits its stake through the
 * ledger and records the odds; it is refused (nothing debited) before the
 * match opens, after it closes or past its lock time, outside the stake
 * limits, when the odds the user saw changed, and beyond the balance; a
 * repeated clientBetId answers the first bet and debits once, also when the
 * repeats race; many users racing against small balances and the per-match
 * limit never overdraw, and reconcile passes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import { GamedockError } from "../../src/core/index.js";
import { Bets, Matches, Wallets, reconcile, winAmount } from "../../src/guess/index.js";
import { testMatch } from "./test-match.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const LIMITS = { minStake: 100, maxStake: 5000, maxStakePerMatch: 8000 };

const code = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof GamedockError, String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};

for (const target of DATABASE_TARGETS) {
  describe(`guessing bets on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let now = Date.parse("2026-12-10T10:00:00Z");
    let matches: Matches;
    let wallets: Wallets;
    let bets: Bets;
    let n = 0;

    /** A new approved match, opened unless told otherwise. */
    async function newMatch(open = true): Promise<string> {
      const [imported] = await matches.importFeed([testMatch(`bet-ext-${++n}`)], "test");
      const id = imported!.id;
      await matches.act(id, "approve", { actor: "test" });
      if (open) await matches.act(id, "open", { actor: "test" });
      return id;
    }
    const fund = (uid: string, amount: number) =>
      wallets.post({ cause: `topup:${uid}-${amount}-${n}`, uid, kind: "topup", amount });

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-bets");
      database = await openDatabase(testDb.config);
      matches = new Matches(database, () => now);
      wallets = new Wallets(database, () => now);
      bets = new Bets(database, wallets, LIMITS, () => now);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("debits the stake through the ledger and records the odds it was placed at", async () => {
      const id = await newMatch();
      await fund("alice", 10_000);
      now += 1000; // the history lists newest first
      const placed = await bets.place("alice", {
        matchId: id,
        optionId: "b",
        stake: 999,
        clientBetId: "c1",
        odds: 2333,
      });
      assert.equal(placed.repeated, false);
      assert.equal(placed.balance, 9001);
      assert.deepEqual(
        [placed.bet.stake, placed.bet.odds, placed.bet.status, placed.bet.winAmount],
        [999, 2333, "placed", 2330], // floor(999 × 2333 / 1000) = floor(2330.667)
      );
      const history = await wallets.history("alice", { limit: 10 });
      assert.deepEqual(
        history.entries.map((e) => [e.cause, e.kind, e.amount, e.balanceAfter, e.matchId]),
        [
          [`stake:${placed.bet.betId}`, "stake", -999, 9001, id],
          ["topup:alice-10000-1", "topup", 10_000, 10_000, null],
        ],
      );
      const mine = await bets.list("alice", { limit: 10 });
      assert.deepEqual(
        mine.bets.map((b) => b.betId),
        [placed.bet.betId],
      );
    });

    it("lists a user's bets newest first, a page at a time", async () => {
      const id = await newMatch();
      await fund("erin", 10_000);
      const placed: { at: number; id: string }[] = [];
      for (let k = 0; k < 5; k++) {
        now += k % 2; // bets 1 and 2, 3 and 4 share a millisecond: the id orders them
        const { bet } = await bets.place("erin", {
          matchId: id,
          optionId: "a",
          stake: 100,
          clientBetId: `p${k}`,
        });
        placed.push({ at: now, id: bet.betId });
      }
      const newestFirst = [...placed]
        .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
        .map((b) => b.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await bets.list("erin", { matchId: id, cursor, limit: 2 });
        seen.push(...page.bets.map((b) => b.betId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      assert.deepEqual(seen, newestFirst);
      await assert.rejects(
        bets.list("erin", { cursor: "bm90LWEtY3Vyc29y", limit: 2 }),
        code("E_INVALID_REQUEST"),
      );
    });

    it("computes a payout exactly, past 2^53 in the product", () => {
      assert.equal(winAmount(1e12, 1_000_000), 1e15);
      assert.equal(winAmount(3, 1001), 3); // 3.003
      assert.equal(winAmount(999_999_999_999, 1999), 1_998_999_999_998); // ….001 dropped
    });

    it("answers a repeated clientBetId with the first bet and debits once, also when repeats race", async () => {
      const id = await newMatch();
      await fund("bob", 5000);
      const request = { matchId: id, optionId: "a", stake: 1000, clientBetId: "same" };
      const results = await Promise.all(
        Array.from({ length: 8 }, () => bets.place("bob", request)),
      );
      assert.equal(new Set(results.map((r) => r.bet.betId)).size, 1);
      assert.equal(results.filter((r) => !r.repeated).length, 1);
      assert.equal(await wallets.balance("bob"), 4000);
      // A later retry with other numbers still answers the first bet: nothing new is placed.
      const again = await bets.place("bob", { ...request, stake: 2000, optionId: "b" });
      assert.deepEqual([again.repeated, again.bet.stake, again.bet.optionId], [true, 1000, "a"]);
      assert.equal(await wallets.balance("bob"), 4000);
    });

    it("refuses bets outside state 2 and past the lock time, and debits nothing", async () => {
      await fund("carol", 5000);
      const approved = await newMatch(false);
      await assert.rejects(
        bets.place("carol", { matchId: approved, optionId: "a", stake: 100, clientBetId: "x1" }),
        code("E_BETTING_CLOSED"),
      );
      const id = await newMatch();
      await matches.act(id, "close", { actor: "test" });
      await assert.rejects(
        bets.place("carol", { matchId: id, optionId: "a", stake: 100, clientBetId: "x2" }),
        code("E_BETTING_CLOSED"),
      );
      const late = await newMatch();
      const saved = now;
      now = Date.parse("2026-12-10T11:55:00Z"); // the lock time itself: closed
      try {
        await assert.rejects(
          bets.place("carol", { matchId: late, optionId: "a", stake: 100, clientBetId: "x3" }),
          code("E_BETTING_CLOSED"),
        );
      } finally {
        now = saved;
      }
      await assert.rejects(
        bets.place("carol", { matchId: "m-nope", optionId: "a", stake: 100, clientBetId: "x4" }),
        code("E_NOT_FOUND"),
      );
      await assert.rejects(
        bets.place("carol", { matchId: late, optionId: "draw", stake: 100, clientBetId: "x5" }),
        code("E_INVALID_REQUEST"),
      );
      await assert.rejects(
        bets.place("carol", {
          matchId: late,
          optionId: "a",
          stake: 100,
          clientBetId: "x6",
          odds: 1700,
        }),
        code("E_ODDS_CHANGED"),
      );
      for (const stake of [99, 5001, 100.5, -100, Number.MAX_SAFE_INTEGER + 2]) {
        await assert.rejects(
          bets.place("carol", { matchId: late, optionId: "a", stake, clientBetId: "x7" }),
          code("E_BET_LIMIT"),
        );
      }
      await assert.rejects(
        bets.place("nobody", { matchId: late, optionId: "a", stake: 100, clientBetId: "x8" }),
        code("E_INSUFFICIENT_FUNDS"),
      );
      assert.equal(await wallets.balance("carol"), 5000);
      assert.deepEqual((await bets.list("carol", { limit: 10 })).bets, []);
    });

    it("never overdraws and keeps the per-match limit when many bets race", async () => {
      const id = await newMatch();
      const other = await newMatch();
      const users = Array.from({ length: 20 }, (_, i) => `racer-${i}`);
      for (const uid of users) await fund(uid, 3000);
      // Each user: 6 bets of 1000 at once on one match and 2 on another. Balance 3000 → 3 pass.
      const attempts = users.flatMap((uid) =>
        Array.from({ length: 8 }, (_, k) =>
          bets
            .place(uid, {
              matchId: k < 6 ? id : other,
              optionId: k % 2 === 0 ? "a" : "b",
              stake: 1000,
              clientBetId: `r${k}`,
            })
            .then(
              () => "ok",
              (err: unknown) => (err as GamedockError).code,
            ),
        ),
      );
      const outcomes = await Promise.all(attempts);
      assert.deepEqual(
        [...new Set(outcomes)].sort(),
        ["E_INSUFFICIENT_FUNDS", "ok"],
        "every failure is a clean refusal",
      );
      for (const uid of users) {
        assert.equal(await wallets.balance(uid), 0, uid);
        assert.equal((await bets.list(uid, { limit: 50 })).bets.length, 3, uid);
      }
      const report = await reconcile(database.db);
      assert.deepEqual(report.mismatches, []);
    });

    it("keeps the per-match total when one user's bets race for it", async () => {
      const id = await newMatch();
      await fund("dora", 100_000);
      // 8000 on one match at most: of 6 racing bets of 3000, two pass.
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, k) =>
          bets
            .place("dora", { matchId: id, optionId: "a", stake: 3000, clientBetId: `d${k}` })
            .then(
              () => "ok",
              (err: unknown) => (err as GamedockError).code,
            ),
        ),
      );
      assert.deepEqual(outcomes.filter((o) => o === "ok").length, 2, outcomes.join());
      assert.deepEqual(new Set(outcomes.filter((o) => o !== "ok")), new Set(["E_BET_LIMIT"]));
      assert.equal(await wallets.balance("dora"), 94_000);
    });
  });
}
