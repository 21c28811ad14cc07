/**
 * Guessing through the realtime gateway with real gamedock/client
 * connections to `gamedock serve` (embedded defaults): lists and details,
 * 500 clients betting at once against small balances (none overdrawn, a
 * retried clientBetId debited once, `gamedock guess reconcile` passes),
 * followers pushed the match's changes (also one that was away, on its
 * return), a reservation reminded once, and bad requests answered with
 * codes.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type GamedockClient, type PushHead } from "../../src/client/index.js";
import { GUESS_PUSH, GUESS_REQUEST as R } from "../../src/guess/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { ROOT, removeDir, runCli } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";
import {
  API_V3_KEY,
  MCH_ID,
  WECHAT_SERIAL,
  WECHAT_TRANSACTION,
  pem,
  wechatNotification,
  wechatPlatform,
} from "./pay-signers.js";

const SECRET = "guess-realtime-secret-0123456789abcdef";
const secret = new TextEncoder().encode(SECRET);
const USERS = 500;

interface MatchJson {
  id: string;
  state: number;
  options: { id: string; odds: number }[];
}
interface Placed {
  bet: { betId: string; stake: number; status: string };
  balance: number;
  repeated: boolean;
}

/** A client with every push it got. */
interface Seen {
  client: GamedockClient;
  pushes: [unknown, PushHead][];
}

