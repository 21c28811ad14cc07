/**
 * The dashboard's guessing admin page (#/guess) in headless Debian Chromium
 * against a real `serve` with guessing on: a match imported through the API
 * is approved, opened, closed and given a result in the page — which offers
 * only the actions the API's `actions` allow — after two users bet over the
 * realtime connection; the page shows the settlement done and the winner's
 * balance the API answers; an adjustment made in the page (double-clicked)
 * lands once in the ledger and the audit log, both in the page and the API;
 * a 409 from a match moved meanwhile is shown; a title of HTML shows as text.
 * English and Chinese, 1280 px and 390 px, nothing wider than the screen,
 * screenshots in the directory printed. Any console or page error fails.
 * Solo: a browser is heavy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { connect, type GamedockClient } from "../../src/client/index.js";
import { GUESS_REQUEST as R } from "../../src/guess/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { removeDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { PATIENCE_MS, waitFor } from "../helpers/wait.js";
import {
  WIDTHS,
  assertNoOverflow,
  launchBrowser,
  openPage,
  screenshotDir,
  skipWithoutChromium as skip,
} from "./browser.js";

const SECRET = "dashboard-guess-secret-0123456789abcdef";
const HOSTILE = "<img src=x onerror=alert(1)>";
const WINNER = "fan-win";
const LOSER = "fan-lose";

interface MatchJson {
  id: string;
  title: string;
  state: number;
  approved: boolean;
  actions: string[];
  settlement: { total: number; settled: number; credited: number };
}
interface WalletJson {
  balance: number;
  entries: { cause: string; kind: string; amount: number; reason: string | null }[];
}
interface AuditJson {
  entries: { id: string; action: string; uid: string | null; reason: string | null }[];
}

/** A feed match that starts in two days (betting stays open whatever day the test runs). */
function feedMatch(externalId: string, title: string) {
  const startsAt = Date.now() + 2 * 86_400_000;
  return {
    externalId,
    type: "lol",
    title,
    teams: [
      { id: "blg", name: "Bilibili Gaming" },
      { id: "jdg", name: "JD Gaming" },
    ],
    startsAt: new Date(startsAt).toISOString(),
    lockAt: new Date(startsAt - 600_000).toISOString(),
    options: [
      { id: "blg", label: "BLG 胜", odds: 1650 },
      { id: "jdg", label: "JDG 胜", odds: 2150 },
    ],
  };
}

/** The values of `attribute` on every element `selector` finds, in document order. */
const attributes = (page: Page, selector: string, attribute: string) =>
  page.evaluate<(string | null)[]>(
    `Array.from(document.querySelectorAll(${JSON.stringify(selector)}), (e) => e.getAttribute(${JSON.stringify(attribute)}))`,
  );

/** The actions the page offers for the match it shows. */
const offered = (page: Page) => attributes(page, "[data-actions] button[data-act]", "data-act");

/** What the page should offer: the API's actions, without approving an approved match again. */
const expected = (match: MatchJson) =>
  match.actions.filter((a) => !(a === "approve" && match.approved));

async function show(page: Page, hash: string, ready: string): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.waitForSelector(ready, { timeout: PATIENCE_MS });
}

/** Chooses `action` in the page, fills its form and confirms it. */
async function act(
  page: Page,
  action: string,
  fill: { reason?: string; result?: string } = {},
): Promise<void> {
  await page.click(`[data-actions] button[data-act=${action}]`);
  const form = `form[data-action-form=${action}]`;
  await page.waitForSelector(form, { timeout: PATIENCE_MS });
  if (fill.result !== undefined)
    await page.selectOption(`${form} select[name=result]`, fill.result);
  if (fill.reason !== undefined) await page.fill(`${form} input[name=reason]`, fill.reason);
  await page.click(`${form} button[name=confirm]`);
  await page.waitForSelector(form, { state: "detached", timeout: PATIENCE_MS });
}

/** Waits until `selector`'s text is `text` (the page polls; no eval: the page's CSP forbids it). */
const shows = (page: Page, selector: string, text: string) =>
  waitFor(
    async () => (await page.textContent(selector, { timeout: PATIENCE_MS }))?.trim() === text,
    `${selector} showing ${text}`,
  );

const stateShown = (page: Page, state: number) =>
  page.waitForSelector(`.toolbar [data-state="${state}"]`, { timeout: PATIENCE_MS });

