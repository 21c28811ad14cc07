/**
 * Matches in SQL on every database: a feed imports idempotently by external
 * id and may change a match only before it opens; admin actions move it
 * through the lifecycle with an audit row each, two admins racing decide one
 * after the other, the lock time stops betting by itself, and the lists page
 * in start order.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import { Matches, listAudit, parseFeed, type FeedMatch } from "../../src/guess/index.js";
import { ROOT } from "../helpers/cli.js";
import { DATABASE_TARGETS, createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const sample = parseFeed(
  JSON.parse(await readFile(join(ROOT, "samples/guess-feed.json"), "utf8")) as unknown,
);

function feedMatch(n: number, overrides: Partial<FeedMatch> = {}): FeedMatch {
  return {
    externalId: `ext-${n}`,
    type: n % 2 === 0 ? "lol" : "dota2",
    title: `Match ${n}`,
    teams: [
      { id: "a", name: "Team A" },
      { id: "b", name: "Team B" },
    ],
    startsAt: Date.parse("2026-12-10T12:00:00Z") + n * 60_000,
    lockAt: Date.parse("2026-12-10T11:55:00Z") + n * 60_000,
    options: [
      { id: "a", label: "A wins", odds: 1800 },
      { id: "b", label: "B wins", odds: 2000 },
    ],
    ...overrides,
  };
}

for (const target of DATABASE_TARGETS) {
  describe(`guessing matches on ${target.dialect}`, { skip: target.skip }, () => {
    let testDb: TestDatabase;
    let database: Database;
    let now = Date.parse("2026-12-10T10:00:00Z");
    let matches: Matches;

    before(async () => {
      testDb = await createTestDatabase(target.dialect, "guess-matches");
      database = await openDatabase(testDb.config);
      matches = new Matches(database, () => now);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("imports the sample feed once; a repeat changes nothing", async () => {
      const first = await matches.importFeed(sample.matches, "local");
      assert.deepEqual(
        first.map((r) => r.outcome),
        ["created", "created", "created"],
      );
      const again = await matches.importFeed(sample.matches, "local");
      assert.deepEqual(
        again.map((r) => [r.outcome, r.id]),
        first.map((r) => ["unchanged", r.id]),
      );
      const kpl = await matches.get(first[2]!.id);
      assert.equal(kpl?.title, "KPL AG超玩会 vs eStarPro");
      assert.deepEqual(
        kpl?.options.map((o) => [o.id, o.odds]),
        [
          ["ag", 1450],
          ["draw", 3800],
          ["estar", 2600],
        ],
      );
      assert.equal(kpl?.startsAt, "2026-12-07T11:00:00.000Z");
      assert.equal(kpl?.state, 0);
      assert.equal(kpl?.approved, false);
    });

    it("updates a match before it opens and refuses changes after", async () => {
      const [created] = await matches.importFeed([feedMatch(1)], "local");
      const changedOdds = feedMatch(1, {
        options: [
          { id: "a", label: "A wins", odds: 1700 },
          { id: "b", label: "B wins", odds: 2100 },
        ],
      });
      const [updated] = await matches.importFeed([changedOdds], "local");
      assert.equal(updated?.outcome, "updated");
      assert.equal((await matches.get(created!.id))?.options[0]?.odds, 1700);
      await matches.act(created!.id, "approve", { actor: "local" });
      await matches.act(created!.id, "open", { actor: "local" });
      const [refused] = await matches.importFeed([feedMatch(1, { title: "Renamed" })], "local");
      assert.equal(refused?.outcome, "refused");
      assert.match(refused?.reason ?? "", /state 2/);
      assert.equal((await matches.get(created!.id))?.title, "Match 1");
    });

    it("moves through the lifecycle with an audit row per action, and refuses what the table does not allow", async () => {
      const [m] = await matches.importFeed([feedMatch(2)], "importer");
      const id = m!.id;
      await assert.rejects(matches.act(id, "open", { actor: "admin" }), /not approved yet/);
      await matches.act(id, "approve", { actor: "admin" });
      const open = await matches.act(id, "open", { actor: "admin", reason: "go" });
      assert.equal(open.state, 2);
      assert.deepEqual(open.actions, ["close", "start", "result", "cancel"]);
      await assert.rejects(
        matches.act(id, "result", { actor: "admin", result: "nobody" }),
        (err: { code?: string; details?: { field?: string } }) =>
          err.code === "E_INVALID_REQUEST" && err.details?.field === "result",
      );
      const settling = await matches.act(id, "result", { actor: "admin", result: "b" });
      assert.deepEqual([settling.state, settling.result], [3, "b"]);
      await assert.rejects(
        matches.act(id, "cancel", { actor: "admin" }),
        (err: { code?: string; details?: { current?: number; requested?: number } }) =>
          err.code === "E_MATCH_STATE" && err.details?.current === 3 && err.details.requested === 6,
      );
      const audit = await listAudit(database.db, { matchId: id, limit: 10 });
      assert.deepEqual(
        audit.entries.map((e) => [e.action, e.actor]),
        [
          ["result", "admin"],
          ["open", "admin"],
          ["approve", "admin"],
          ["import", "importer"],
        ],
      );
      assert.deepEqual(audit.entries[1]?.before, { state: 0, approved: 1, result: null });
      assert.deepEqual(audit.entries[1]?.after, { state: 2, approved: 1, result: null });
      assert.equal(audit.entries[1]?.reason, "go");
      await assert.rejects(matches.act("m-none", "open", { actor: "a" }), /no match/);
    });

    it("two admins acting at once decide one after the other", async () => {
      const [m] = await matches.importFeed([feedMatch(3)], "local");
      await matches.act(m!.id, "approve", { actor: "local" });
      await matches.act(m!.id, "open", { actor: "local" });
      const racing = await Promise.allSettled([
        matches.act(m!.id, "cancel", { actor: "one" }),
        matches.act(m!.id, "close", { actor: "two" }),
        matches.act(m!.id, "cancel", { actor: "three" }),
      ]);
      const won = racing.filter((r) => r.status === "fulfilled");
      // close then cancel is a legal sequence; cancel then anything else is not.
      for (const r of racing) {
        if (r.status === "rejected") {
          assert.equal((r.reason as { code?: string }).code, "E_MATCH_STATE");
        }
      }
      const final = await matches.get(m!.id);
      assert.equal(final?.state, 6, "cancelled in the end");
      const audit = await listAudit(database.db, { matchId: m!.id, limit: 10 });
      assert.equal(audit.entries.length, 3 + won.length, "one audit row per change that happened");
    });

    it("stops betting at the lock time by itself", async () => {
      const [m] = await matches.importFeed(
        [feedMatch(4, { lockAt: now + 1000, startsAt: now + 2000 })],
        "local",
      );
      await matches.act(m!.id, "approve", { actor: "local" });
      await matches.act(m!.id, "open", { actor: "local" });
      assert.equal(await matches.lockDue(), 0);
      now += 1000;
      assert.ok((await matches.lockDue()) >= 1);
      assert.equal((await matches.get(m!.id))?.state, 1);
      await assert.rejects(matches.act(m!.id, "open", { actor: "local" }), /lock time has passed/);
      const [entry] = (await listAudit(database.db, { matchId: m!.id, limit: 1 })).entries;
      assert.deepEqual([entry?.action, entry?.actor], ["lock", "system"]);
    });

    it("lists by type and status in start order, a page at a time", async () => {
      const feed = Array.from({ length: 7 }, (_, i) => feedMatch(100 + i));
      const created = await matches.importFeed(feed, "local");
      for (const r of created) await matches.act(r.id, "approve", { actor: "local" });
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await matches.list({ type: "lol", status: "doing", cursor, limit: 2 });
        assert.ok(page.matches.length <= 2);
        seen.push(...page.matches.map((m) => m.externalId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      assert.deepEqual(
        seen.filter((e) => e.startsWith("ext-1")),
        ["ext-100", "ext-102", "ext-104", "ext-106"],
      );
      const pending = await matches.list({ status: "pending", limit: 50 });
      assert.ok(pending.matches.every((m) => !m.approved && m.state === 0));
      const finished = await matches.list({ status: "finished", limit: 50 });
      assert.ok(finished.matches.some((m) => m.state === 6));
      await assert.rejects(
        matches.list({ cursor: "bm90LWEtY3Vyc29y", limit: 5 }),
        (err: { code?: string }) => err.code === "E_INVALID_REQUEST",
      );
    });
  });
}
