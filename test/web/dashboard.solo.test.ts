/**
 * The dashboard at `/` in headless Debian Chromium against a real `serve`:
 * with server.tokens on, the sign-in screen refuses a wrong token and opens
 * the overview with the right one; the overview shows what GET
 * /api/v1/summary says; the token never appears in a URL; Chinese and
 * English; a 1280-wide and a phone-wide screenshot of every page (kept in
 * the directory printed, for a person to look at); without tokens on
 * loopback the page opens directly. Any console error or page error fails.
 * Solo: a browser is heavy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { PATIENCE_MS } from "../helpers/wait.js";
import {
  WIDTHS,
  assertNoOverflow,
  launchBrowser,
  openPage,
  screenshotDir,
  skipWithoutChromium as skip,
  waitInPage,
} from "./browser.js";

const TOKEN = "dashboard-test-token-0123456789";

interface Summary {
  parts: { part: string; state: string; detail: string }[];
  counters: { packJobs: Record<string, number>; files: { count: number } };
}

async function summaryOf(server: TestServer, token?: string): Promise<Summary> {
  const response = await fetch(`${server.url}/api/v1/summary`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Summary;
}

/** Waits for the overview and checks that it shows the parts and totals the API reports. */
async function checkOverview(page: Page, summary: Summary): Promise<void> {
  await page.waitForSelector("ul.parts li", { timeout: PATIENCE_MS });
  const items = page.locator("ul.parts li");
  const shown: { part: string | null; state: string | null; detail: string | null }[] = [];
  for (let i = 0; i < (await items.count()); i++) {
    const item = items.nth(i);
    shown.push({
      part: await item.getAttribute("data-part"),
      state: ((await item.getAttribute("class")) ?? "").replace("part ", ""),
      detail: await item.locator(".detail").textContent(),
    });
  }
  assert.deepEqual(
    shown.map(({ part, state }) => ({ part, state })),
    summary.parts.map(({ part, state }) => ({ part, state })),
  );
  assert.equal(shown.find((p) => p.part === "database")?.detail, "sqlite");
  const jobs = Object.values(summary.counters.packJobs).reduce((a, b) => a + b, 0);
  assert.equal(await page.textContent("[data-total=packJobs]"), String(jobs));
  assert.equal(await page.textContent("[data-total=files]"), String(summary.counters.files.count));
  // Six live charts, each drawn into a canvas.
  await waitInPage(page, 'document.querySelectorAll(".chart canvas").length === 6');
}

describe("the dashboard in a browser", { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  let shots = "";
  let guarded: TestServer;
  let open: TestServer;

  before(async () => {
    shots = await screenshotDir("overview");
    browser = await launchBrowser();
    guarded = await startTestServer({ server: { tokens: [TOKEN] } });
    open = await startTestServer();
  });
  after(async () => {
    await browser.close();
    await guarded.close();
    await open.close();
  });

  it("serves the page with a strict Content-Security-Policy, its assets publicly, the API only with the token", async () => {
    const page = await fetch(`${guarded.url}/`);
    assert.equal(page.status, 200);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    for (const asset of ["/web/app.js", "/web/vendor/preact-htm.js", "/web/vendor/uplot.js"]) {
      const response = await fetch(`${guarded.url}${asset}`);
      assert.equal(response.status, 200, asset);
      assert.match(response.headers.get("content-type") ?? "", /javascript/, asset);
    }
    assert.equal((await fetch(`${guarded.url}/web/vendor/other.js`)).status, 404);
    for (const escape of ["/web/..%2f..%2f..%2fpackage.json", "/web/%2e%2e/%2e%2e/index.ts"]) {
      const response = await fetch(`${guarded.url}${escape}`);
      assert.ok([400, 401, 403, 404].includes(response.status), `${escape}: ${response.status}`);
      assert.doesNotMatch(await response.text(), /"gamedock"|registerDashboard/);
    }
    assert.equal((await fetch(`${guarded.url}/api/v1/summary`)).status, 401);
  });

  it("asks for a token, refuses a wrong one, opens the overview with the right one", async () => {
    const { page, problems, requested } = await openPage(browser);
    await page.goto(guarded.url);
    await page.waitForSelector("form.login", { timeout: PATIENCE_MS });
    await page.screenshot({ path: join(shots, "login-laptop.png") });

    await page.fill("input[name=token]", "not-the-token");
    await page.click("button[type=submit]");
    await page.waitForSelector(".login .error", { timeout: PATIENCE_MS });
    assert.match((await page.textContent(".login .error")) ?? "", /refused|拒绝/);
    // The browser reports the refused request's 401 as a console error; it is the point here.
    problems.splice(0);

    await page.fill("input[name=token]", TOKEN);
    await page.click("button[type=submit]");
    await checkOverview(page, await summaryOf(guarded, TOKEN));
    assert.equal(await page.evaluate('sessionStorage.getItem("gamedock.token")'), TOKEN);
    assert.ok(
      requested.every((url) => !url.includes(TOKEN)),
      "the token never appears in a URL",
    );

    // Signing out forgets the token and shows the sign-in screen again.
    await page.click("text=Sign out");
    await page.waitForSelector("form.login", { timeout: PATIENCE_MS });
    assert.equal(await page.evaluate('sessionStorage.getItem("gamedock.token")'), null);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("opens directly on loopback without tokens, in English and Chinese, at laptop and phone width", async () => {
    // Real data: two stored files (one name a user could type to break a page).
    for (const name of ["mother.apk", "<img src=x onerror=alert(1)>.txt"]) {
      const put = await fetch(`${open.url}/files/${encodeURIComponent(name)}`, {
        method: "PUT",
        body: `bytes of ${name}`,
      });
      assert.equal(put.status, 201);
    }
    const summary = await summaryOf(open);
    assert.equal(summary.counters.files.count, 2);
    for (const { name, width, height } of WIDTHS) {
      const { page, problems } = await openPage(browser, width, height);
      await page.goto(open.url);
      await checkOverview(page, summary);
      assert.equal(await page.$("form.login"), null, "no sign-in without tokens");
      await assertNoOverflow(page, width);
      await page.waitForTimeout(2500); // a second sample, so the charts draw a line
      await page.screenshot({ path: join(shots, `overview-${name}-en.png`), fullPage: true });

      await page.click("header .tools button.link");
      await page.waitForSelector("text=健康状态", { timeout: PATIENCE_MS });
      assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
      assert.match((await page.textContent("nav")) ?? "", /总览/);
      await page.screenshot({ path: join(shots, `overview-${name}-zh.png`), fullPage: true });
      assert.deepEqual(problems, [], `console errors at ${width}px`);
      await page.close();
    }
  });
});