describe("guessing over the realtime gateway", () => {
  let server: TestServer;
  let matchId = "";
  let laterId = "";
  const open: Seen[] = [];

  async function client(uid: string, resume?: GamedockClient["resumeState"]): Promise<Seen> {
    const c = connect(server.url, {
      token: await mintToken(secret, { uid, ttlSeconds: 600 }),
      ...(resume ? { resume } : {}),
    });
    const seen: Seen = { client: c, pushes: [] };
    c.on("push", (body, head) => seen.pushes.push([body, head]));
    open.push(seen);
    return seen;
  }
  const admin = async (method: string, path: string, body?: unknown) => {
    const answer = await server.api(method, `/api/v1/guess/admin${path}`, body);
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.json)}`);
    return answer.json;
  };

  before(async () => {
    server = await startTestServer(
      // Reservations are reminded a week ahead: the sample feed's matches start within it.
      {
        realtime: { jwtSecret: SECRET },
        guess: {
          remindBeforeMs: 7 * 86_400_000,
          payments: {
            wechat: {
              mchId: MCH_ID,
              apiV3Key: API_V3_KEY,
              platformKeys: { [WECHAT_SERIAL]: pem(wechatPlatform.publicKey) },
            },
          },
        },
      },
      { stages: [] },
    );
    const feed = JSON.parse(await readFile(join(ROOT, "samples/guess-feed.json"), "utf8")) as {
      matches: { startsAt: string; lockAt: string }[];
    };
    // Times from now, so the lock time has not passed whatever day the test runs.
    feed.matches.forEach((m, i) => {
      m.startsAt = new Date(Date.now() + (2 + i) * 86_400_000).toISOString();
      m.lockAt = new Date(Date.now() + (2 + i) * 86_400_000 - 600_000).toISOString();
    });
    const { results } = (await admin("POST", "/matches/import", feed)) as {
      results: { id: string }[];
    };
    matchId = results[0]!.id;
    laterId = results[1]!.id;
    for (const id of [matchId, laterId]) await admin("POST", `/matches/${id}/approve`);
    await admin("POST", `/matches/${matchId}/open`);
  });
  after(async () => {
    await Promise.all(open.map((s) => s.client.close()));
    await server.close();
    await removeDir(server.data);
  });

  it("lists approved matches and answers a match's detail; hides the rest", async () => {
    const { client: c } = await client("viewer");
    const list = await c.request<{ matches: MatchJson[] }>(R.listMatches, { type: "lol" });
    assert.deepEqual(
      list.matches.map((m) => m.id),
      [matchId],
    );
    const detail = await c.request<MatchJson>(R.match, { matchId });
    assert.equal(detail.state, 2);
    const pending = (await admin("GET", "/matches?status=pending")) as { matches: MatchJson[] };
    await assert.rejects(c.request(R.match, { matchId: pending.matches[0]!.id }), {
      code: "E_NOT_FOUND",
    });
  });

  it("answers malformed and refused requests with codes and debits nothing", async () => {
    const { client: c } = await client("rude");
    await admin("POST", "/wallets/rude/adjust", { amount: 1000, reason: "test", requestId: "r1" });
    const bet = { matchId, optionId: "blg", stake: 200, clientBetId: "x" };
    const cases: [unknown, string][] = [
      [{ ...bet, stake: "200" }, "E_INVALID_REQUEST"],
      [{ ...bet, extra: 1 }, "E_INVALID_REQUEST"],
      [{ ...bet, clientBetId: "a\u202eb" }, "E_INVALID_REQUEST"],
      [{ ...bet, matchId: "../etc" }, "E_INVALID_REQUEST"],
      [{ ...bet, optionId: "nobody" }, "E_INVALID_REQUEST"],
      [{ ...bet, stake: 1 }, "E_BET_LIMIT"],
      [{ ...bet, odds: 1 }, "E_ODDS_CHANGED"],
      [{ ...bet, matchId: laterId }, "E_BETTING_CLOSED"],
      [[bet], "E_INVALID_REQUEST"],
    ];
    for (const [body, code] of cases) {
      await assert.rejects(c.request(R.placeBet, body), { code }, JSON.stringify(body));
    }
    const wallet = await c.request<{ balance: number; entries: unknown[] }>(R.wallet, {});
    assert.equal(wallet.balance, 1000);
    assert.equal(wallet.entries.length, 1);
  });

  it("pushes an odds change to followers; a bet naming the old odds is refused", async () => {
    const fan = await client("odds-fan");
    await admin("POST", "/wallets/odds-fan/adjust", { amount: 500, reason: "t", requestId: "o1" });
    await fan.client.request(R.follow, { matchId });
    await admin("POST", `/matches/${matchId}/odds`, { odds: { blg: 1700 }, reason: "news" });
    const oddsOf = (seen: Seen) =>
      seen.pushes
        .filter(([, head]) => head.msgId === GUESS_PUSH.matchChanged)
        .map(
          ([body]) =>
            (body as { match: MatchJson }).match.options.find((o) => o.id === "blg")!.odds,
        );
    await waitFor(() => oddsOf(fan).includes(1700), "the odds push");
    const bet = { matchId, optionId: "blg", stake: 200, clientBetId: "stale" };
    await assert.rejects(fan.client.request(R.placeBet, { ...bet, odds: 1650 }), {
      code: "E_ODDS_CHANGED",
    });
    const placed = await fan.client.request<Placed & { bet: { odds: number } }>(R.placeBet, {
      ...bet,
      odds: 1700,
    });
    assert.equal(placed.bet.odds, 1700);
    await admin("POST", `/matches/${matchId}/odds`, { odds: { blg: 1650 } }); // as the sample has it
    await fan.client.request(R.unfollow, { matchId });
  });

  it("takes 500 clients betting at once against small balances: none overdrawn, reconcile passes", async () => {
    const uids = Array.from({ length: USERS }, (_, i) => `player-${i}`);
    // Each holds 500: of three bets of 200 two fit, and a retried one is debited once.
    for (let i = 0; i < uids.length; i += 50) {
      await Promise.all(
        uids.slice(i, i + 50).map((uid) =>
          admin("POST", `/wallets/${uid}/adjust`, {
            amount: 500,
            reason: "test top-up",
            requestId: `fund-${uid}`,
          }),
        ),
      );
    }
    const players = await Promise.all(uids.map((uid) => client(uid)));
    await Promise.all(
      players.map(({ client: c }) => c.request(R.follow, { matchId }, { timeout: 60_000 })),
    );
    const outcomes = await Promise.all(
      players.map(async ({ client: c }, i) => {
        const bet = (k: number) =>
          c
            .request(
              R.placeBet,
              { matchId, optionId: i % 2 ? "blg" : "jdg", stake: 200, clientBetId: `k${k}` },
              { timeout: 60_000 },
            )
            .then(
              (placed) => placed as Placed,
              (err: unknown) => (err as { code: string }).code,
            );
        return Promise.all([bet(1), bet(2), bet(3), bet(1)]);
      }),
    );
    for (const [i, results] of outcomes.entries()) {
      const placed = results.filter((r): r is Placed => typeof r === "object");
      const refused = results.filter((r) => typeof r === "string");
      // k1 is sent twice: both answers are one bet, or both the refusal.
      assert.equal(new Set(placed.map((p) => p.bet.betId)).size, 2, `player-${i}`);
      assert.ok(
        refused.length >= 1 && refused.every((code) => code === "E_INSUFFICIENT_FUNDS"),
        `player-${i}: ${JSON.stringify(results)}`,
      );
      assert.equal(
        results[0] === results[3] ||
          (results[0] as Placed).bet.betId === (results[3] as Placed).bet.betId,
        true,
      );
    }
    const sample = players[7]!.client;
    const mine = await sample.request<{ bets: unknown[] }>(R.myBets, { matchId });
    assert.equal(mine.bets.length, 2);
    const wallet = await sample.request<{
      balance: number;
      entries: { kind: string; amount: number }[];
    }>(R.wallet, { limit: 10 });
    assert.equal(wallet.balance, 100);
    assert.deepEqual(
      wallet.entries.map((e) => [e.kind, e.amount]),
      [
        ["stake", -200],
        ["stake", -200],
        ["adjust", 500],
      ],
    );
    const reconciled = await runCli(["guess", "reconcile", "--data", server.data, "--json"]);
    assert.equal(reconciled.code, 0, reconciled.stderr);
    const report = JSON.parse(reconciled.stdout) as { wallets: number; mismatches: unknown[] };
    assert.equal(report.wallets, USERS + 2); // and rude, odds-fan
    assert.deepEqual(report.mismatches, []);

    // Closing the match reaches every follower once.
    await admin("POST", `/matches/${matchId}/close`);
    const changed = (seen: Seen, state: number) =>
      seen.pushes.filter(
        ([body, head]) =>
          head.msgId === GUESS_PUSH.matchChanged &&
          (body as { match: MatchJson }).match.state === state,
      );
    await waitFor(
      () => players.every((p) => changed(p, 1).length === 1),
      "every follower pushed the close",
    );

    // The result: every bettor is pushed each bet's outcome once, winners with the payout.
    await admin("POST", `/matches/${matchId}/result`, { result: "blg" });
    const told = (seen: Seen) =>
      seen.pushes
        .filter(([, head]) => head.msgId === GUESS_PUSH.betsSettled)
        .flatMap(([body]) => (body as { bets: { status: string; credited: number }[] }).bets);
    await waitFor(
      () => players.every((p) => told(p).length === 2),
      "every bettor told both outcomes",
    );
    for (const [i, p] of players.entries()) {
      // Odd players bet on blg (odds 1650): 200 pays 330.
      const expected = i % 2 ? ["paid", 330] : ["lost", 0];
      assert.deepEqual(
        told(p).map((b) => [b.status, b.credited]),
        [expected, expected],
        `player-${i}`,
      );
    }
    await waitFor(
      () => players.every((p) => changed(p, 9).length === 1),
      "every follower told the match is paid",
    );
    const settled = (await admin("GET", `/matches/${matchId}`)) as {
      state: number;
      settlement: { total: number; settled: number; credited: number };
    };
    assert.deepEqual(
      [settled.state, settled.settlement.total, settled.settlement.settled],
      [9, USERS * 2 + 1, USERS * 2 + 1], // and odds-fan's bet
    );
    assert.equal(settled.settlement.credited, USERS + 1); // the odd half won both bets, odds-fan one
    const paidWallet = await players[1]!.client.request<{ balance: number }>(R.wallet, {});
    assert.equal(paidWallet.balance, 100 + 2 * 330);
    const final = await runCli(["guess", "reconcile", "--data", server.data, "--json"]);
    assert.deepEqual((JSON.parse(final.stdout) as { mismatches: unknown[] }).mismatches, []);
    await Promise.all(players.map((p) => p.client.close()));
  });

  it("gives a follower who was away the match's changes when it comes back", async () => {
    const first = await client("returner");
    await first.client.request(R.follow, { matchId: laterId });
    const saved = first.client.resumeState;
    await first.client.close();
    await admin("POST", `/matches/${laterId}/open`, { reason: "while away" });
    const back = await client("returner", saved);
    await waitFor(
      () =>
        back.pushes.some(
          ([body, head]) =>
            head.msgId === GUESS_PUSH.matchChanged &&
            (body as { match: MatchJson }).match.state === 2,
        ),
      "the missed change",
    );
    await back.client.request(R.unfollow, { matchId: laterId });
  });

  it("credits a top-up order once when WeChat Pay's signed callback comes, and pushes the balance", async () => {
    const payer = await client("payer");
    const order = await payer.client.request<{ orderId: string; amount: number; status: string }>(
      R.topUp,
      { amount: 1234, provider: "wechat", clientOrderId: "first" },
    );
    assert.deepEqual([order.amount, order.status], [1234, "pending"]);
    const again = await payer.client.request<{ orderId: string }>(R.topUp, {
      amount: 1234,
      provider: "wechat",
      clientOrderId: "first",
    });
    assert.equal(again.orderId, order.orderId);
    await assert.rejects(payer.client.request(R.topUp, { amount: 100, provider: "alipay" }), {
      code: "E_PAY_NOT_CONFIGURED",
    });
    const notify = (tx: unknown) => {
      const { headers, rawBody } = wechatNotification({ tx });
      return fetch(`${server.url}/api/v1/pay/notify/wechat`, {
        method: "POST",
        headers: headers as Record<string, string>,
        body: rawBody,
      });
    };
    const paid = { ...WECHAT_TRANSACTION, out_trade_no: order.orderId };
    const wrongAmount = {
      ...paid,
      transaction_id: "4200000000000000000000000001",
      amount: { ...paid.amount, total: 1 },
    };
    assert.equal((await notify(wrongAmount)).status, 409);
    assert.equal((await notify(paid)).status, 204);
    assert.equal((await notify(paid)).status, 204, "a repeat is answered success, credits nothing");
    const credited = () =>
      payer.pushes.filter(([, head]) => head.msgId === GUESS_PUSH.balanceChanged);
    await waitFor(() => credited().length === 1, "the balance push");
    assert.deepEqual(credited()[0]![0], { orderId: order.orderId, balance: 1234 });
    const wallet = await payer.client.request<{ balance: number; entries: { cause: string }[] }>(
      R.wallet,
      {},
    );
    assert.equal(wallet.balance, 1234);
    assert.deepEqual(
      wallet.entries.map((e) => e.cause),
      [`topup:${order.orderId}`],
    );
  });

  it("reminds who reserved a match once, before it starts", async () => {
    const reserver = await client("early-bird");
    const reserved = await reserver.client.request<{ reserved: boolean }>(R.reserve, {
      matchId: laterId,
    });
    assert.equal(reserved.reserved, true);
    await reserver.client.request(R.reserve, { matchId: laterId }); // again: still one reminder
    const reminders = () => reserver.pushes.filter(([, h]) => h.msgId === GUESS_PUSH.startsSoon);
    await waitFor(() => reminders().length === 1, "the reminder");
    assert.equal((reminders()[0]![0] as { match: { id: string } }).match.id, laterId);
    await new Promise((r) => setTimeout(r, 2500)); // two more sweeps
    assert.equal(reminders().length, 1);
    const unknown = reserver.client.request(R.reserve, { matchId: "m-none" });
    await assert.rejects(unknown, { code: "E_NOT_FOUND" });
  });
});