describe("the guessing admin page in a browser", { skip, timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let shots = "";
  let matchId = "";
  let hostileId = "";
  const clients: GamedockClient[] = [];

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const answer = await server.api(method, `/api/v1/guess/admin${path}`, body);
    assert.equal(answer.status, 200, `${method} ${path}: ${JSON.stringify(answer.json)}`);
    return answer.json as T;
  };
  const matchOf = (id: string) => admin<MatchJson>("GET", `/matches/${id}`);
  const bet = async (uid: string, optionId: string, stake: number): Promise<string> => {
    const client = connect(server.url, {
      token: await mintToken(new TextEncoder().encode(SECRET), { uid, ttlSeconds: 600 }),
    });
    clients.push(client);
    const placed = await client.request<{ bet: { betId: string } }>(R.placeBet, {
      matchId,
      optionId,
      stake,
      clientBetId: `${uid}-1`,
    });
    return placed.bet.betId;
  };

  before(async () => {
    shots = await screenshotDir("guess");
    browser = await launchBrowser();
    server = await startTestServer({ realtime: { jwtSecret: SECRET } }, { stages: [] });
    const { results } = await admin<{ results: { id: string }[] }>("POST", "/matches/import", {
      matches: [
        feedMatch("dash-blg-jdg", "LPL 冬季赛 BLG vs JDG"),
        feedMatch("dash-hostile", HOSTILE),
      ],
    });
    matchId = results[0]!.id;
    hostileId = results[1]!.id;
    for (const uid of [WINNER, LOSER]) {
      await admin("POST", `/wallets/${uid}/adjust`, {
        amount: 5000,
        reason: "test funds",
        requestId: `fund-${uid}`,
      });
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await browser.close();
    await server.close();
    await removeDir(server.data);
  });

  it("takes a match from approval to payout, adjusts a wallet and shows the audit, at laptop width", async () => {
    const { page, problems } = await openPage(browser);
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${server.url}/#/guess`);
    await page.waitForSelector(`[data-table=matches] [data-row="${hostileId}"]`, {
      timeout: PATIENCE_MS,
    });
    // A title of HTML is text: shown as typed, no element made of it.
    assert.equal(
      (await page.textContent(`[data-row="${hostileId}"] [data-col=title]`))?.trim(),
      HOSTILE,
    );
    assert.equal(await page.locator("img").count(), 0);
    // The filter: both wait for approval, none is finished.
    await page.selectOption("select[name=status]", "pending");
    await page.waitForSelector(`[data-row="${matchId}"]`, { timeout: PATIENCE_MS });
    await page.selectOption("select[name=status]", "finished");
    await page.waitForSelector("[data-table=matches] td.empty", { timeout: PATIENCE_MS });
    await page.selectOption("select[name=status]", "");
    await page.click(`[data-row="${matchId}"] [data-col=title] a`);
    await stateShown(page, 0);

    // Awaiting approval: approve, start, cancel — not open (not approved), result or archive.
    let match = await matchOf(matchId);
    assert.deepEqual(await offered(page), expected(match));
    assert.deepEqual(await offered(page), ["approve", "start", "cancel"]);
    await page.screenshot({ path: join(shots, "match-new-laptop-en.png"), fullPage: true });

    await act(page, "approve", { reason: "teams confirmed" });
    await page.waitForSelector("[data-approved=true]", { timeout: PATIENCE_MS });
    match = await matchOf(matchId);
    assert.equal(match.approved, true);
    assert.deepEqual(await offered(page), expected(match));
    assert.deepEqual(await offered(page), ["open", "start", "cancel"]);

    await act(page, "open");
    await stateShown(page, 2);
    match = await matchOf(matchId);
    assert.deepEqual(await offered(page), expected(match));
    assert.ok(!(await offered(page)).includes("archive"), "no archive while betting is open");

    // Two users bet on the open match: one on the winner, one on the loser.
    const winningBet = await bet(WINNER, "blg", 1000);
    await bet(LOSER, "jdg", 800);

    await act(page, "close", { reason: "match about to begin" });
    await stateShown(page, 1);
    match = await matchOf(matchId);
    assert.deepEqual(await offered(page), expected(match));
    assert.deepEqual(await offered(page), ["open", "result", "noResult", "cancel"]);

    // A result needs its winning option: the page refuses to send one without.
    await page.click("[data-actions] button[data-act=result]");
    await page.click("form[data-action-form=result] button[name=confirm]");
    await page.waitForSelector("[data-actions] .error", { timeout: PATIENCE_MS });
    await act(page, "result", { result: "blg", reason: "BLG 2:1" });

    // Settlement runs by itself: decided, paid, done.
    await page.waitForSelector("[data-phase=done]", { timeout: PATIENCE_MS });
    await stateShown(page, 9);
    match = await matchOf(matchId);
    assert.equal(match.state, 9);
    assert.deepEqual(match.settlement, {
      ...match.settlement,
      total: 2,
      settled: 2,
      credited: 1,
    });
    assert.match(
      (await page.textContent("[data-progress]")) ?? "",
      /2 of 2 bets decided, 1 credited/,
    );
    assert.equal(await page.getAttribute("[data-result]", "data-result"), "blg");
    const matchStats = await admin<{ bets: number; payouts: number }>(
      "GET",
      `/stats/matches/${matchId}`,
    );
    assert.deepEqual([matchStats.bets, matchStats.payouts], [2, 1650]);
    await shows(page, "[data-stat=payouts]", "1650");
    assert.equal(await page.textContent("[data-stat=bets]"), "2");
    assert.deepEqual(await offered(page), ["archive"]);
    for (const gone of ["result", "noResult", "cancel", "open", "close"]) {
      assert.equal(await page.$(`[data-actions] button[data-act=${gone}]`), null, gone);
    }
    await page.screenshot({ path: join(shots, "match-paid-laptop-en.png"), fullPage: true });

    // The winner's wallet in the page: the balance the API answers, the payout in the ledger.
    await page.click("[data-tab=wallets]");
    await page.fill("[data-lookup] input[name=uid]", WINNER);
    await page.click("[data-lookup] button[name=lookup]");
    await page.waitForSelector("[data-balance]", { timeout: PATIENCE_MS });
    let wallet = await admin<WalletJson>("GET", `/wallets/${WINNER}`);
    assert.equal(wallet.balance, 5000 - 1000 + 1650);
    assert.equal(await page.textContent("[data-balance]"), String(wallet.balance));
    await page.waitForSelector(`[data-table=ledger] [data-row="payout:${winningBet}"]`, {
      timeout: PATIENCE_MS,
    });

    // An adjustment with a reason, double-clicked: applied once.
    const reason = "goodwill: 派奖延迟补偿";
    await page.click("[data-adjust] button[name=adjust]");
    await page.waitForSelector("[data-adjust] .field-error", { timeout: PATIENCE_MS });
    await page.fill("[data-adjust] input[name=amount]", "250");
    await page.fill("[data-adjust] input[name=reason]", reason);
    await page.dblclick("[data-adjust] button[name=adjust]");
    await page.waitForSelector("[data-adjusted=true]", { timeout: PATIENCE_MS });
    await shows(page, "[data-balance]", String(wallet.balance + 250));
    wallet = await admin<WalletJson>("GET", `/wallets/${WINNER}`);
    assert.equal(wallet.balance, 5000 - 1000 + 1650 + 250);
    const adjusts = wallet.entries.filter((e) => e.kind === "adjust" && e.reason === reason);
    assert.equal(adjusts.length, 1, "one adjustment for a double click");
    const row = `[data-table=ledger] [data-row="${adjusts[0]!.cause}"]`;
    await page.waitForSelector(row, { timeout: PATIENCE_MS });
    assert.equal((await page.textContent(`${row} [data-col=reason]`))?.trim(), reason);
    assert.equal((await page.textContent(`${row} [data-col=amount]`))?.trim(), "+250");
    await page.screenshot({ path: join(shots, "wallet-laptop-en.png"), fullPage: true });

    // The audit log: the adjustment's row, newest first, as the API has it.
    await page.click("[data-tab=audit]");
    const audit = await admin<AuditJson>("GET", "/audit");
    const newest = audit.entries[0]!;
    assert.deepEqual([newest.action, newest.uid, newest.reason], ["adjust", WINNER, reason]);
    const auditRow = `[data-table=audit] [data-row="${newest.id}"]`;
    await page.waitForSelector(auditRow, { timeout: PATIENCE_MS });
    assert.equal(
      await page.getAttribute("[data-table=audit] tbody tr:first-child", "data-row"),
      newest.id,
    );
    assert.equal((await page.textContent(`${auditRow} [data-col=uid]`))?.trim(), WINNER);
    assert.equal((await page.textContent(`${auditRow} [data-col=reason]`))?.trim(), reason);
    // Filtered by the match: its whole trail, in the API's order.
    await page.fill("[data-audit-filter] input[name=matchId]", matchId);
    await page.click("[data-audit-filter] button[name=filter]");
    const trail = await admin<AuditJson>("GET", `/audit?matchId=${matchId}`);
    assert.deepEqual(
      trail.entries.map((e) => e.action),
      ["paid", "settled", "result", "close", "open", "approve", "import"],
    );
    await waitFor(
      async () =>
        JSON.stringify(
          await attributes(page, "[data-table=audit] tbody tr[data-row]", "data-row"),
        ) === JSON.stringify(trail.entries.map((e) => e.id)),
      "the match's audit trail in the page",
    );
    await page.screenshot({ path: join(shots, "audit-laptop-en.png"), fullPage: true });

    // Daily statistics: today's bets as the API counts them.
    await page.click("[data-tab=stats]");
    const daily = await admin<{ days: { day: string; bets: number; stakes: number }[] }>(
      "GET",
      "/stats/daily",
    );
    const today = daily.days.at(-1)!;
    assert.deepEqual([today.bets, today.stakes], [2, 1800]);
    await page.waitForSelector(`[data-table=daily] [data-row="${today.day}"]`, {
      timeout: PATIENCE_MS,
    });
    assert.equal(
      (await page.textContent(`[data-row="${today.day}"] [data-col=bets]`))?.trim(),
      String(today.bets),
    );

    // A match moved by someone else meanwhile: the page's action gets the 409 and shows it.
    await show(page, `#/guess/${hostileId}`, "[data-actions]");
    assert.equal((await page.textContent("[data-title]"))?.trim(), HOSTILE);
    assert.deepEqual(await offered(page), expected(await matchOf(hostileId)));
    await page.click("[data-actions] button[data-act=start]");
    await admin("POST", `/matches/${hostileId}/cancel`, { reason: "feed withdrew it" });
    await page.click("form[data-action-form=start] button[name=confirm]");
    await page.waitForSelector("[data-actions] .error", { timeout: PATIENCE_MS });
    assert.match(
      (await page.textContent("[data-actions] .error")) ?? "",
      /^E_MATCH_STATE: cannot start a match in state (6|8) /,
    );
    assert.equal(await page.$("form[data-action-form]"), null, "the refused form is closed");
    // The browser logs the refused request's 409; it is the point here.
    assert.ok(problems.length > 0 && problems.every((p) => /409/.test(p)), problems.join("\n"));
    problems.splice(0);
    // Cancelled with no bets, it is refunded at once: only archiving is left.
    await stateShown(page, 8);
    await waitFor(
      async () => JSON.stringify(await offered(page)) === JSON.stringify(["archive"]),
      "only archive offered",
    );
    assert.equal(await page.locator("img").count(), 0);
    assert.deepEqual(dialogs, [], "no script ran from a title");

    // Chinese.
    await page.click("header .tools button.link");
    await page.waitForSelector("text=可执行操作", { timeout: PATIENCE_MS });
    await page.screenshot({ path: join(shots, "match-refunded-laptop-zh.png"), fullPage: true });
    await show(page, `#/guess/${matchId}`, "[data-phase=done]");
    assert.match((await page.textContent("[data-phase=done]")) ?? "", /结算完成/);
    await page.screenshot({ path: join(shots, "match-paid-laptop-zh.png"), fullPage: true });
    await page.click("header .tools button.link"); // back to English for the next page
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("fits a phone and a laptop screen, in English and Chinese", async () => {
    const views: [string, string, string][] = [
      ["list", "#/guess", `[data-table=matches] [data-row="${matchId}"]`],
      ["match", `#/guess/${matchId}`, "[data-phase=done]"],
      ["wallet", `#/guess/wallets/${WINNER}`, "[data-table=ledger] tr[data-row]"],
      ["audit", "#/guess/audit", "[data-table=audit] tr[data-row]"],
      ["stats", "#/guess/stats", "[data-table=daily] tr[data-row]"],
    ];
    for (const { name, width, height } of WIDTHS) {
      const { page, problems } = await openPage(browser, width, height);
      await page.goto(`${server.url}/#/guess`);
      for (const language of ["en", "zh"]) {
        if (language === "zh") {
          await page.click("header .tools button.link");
          await page.waitForSelector("nav a >> text=竞猜", { timeout: PATIENCE_MS });
        }
        for (const [view, hash, ready] of views) {
          await show(page, hash, ready);
          await assertNoOverflow(page, width);
          await page.screenshot({
            path: join(shots, `${view}-${name}-${language}.png`),
            fullPage: true,
          });
        }
      }
      assert.deepEqual(problems, [], `console errors at ${width}px`);
      await page.close();
    }
  });
});
