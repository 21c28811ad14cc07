/**
 * The guessing admin API and match lists over HTTP (embedded defaults): a
 * feed is imported, approved and opened; lists show what users may see;
 * every bad request answers 4xx with a stable code and the field.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, removeDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";

interface MatchJson {
  id: string;
  externalId: string;
  state: number;
  stateName: string;
  approved: boolean;
  actions: string[];
}
interface ErrorJson {
  error: { code: string; message: string; details?: { field?: string } };
}

describe("guessing over HTTP", () => {
  let server: TestServer;
  let feed: unknown;

  before(async () => {
    server = await startTestServer({}, { stages: [] });
    feed = JSON.parse(await readFile(join(ROOT, "samples/guess-feed.json"), "utf8"));
  });
  after(async () => {
    await server.close();
    await removeDir(server.data);
  });

  it("imports the sample feed, approves and opens a match, and lists it for users", async () => {
    const imported = await server.api("POST", "/api/v1/guess/admin/matches/import", feed);
    assert.equal(imported.status, 200, JSON.stringify(imported.json));
    const results = (imported.json as { results: { id: string; outcome: string }[] }).results;
    assert.deepEqual(
      results.map((r) => r.outcome),
      ["created", "created", "created"],
    );
    const id = results[0]!.id;

    const hidden = await server.api("GET", `/api/v1/guess/matches/${id}`);
    assert.equal(hidden.status, 404, "users do not see a match before approval");
    const pending = await server.api("GET", "/api/v1/guess/admin/matches?status=pending");
    assert.equal((pending.json as { matches: unknown[] }).matches.length, 3);

    assert.equal(
      (await server.api("POST", `/api/v1/guess/admin/matches/${id}/approve`)).status,
      200,
    );
    const opened = await server.api("POST", `/api/v1/guess/admin/matches/${id}/open`, {
      reason: "开盘",
    });
    assert.equal(opened.status, 200, JSON.stringify(opened.json));
    const match = opened.json as MatchJson;
    assert.deepEqual([match.state, match.stateName], [2, "betting open"]);
    assert.deepEqual(match.actions, ["close", "start", "result", "cancel"]);

    const doing = await server.api("GET", "/api/v1/guess/matches?type=lol");
    assert.deepEqual(
      (doing.json as { matches: MatchJson[] }).matches.map((m) => m.externalId),
      ["lpl-2026-12-05-blg-jdg"],
    );
    const audit = await server.api("GET", `/api/v1/guess/admin/audit?matchId=${id}`);
    const entries = (audit.json as { entries: { action: string; actor: string; reason: string }[] })
      .entries;
    assert.deepEqual(
      entries.map((e) => [e.action, e.actor]),
      [
        ["open", "local"],
        ["approve", "local"],
        ["import", "local"],
      ],
    );
    assert.equal(entries[0]?.reason, "开盘");
    // The same trail a row at a time.
    const paged: string[] = [];
    let cursor = "";
    for (;;) {
      const page = await server.api(
        "GET",
        `/api/v1/guess/admin/audit?matchId=${id}&limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      const body = page.json as { entries: { action: string }[]; nextCursor: string | null };
      paged.push(...body.entries.map((e) => e.action));
      if (body.nextCursor === null) break;
      cursor = body.nextCursor;
    }
    assert.deepEqual(paged, ["open", "approve", "import"]);
  });

  it("refuses an illegal transition with 409 E_MATCH_STATE naming both states", async () => {
    const list = await server.api("GET", "/api/v1/guess/admin/matches?status=pending");
    const id = (list.json as { matches: MatchJson[] }).matches[0]!.id;
    const refused = await server.api("POST", `/api/v1/guess/admin/matches/${id}/close`);
    assert.equal(refused.status, 409);
    const error = (refused.json as ErrorJson).error;
    assert.equal(error.code, "E_MATCH_STATE");
    assert.match(error.message, /state 0 \(not started\).*to 1 \(betting stopped\)/);
  });

  it("changes odds until a result, audited; refuses unknown options, bad odds and later states", async () => {
    const list = await server.api("GET", "/api/v1/guess/admin/matches?status=pending");
    const match = (list.json as { matches: (MatchJson & { options: { id: string }[] })[] })
      .matches[0]!;
    const [first, second] = match.options.map((o) => o.id);
    const changed = await server.api("POST", `/api/v1/guess/admin/matches/${match.id}/odds`, {
      odds: { [first!]: 1720 },
      reason: "injury news",
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    const options = (changed.json as { options: { id: string; odds: number }[] }).options;
    assert.equal(options.find((o) => o.id === first)!.odds, 1720);
    const audit = await server.api(
      "GET",
      `/api/v1/guess/admin/audit?matchId=${match.id}&action=odds`,
    );
    const entry = (audit.json as { entries: { after: { odds: Record<string, number> } }[] })
      .entries[0]!;
    assert.equal(entry.after.odds[first!], 1720);
    for (const [body, field] of [
      [`{"odds": {"nope": 1500}}`, "odds.nope"],
      [`{"odds": {"__proto__": 1500}}`, null],
      [`{"odds": {"${first!}": 1000}}`, null],
      [`{"odds": {"${first!}": 1500.5}}`, null],
      [`{"odds": {}}`, "odds"],
      [`{"odds": {"${second!}": 1500}, "extra": true}`, null],
    ] as const) {
      const refused = await server.api(
        "POST",
        `/api/v1/guess/admin/matches/${match.id}/odds`,
        body,
      );
      assert.equal(refused.status, 400, body);
      if (field !== null) assert.equal((refused.json as ErrorJson).error.details?.field, field);
    }
    const still = await server.api("GET", `/api/v1/guess/admin/matches/${match.id}`);
    assert.deepEqual(
      (still.json as { options: { odds: number }[] }).options.map((o) => o.odds),
      options.map((o) => o.odds),
      "a refused change changes nothing",
    );
    await server.api("POST", `/api/v1/guess/admin/matches/${match.id}/cancel`);
    const late = await server.api("POST", `/api/v1/guess/admin/matches/${match.id}/odds`, {
      odds: { [first!]: 1800 },
    });
    assert.equal(late.status, 409);
    assert.equal((late.json as ErrorJson).error.code, "E_MATCH_STATE");
  });

  it("adjusts a wallet once per request id, with a reason, audited; never below zero", async () => {
    const path = `/api/v1/guess/admin/wallets/${encodeURIComponent("玩家一")}`;
    const body = { amount: 1000, reason: "补偿 compensation", requestId: "r-1" };
    const first = await server.api("POST", `${path}/adjust`, body);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(first.json, { uid: "玩家一", applied: true, balance: 1000 });
    const repeat = await server.api("POST", `${path}/adjust`, body);
    assert.deepEqual(repeat.json, { uid: "玩家一", applied: false, balance: 1000 });
    const overdraw = await server.api("POST", `${path}/adjust`, {
      amount: -5000,
      reason: "mistake",
      requestId: "r-2",
    });
    assert.equal(overdraw.status, 409);
    assert.equal((overdraw.json as ErrorJson).error.code, "E_INSUFFICIENT_FUNDS");
    const wallet = await server.api("GET", path);
    const view = wallet.json as { balance: number; entries: { kind: string; reason: string }[] };
    assert.equal(view.balance, 1000);
    assert.deepEqual(
      view.entries.map((e) => [e.kind, e.reason]),
      [["adjust", "补偿 compensation"]],
    );
    const audit = await server.api("GET", "/api/v1/guess/admin/audit?action=adjust");
    const entries = (audit.json as { entries: { uid: string; before: unknown; after: unknown }[] })
      .entries;
    assert.equal(entries.length, 1, "the repeat and the refused overdraw wrote no audit row");
    assert.deepEqual(
      [entries[0]?.uid, entries[0]?.before, entries[0]?.after],
      ["玩家一", { balance: 0 }, { balance: 1000 }],
    );
    for (const bad of [
      { amount: 0, reason: "x", requestId: "r-3" },
      { amount: 5, requestId: "r-3" },
      { amount: 5, reason: "x", requestId: "has space" },
      { amount: 1.5, reason: "x", requestId: "r-3" },
    ]) {
      const answer = await server.api("POST", `${path}/adjust`, bad);
      assert.equal(answer.status, 400, JSON.stringify(bad));
    }
    const bidi = await server.api(
      "GET",
      `/api/v1/guess/admin/wallets/${encodeURIComponent("a\u202eb")}`,
    );
    assert.equal((bidi.json as ErrorJson).error.details?.field, "uid");
  });

  it("answers daily statistics in the configured zone and a match's, and refuses a bad range", async () => {
    const daily = await server.api("GET", "/api/v1/guess/admin/stats/daily");
    assert.equal(daily.status, 200, JSON.stringify(daily.json));
    const body = daily.json as { timeZone: string; days: { day: string; bets: number }[] };
    assert.equal(body.timeZone, "Asia/Shanghai");
    assert.equal(body.days.length, 7, "the last 7 days by default");
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    assert.equal(body.days.at(-1)!.day, today);
    const bad = await server.api("GET", "/api/v1/guess/admin/stats/daily?from=2026-02-30x");
    assert.equal(bad.status, 400);
    assert.equal((bad.json as ErrorJson).error.details?.field, "from");
    const pending = await server.api("GET", "/api/v1/guess/admin/matches?status=pending");
    const id = (pending.json as { matches: MatchJson[] }).matches[0]!.id;
    const one = await server.api("GET", `/api/v1/guess/admin/stats/matches/${id}`);
    assert.deepEqual(one.json, {
      matchId: id,
      bets: 0,
      stakes: 0,
      users: 0,
      byOption: [],
      payouts: 0,
      refunds: 0,
    });
    assert.equal((await server.api("GET", "/api/v1/guess/admin/stats/matches/m-none")).status, 404);
  });

  it("answers bad requests with 4xx, a stable code and the field, and stores nothing", async () => {
    const cases: [string, string, unknown, number, string, string?][] = [
      [
        "POST",
        "/api/v1/guess/admin/matches/import",
        { matches: [] },
        400,
        "E_INVALID_REQUEST",
        "matches",
      ],
      [
        "POST",
        "/api/v1/guess/admin/matches/import",
        {
          matches: [
            {
              externalId: "x1",
              type: "lol",
              title: "bidi \u202e attack",
              teams: [
                { id: "a", name: "A" },
                { id: "b", name: "B" },
              ],
              startsAt: "2026-12-10T12:00:00Z",
              lockAt: "2026-12-10T11:00:00Z",
              options: [
                { id: "a", label: "A", odds: 1500 },
                { id: "b", label: "B", odds: 2500 },
              ],
            },
          ],
        },
        400,
        "E_INVALID_REQUEST",
        "matches.0.title",
      ],
      ["POST", "/api/v1/guess/admin/matches/m-nope/open", {}, 404, "E_NOT_FOUND"],
      // A lone surrogate and a control character in free text; a body nested past the limit.
      [
        "POST",
        "/api/v1/guess/admin/wallets/u1/adjust",
        '{"amount":1,"reason":"\\ud800","requestId":"r"}',
        400,
        "E_INVALID_REQUEST",
        "reason",
      ],
      [
        "POST",
        "/api/v1/guess/admin/wallets/u1/adjust",
        { amount: 1, reason: "a\u0007b", requestId: "r" },
        400,
        "E_INVALID_REQUEST",
        "reason",
      ],
      [
        "POST",
        "/api/v1/guess/admin/matches/import",
        `{"matches":${"[".repeat(100)}${"]".repeat(100)}}`,
        400,
        "E_INVALID_REQUEST",
      ],
      [
        "POST",
        "/api/v1/guess/admin/matches/m-nope/explode",
        {},
        400,
        "E_INVALID_REQUEST",
        "action",
      ],
      [
        "GET",
        "/api/v1/guess/matches?status=pending",
        undefined,
        400,
        "E_INVALID_REQUEST",
        "status",
      ],
      ["GET", "/api/v1/guess/matches?limit=0", undefined, 400, "E_INVALID_REQUEST", "limit"],
      ["GET", "/api/v1/guess/matches?type=LOL!", undefined, 400, "E_INVALID_REQUEST", "type"],
      ["GET", "/api/v1/guess/matches?cursor=zzz", undefined, 400, "E_INVALID_REQUEST", "cursor"],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const answer = await server.api(method, path, body);
      assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.json)}`);
      const error = (answer.json as ErrorJson).error;
      assert.equal(error.code, code, path);
      if (field !== undefined) assert.equal(error.details?.field, field, path);
    }
    const all = await server.api("GET", "/api/v1/guess/admin/matches?limit=200");
    assert.equal((all.json as { matches: unknown[] }).matches.length, 3, "nothing more stored");
  });
});
