/**
 * Settlement in SQL on every database (the credit statements differ per
 * dialect): a result decides every bet and pays every winner exactly
 * floor(stake × odds / 1000) through one ledger entry each, in small
 * batches, with balance_after right also for a user paid several times in
 * one batch; the match goes 3 → 4 → 9; each outcome is handed to the
 * notifier once; running again changes nothing; cancel (6) and no result
 * (7) refund every stake and end in 8; reconcile passes throughout.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import {
  Bets,
  Matches,
  Settlement,
  Wallets,
  reconcile,
  winAmount,
  type OutcomeNotifier,
  type SettledBet,
} from "../../src/guess/index.js";
import { testMatch } from "./test-match.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const ODDS = { a: 1850, b: 2333 } as const;

/** A notifier that keeps every outcome it is told. */
const collect =
  (into: SettledBet[]): OutcomeNotifier =>
  (_uid, _matchId, bets) => {
    into.push(...bets);
    return Promise.resolve();
  };

interface Placed {
  betId: string;
  uid: string;
  option: "a" | "b";
  stake: number;
}

for (const target of DATABASE_TARGETS) {
  describe(`guessing settlement on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    const now = Date.parse("2026-12-10T10:00:00Z");
    let matches: Matches;
    let wallets: Wallets;
    let bets: Bets;
    let settlement: Settlement;
    let n = 0;

    const clock = () => now;
    const FUNDS = 100_000;
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`);

    /** An open match with bets from every user: 1–4 each, on both options, odd stakes. */
    async function matchWithBets(): Promise<{ id: string; placed: Placed[] }> {
      const [imported] = await matches.importFeed(
        [testMatch(`settle-ext-${++n}`, { odds: ODDS })],
        "test",
      );
      const id = imported!.id;
      await matches.act(id, "approve", { actor: "test" });
      await matches.act(id, "open", { actor: "test" });
      const placed: Placed[] = [];
      for (const [i, uid] of users.entries()) {
        for (let k = 0; k <= i % 4; k++) {
          const option = (i + k) % 3 === 0 ? "b" : "a";
          const stake = 101 + i * 37 + k * 13;
          const { bet } = await bets.place(uid, {
            matchId: id,
            optionId: option,
            stake,
            clientBetId: `${id}-${k}`,
          });
          placed.push({ betId: bet.betId, uid, option, stake });
        }
      }
      return { id, placed };
    }

    async function ledgerOf(matchId: string) {
      return database.db
        .selectFrom("guess_ledger")
        .selectAll()
        .where("match_id", "=", matchId)
        .where("kind", "in", ["payout", "refund"])
        .execute();
    }

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-settle");
      database = await openDatabase(testDb.config);
      matches = new Matches(database, clock);
      wallets = new Wallets(database, clock);
      bets = new Bets(
        database,
        wallets,
        { minStake: 1, maxStake: 1e9, maxStakePerMatch: 1e12 },
        clock,
      );
      settlement = new Settlement(database, 5, clock); // small batches: many per match
      for (const uid of users) {
        await wallets.post({ cause: `topup:${uid}`, uid, kind: "topup", amount: FUNDS });
      }
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("pays every winner once, in batches, and ends in 9", async () => {
      const { id, placed } = await matchWithBets();
      const before = new Map(
        await Promise.all(users.map(async (u) => [u, await wallets.balance(u)] as const)),
      );
      await matches.act(id, "result", { actor: "test", result: "a" });
      const told: { uid: string; bets: SettledBet[]; balance: number }[] = [];
      const states: number[] = [];
      const final = await settlement.run(
        id,
        (uid, matchId, settled, balance) => {
          assert.equal(matchId, id);
          told.push({ uid, bets: settled, balance });
          return Promise.resolve();
        },
        (state) => {
          states.push(state);
          return Promise.resolve();
        },
      );
      assert.equal(final, 9);
      assert.deepEqual(states, [4, 9]);

      const winners = placed.filter((p) => p.option === "a");
      const ledger = await ledgerOf(id);
      assert.equal(ledger.length, winners.length, "one payout entry per winning bet");
      for (const w of winners) {
        const entry = ledger.find((e) => e.cause === `payout:${w.betId}`);
        assert.ok(entry, w.betId);
        assert.deepEqual(
          [entry.uid, entry.kind, entry.amount],
          [w.uid, "payout", winAmount(w.stake, ODDS.a)],
        );
      }
      for (const uid of users) {
        const won = winners.filter((w) => w.uid === uid).map((w) => winAmount(w.stake, ODDS.a));
        const expected = before.get(uid)! + won.reduce((a, b) => a + b, 0);
        assert.equal(await wallets.balance(uid), expected, uid);
        // balance_after steps up bet by bet (id order), ending at the balance.
        const mine = ledger
          .filter((e) => e.uid === uid)
          .sort((x, y) => (x.cause < y.cause ? -1 : 1));
        let running = before.get(uid)!;
        for (const entry of mine) {
          running += entry.amount;
          assert.equal(entry.balance_after, running, `${uid} ${entry.cause}`);
        }
      }
      // Every outcome told once, with what it credited.
      const toldBets = told.flatMap((t) => t.bets);
      assert.equal(toldBets.length, placed.length);
      assert.equal(new Set(toldBets.map((b) => b.betId)).size, placed.length);
      for (const bet of toldBets) {
        const p = placed.find((x) => x.betId === bet.betId)!;
        assert.deepEqual(
          [bet.status, bet.credited],
          p.option === "a" ? ["paid", winAmount(p.stake, ODDS.a)] : ["lost", 0],
        );
      }
      const progress = await settlement.progress(id);
      assert.deepEqual(
        [progress.total, progress.settled, progress.credited],
        [placed.length, placed.length, winners.length],
      );
      // Again: nothing moves, nobody is told twice.
      const again: SettledBet[] = [];
      assert.equal(await settlement.run(id, collect(again)), 9);
      assert.deepEqual(again, []);
      assert.equal((await ledgerOf(id)).length, winners.length);
      assert.deepEqual((await reconcile(database.db)).mismatches, []);
    });

    it("refunds every stake after a cancel (6) and after no result (7), ending in 8", async () => {
      for (const how of ["cancel", "noResult"] as const) {
        const { id, placed } = await matchWithBets();
        const before = new Map(
          await Promise.all(users.map(async (u) => [u, await wallets.balance(u)] as const)),
        );
        if (how === "noResult") await matches.act(id, "close", { actor: "test" });
        await matches.act(id, how, { actor: "test" });
        const told: SettledBet[] = [];
        assert.equal(await settlement.run(id, collect(told)), 8);
        const ledger = await ledgerOf(id);
        assert.equal(ledger.length, placed.length);
        assert.ok(ledger.every((e) => e.kind === "refund"));
        for (const uid of users) {
          const staked = placed.filter((p) => p.uid === uid).reduce((a, p) => a + p.stake, 0);
          assert.equal(await wallets.balance(uid), before.get(uid)! + staked, `${how} ${uid}`);
        }
        assert.equal(told.length, placed.length);
        assert.ok(told.every((b) => b.status === "refunded" && b.credited === b.stake));
      }
      assert.deepEqual((await reconcile(database.db)).mismatches, []);
    });

    it("settles a match without bets straight to 9, and leaves other states alone", async () => {
      const [imported] = await matches.importFeed(
        [testMatch(`settle-ext-${++n}`, { odds: ODDS })],
        "test",
      );
      const id = imported!.id;
      assert.deepEqual(await settlement.step(id), {
        phase: null,
        bets: 0,
        state: 0,
        moved: false,
        cursor: null,
      });
      await matches.act(id, "approve", { actor: "test" });
      await matches.act(id, "open", { actor: "test" });
      await matches.act(id, "result", { actor: "test", result: "b" });
      assert.equal(await settlement.run(id), 9);
    });
  });
}
