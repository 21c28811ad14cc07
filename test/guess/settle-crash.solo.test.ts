/**
 * Settlement survives kill -9, as an operator would meet it: 5,000 bets on
 * one match, a result set through the admin API of a real `gamedock serve`
 * settling in small batches; the process is killed once while bets are
 * being decided and once while winners are being paid, and started again
 * each time. In the end every bet is decided and every winner paid exactly
 * once (one ledger entry each, balances right), every outcome was pushed,
 * the match went 3 → 4 → 9 once, and `gamedock guess reconcile` passes.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Database } from "../../src/db/index.js";
import { Bets, Matches, Wallets, winAmount } from "../../src/guess/index.js";
import { removeDir, runCli, tempDir } from "../helpers/cli.js";
import { kill9, spawnCli, stopGracefully, type CliProcess } from "../helpers/processes.js";
import { sleep } from "../helpers/wait.js";

const USERS = 500;
const BETS_EACH = 10;
const STAKE = 100;
const FUNDS = 10_000;
const ODDS = { home: 1500, away: 2750 } as const;
const READY = /listening on (http:\/\/\S+)/;

interface MatchJson {
  state: number;
  settlement: { total: number; settled: number; credited: number };
}

describe("settlement across kill -9", () => {
  let data = "";
  let config = "";
  let matchId = "";
  let proc: CliProcess | null = null;
  let url = "";

  const start = async (): Promise<void> => {
    const started = await spawnCli(["serve", "--config", config], READY);
    proc = started.process;
    url = started.match[1]!;
  };
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await response.json();
    assert.equal(response.status, 200, JSON.stringify(json));
    return json;
  };
  const match = () => api("GET", `/api/v1/guess/admin/matches/${matchId}`) as Promise<MatchJson>;
  /** Polls the match until `when` holds, then kills the process at once. */
  const killWhen = async (when: (m: MatchJson) => boolean): Promise<MatchJson> => {
    for (;;) {
      const seen = await match();
      if (when(seen)) {
        await kill9(proc!);
        return seen;
      }
      assert.notEqual(seen.state, 9, "settlement finished before the kill could land");
      await sleep(5);
    }
  };
  const withDatabase = async <T>(use: (database: Database) => Promise<T>): Promise<T> => {
    const database = await openDatabase({ driver: "sqlite", path: join(data, "gamedock.db") });
    try {
      return await use(database);
    } finally {
      await database.close();
    }
  };

  before(async () => {
    data = await tempDir("gamedock-settle-crash-");
    config = join(data, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        data,
        server: { port: 0 },
        log: { level: "info", file: join(data, "gamedock.log") },
        guess: { settleBatch: 10, minStake: 1 },
      }),
    );
    // The bets are placed straight into the database the server will open.
    await withDatabase(async (database) => {
      const matches = new Matches(database);
      const wallets = new Wallets(database);
      const bets = new Bets(database, wallets, {
        minStake: 1,
        maxStake: 1e9,
        maxStakePerMatch: 1e12,
      });
      const startsAt = Date.now() + 86_400_000;
      const [imported] = await matches.importFeed(
        [
          {
            externalId: "crash-1",
            type: "lol",
            title: "Crash test match",
            teams: [
              { id: "home", name: "Home" },
              { id: "away", name: "Away" },
            ],
            startsAt,
            lockAt: startsAt - 600_000,
            options: [
              { id: "home", label: "Home wins", odds: ODDS.home },
              { id: "away", label: "Away wins", odds: ODDS.away },
            ],
          },
        ],
        "test",
      );
      matchId = imported!.id;
      await matches.act(matchId, "approve", { actor: "test" });
      await matches.act(matchId, "open", { actor: "test" });
      for (let u = 0; u < USERS; u++) {
        const uid = `p${u}`;
        await wallets.post({ cause: `topup:${uid}`, uid, kind: "topup", amount: FUNDS });
        for (let k = 0; k < BETS_EACH; k++) {
          await bets.place(uid, {
            matchId,
            optionId: (u + k) % 3 === 0 ? "away" : "home",
            stake: STAKE + k,
            clientBetId: `c${k}`,
          });
        }
      }
    });
    await start();
  });
  after(async () => {
    if (proc) await stopGracefully(proc);
    await removeDir(data);
  });

  it("settles and pays every bet exactly once", async () => {
    await api("POST", `/api/v1/guess/admin/matches/${matchId}/result`, { result: "away" });
    const total = USERS * BETS_EACH;
    const first = await killWhen((m) => m.settlement.settled > 0);
    // What the killed process left: some bets decided, not all (checked in the database).
    const left = await withDatabase((database) =>
      database.db
        .selectFrom("guess_bets")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("status", "=", "placed")
        .executeTakeFirstOrThrow(),
    );
    assert.ok(
      left.n > 0 && left.n < total,
      `killed mid-way: ${left.n} of ${total} left; ${JSON.stringify(first)}`,
    );
    assert.equal(first.state, 3);

    await start();
    await killWhen((m) => m.state === 4 && m.settlement.credited > 0);
    await start();
    for (;;) {
      const seen = await match();
      if (seen.state === 9) {
        assert.deepEqual([seen.settlement.total, seen.settlement.settled], [total, total]);
        break;
      }
      await sleep(50);
    }
    await stopGracefully(proc!);
    proc = null;

    await withDatabase(async (database) => {
      const bets = await database.db.selectFrom("guess_bets").selectAll().execute();
      const ledger = await database.db
        .selectFrom("guess_ledger")
        .selectAll()
        .where("kind", "=", "payout")
        .execute();
      const winners = bets.filter((b) => b.option_id === "away");
      assert.equal(ledger.length, winners.length, "one payout per winning bet");
      for (const bet of bets) {
        const won = bet.option_id === "away";
        assert.equal(bet.status, won ? "paid" : "lost", bet.id);
        assert.equal(bet.credited, won ? winAmount(bet.stake, ODDS.away) : 0, bet.id);
        assert.equal(bet.push_state, 2, `${bet.id}: its outcome was pushed`);
      }
      for (let u = 0; u < USERS; u++) {
        const uid = `p${u}`;
        const mine = bets.filter((b) => b.uid === uid);
        const expected =
          FUNDS - mine.reduce((a, b) => a + b.stake, 0) + mine.reduce((a, b) => a + b.credited, 0);
        const wallet = await database.db
          .selectFrom("guess_wallets")
          .select("balance")
          .where("uid", "=", uid)
          .executeTakeFirstOrThrow();
        assert.equal(wallet.balance, expected, uid);
      }
      const audit = await database.db
        .selectFrom("guess_audit")
        .select("action")
        .where("match_id", "=", matchId)
        .where("actor", "=", "system")
        .execute();
      assert.deepEqual(audit.map((a) => a.action).sort(), ["paid", "settled"]);
    });
    const reconciled = await runCli(["guess", "reconcile", "--data", data, "--json"]);
    assert.equal(reconciled.code, 0, reconciled.stderr);
    assert.deepEqual((JSON.parse(reconciled.stdout) as { mismatches: unknown[] }).mismatches, []);
  });
});
