/**
 * Statistics on every database: bets, stakes, active users, payouts and
 * refunds per day of a time zone — a bet one second before midnight in
 * Shanghai counts on that day, one at midnight on the next (UTC would put
 * both on one day); a zone that leaves daylight saving time in the range
 * still puts each bet on its local day — and per match, by option.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import {
  Bets,
  GuessStats,
  Matches,
  Settlement,
  Wallets,
  winAmount,
} from "../../src/guess/index.js";
import { zoneOffsetMs } from "../../src/core/index.js";
import { testMatch } from "./test-match.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const at = (iso: string): number => Date.parse(iso);

describe("zone offsets", () => {
  it("knows Shanghai's and New York's, across the end of daylight saving time", () => {
    assert.equal(zoneOffsetMs("Asia/Shanghai", at("2026-12-05T15:59:59Z")), 8 * 3_600_000);
    assert.equal(zoneOffsetMs("America/New_York", at("2026-11-01T05:59:00Z")), -4 * 3_600_000);
    assert.equal(zoneOffsetMs("America/New_York", at("2026-11-01T06:00:00Z")), -5 * 3_600_000);
  });
});

for (const target of DATABASE_TARGETS) {
  describe(`guessing statistics on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let now = 0;
    let matches: Matches;
    let wallets: Wallets;
    let bets: Bets;
    let n = 0;
    const clock = () => now;

    async function openMatch(lockAt: number): Promise<string> {
      const [imported] = await matches.importFeed(
        [testMatch(`stats-${++n}`, { lockAt, odds: { a: 2000, b: 3000 } })],
        "test",
      );
      await matches.act(imported!.id, "approve", { actor: "test" });
      await matches.act(imported!.id, "open", { actor: "test" });
      return imported!.id;
    }
    async function bet(
      when: string,
      uid: string,
      matchId: string,
      optionId: string,
      stake: number,
    ) {
      now = at(when);
      await bets.place(uid, { matchId, optionId, stake, clientBetId: `${when}-${uid}` });
    }

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-stats");
      database = await openDatabase(testDb.config);
      matches = new Matches(database, clock);
      wallets = new Wallets(database, clock);
      bets = new Bets(
        database,
        wallets,
        { minStake: 1, maxStake: 1e6, maxStakePerMatch: 1e9 },
        clock,
      );
      for (const uid of ["ann", "ben", "cat"]) {
        await wallets.post({ cause: `topup:${uid}`, uid, kind: "topup", amount: 1_000_000 });
      }
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("counts each bet and credit on its day in Shanghai, and a match by option", async () => {
      now = at("2026-12-05T00:00:00Z");
      const id = await openMatch(at("2026-12-07T00:00:00Z"));
      await bet("2026-12-05T15:59:59Z", "ann", id, "a", 100); // Dec 5, 23:59:59 in Shanghai
      await bet("2026-12-05T16:00:00Z", "ben", id, "b", 200); // Dec 6, 00:00 in Shanghai
      await bet("2026-12-05T17:00:00Z", "ben", id, "a", 300);
      await bet("2026-12-06T01:00:00Z", "cat", id, "a", 400); // Dec 6, 09:00
      now = at("2026-12-06T17:00:00Z"); // Dec 7, 01:00 in Shanghai
      await matches.act(id, "result", { actor: "test", result: "a" });
      assert.equal(await new Settlement(database, 2, clock).run(id), 9);

      const stats = new GuessStats(database, "Asia/Shanghai");
      const { days } = await stats.daily({ from: "2026-12-04", to: "2026-12-07" });
      const paid = winAmount(100, 2000) + winAmount(300, 2000) + winAmount(400, 2000);
      assert.deepEqual(
        days.map((d) => [d.day, d.bets, d.stakes, d.activeUsers, d.payouts]),
        [
          ["2026-12-04", 0, 0, 0, 0],
          ["2026-12-05", 1, 100, 1, 0],
          ["2026-12-06", 3, 900, 2, 0],
          ["2026-12-07", 0, 0, 0, paid],
        ],
      );
      const utc = await new GuessStats(database, "UTC").daily({
        from: "2026-12-05",
        to: "2026-12-06",
      });
      assert.deepEqual(
        utc.days.map((d) => [d.day, d.bets, d.payouts]),
        [
          ["2026-12-05", 3, 0],
          ["2026-12-06", 1, paid],
        ],
      );
      const one = await stats.match(id);
      assert.deepEqual(
        [one.bets, one.stakes, one.users, one.payouts, one.refunds],
        [4, 1000, 3, paid, 0],
      );
      assert.deepEqual(one.byOption, [
        { optionId: "a", bets: 3, stakes: 800 },
        { optionId: "b", bets: 1, stakes: 200 },
      ]);
    });

    it("puts bets on their local day across the end of daylight saving time, refunds included", async () => {
      now = at("2026-10-31T00:00:00Z");
      const id = await openMatch(at("2026-11-03T00:00:00Z"));
      await bet("2026-11-01T03:30:00Z", "ann", id, "a", 10); // Oct 31, 23:30 EDT
      await bet("2026-11-01T04:30:00Z", "ben", id, "a", 20); // Nov 1, 00:30 EDT
      await bet("2026-11-02T04:30:00Z", "cat", id, "b", 40); // Nov 1, 23:30 EST
      await bet("2026-11-02T05:30:00Z", "cat", id, "b", 80); // Nov 2, 00:30 EST
      now = at("2026-11-02T06:00:00Z");
      await matches.act(id, "cancel", { actor: "test" });
      assert.equal(await new Settlement(database, 10, clock).run(id), 8);
      const { days } = await new GuessStats(database, "America/New_York").daily({
        from: "2026-10-31",
        to: "2026-11-02",
      });
      assert.deepEqual(
        days.map((d) => [d.day, d.bets, d.stakes, d.refunds]),
        [
          ["2026-10-31", 1, 10, 0],
          ["2026-11-01", 2, 60, 0],
          ["2026-11-02", 1, 80, 150],
        ],
      );
    });

    it("refuses a bad or too long range with the field", async () => {
      const stats = new GuessStats(database, "Asia/Shanghai");
      for (const [range, field] of [
        [{ from: "2026-13-01", to: "2026-12-01" }, "from"],
        [{ from: "2026-12-01", to: "yesterday" }, "to"],
        [{ from: "2026-12-02", to: "2026-12-01" }, "from"],
        [{ from: "2020-01-01", to: "2026-12-01" }, "to"],
      ] as const) {
        await assert.rejects(stats.daily(range), { code: "E_INVALID_REQUEST", details: { field } });
      }
    });
  });
}
