/**
 * The dashboard's working pages in headless Debian Chromium against one real
 * `serve` that needs a token (the page sends it in a header; downloads go
 * through signed links, which need none): pack jobs (upload a mother with
 * tus, see the server's per-field errors, create the job, watch it finish,
 * download a child; retry a failed channel), files (upload, search by name
 * and digest, signed link, apk info, delete), the task cluster (run a task on
 * the in-process executor, see its result) and realtime (a connected user
 * listed, a test push that reaches its socket). What each page shows is
 * checked against the API; user strings show as text; every page is
 * screenshotted at laptop and phone width in English and Chinese without
 * horizontal overflow or console errors. Solo: a browser is heavy.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { CHAT_REQUEST } from "../../src/chat/index.js";
import { connect } from "../../src/client/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { fixture, tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { PATIENCE_MS, waitFor } from "../helpers/wait.js";
import { openSocket } from "../realtime/ws-client.js";
import {
  WIDTHS,
  assertNoOverflow,
  launchBrowser,
  openPage,
  screenshotDir,
  skipWithoutChromium as skip,
  waitInPage,
  type WatchedPage,
} from "./browser.js";

const TOKEN = "dashboard-pages-token-0123456789";
const JWT_SECRET = "dashboard-pages-jwt-secret-0123456789";
const HOSTILE = "<img src=x onerror=alert(1)>";

interface Channel {
  channel: string;
  state: string;
  attempts: number;
  output: { size: number; sha256: string } | null;
}
interface Job {
  id: string;
  status: string;
  finishedAt: string | null;
  counts: Record<string, number>;
  channels: Channel[];
}
interface StoredFile {
  id: string;
  name: string;
  sha256: string;
  size: number;
}

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

describe("the dashboard's pages in a browser", { skip, timeout: 300_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let shots = "";
  let packages = "";
  const watched: WatchedPage[] = [];

  /** The API with the token, JSON in and out; fails on an unexpected status. */
  async function call<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.equal(response.status, status, `${method} ${path}: ${text}`);
    return (text === "" ? null : JSON.parse(text)) as T;
  }

  async function untilJob(id: string, done: (job: Job) => boolean): Promise<Job> {
    let job: Job | undefined;
    await waitFor(async () => {
      job = await call<Job>("GET", `/api/v1/pack-jobs/${id}`);
      return done(job);
    }, `job ${id}`);
    return job!;
  }

  /** A signed-in page at `hash`: the token goes into session storage the way the sign-in form puts it. */
  async function open(hash: string, width = 1280, height = 800): Promise<Page> {
    const w = await openPage(browser, width, height);
    watched.push(w);
    await w.page.addInitScript(
      `sessionStorage.setItem("gamedock.token", ${JSON.stringify(TOKEN)})`,
    );
    await w.page.goto(`${server.url}/${hash}`);
    return w.page;
  }

  /** The page at both widths, in English and in Chinese, without sideways scrolling. */
  async function screenshots(name: string, hash: string, ready: string): Promise<void> {
    for (const { name: size, width, height } of WIDTHS) {
      const page = await open(hash, width, height);
      await page.waitForSelector(ready, { timeout: PATIENCE_MS });
      await assertNoOverflow(page, width);
      await page.screenshot({ path: join(shots, `${name}-${size}-en.png`), fullPage: true });
      await page.click("header .tools button.link"); // 中文
      await waitInPage(page, 'document.documentElement.lang === "zh-CN"');
      await page.waitForSelector(ready, { timeout: PATIENCE_MS });
      await assertNoOverflow(page, width);
      await page.screenshot({ path: join(shots, `${name}-${size}-zh.png`), fullPage: true });
      await page.evaluate('sessionStorage.setItem("gamedock.lang", "en")');
      await page.close();
    }
  }

  const cell = (page: Page, table: string, row: string, col: string) =>
    page.locator(`[data-table="${table}"] tr[data-row="${row}"] td[data-col="${col}"]`);

  before(async () => {
    shots = await screenshotDir("pages");
    browser = await launchBrowser();
    const data = await tempDir("gamedock-dashboard-pages-");
    server = await startTestServer(
      {
        server: { tokens: [TOKEN] },
        // info: every request is logged, so the last test can look for the token in the log.
        log: { level: "info", file: join(data, "gamedock.log") },
        cluster: { tools: { sh: "/bin/sh" }, heartbeatMs: 300 },
        realtime: { jwtSecret: JWT_SECRET, presenceTtlMs: 3000 },
      },
      { data },
    );
    packages = join(server.data, "packages");
    await mkdir(join(packages, "games"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(packages, "games", "demo.apk"));
  });
  after(async () => {
    await browser.close();
    await server.close();
    await rm(server.data, { recursive: true, force: true });
  });

  it("pack jobs: uploads a mother, shows the server's per-field errors, creates the job, watches it finish, downloads a child", async () => {
    const page = await open("#/packs/new");
    await page.click("input[name=source] >> nth=1"); // upload a mother
    await page.setInputFiles("input[name=mother-file]", fixture("v1v2v3.apk"));
    const fileId = await page
      .locator("[data-uploaded]")
      .getAttribute("data-uploaded", { timeout: PATIENCE_MS });
    const { files } = await call<{ files: StoredFile[] }>("GET", "/api/v1/files?q=v1v2v3");
    const mother = sha256(await readFile(fixture("v1v2v3.apk")));
    assert.ok(files.some((f) => f.id === fileId && f.sha256 === mother));

    // A bad channel on line 3 (a bidi control) and one with a reserved extras key on line 5.
    await page.fill(
      "textarea[name=channels]",
      "huawei\n# comment\nbad\u202Eid\n\nxiaomi channel=x\n渠道&amp;",
    );
    const errors = page.locator(".field.invalid .field-error");
    let shown = "";
    await waitFor(async () => {
      shown = (await errors.allTextContents()).join("\n");
      return /line 3/.test(shown) && /line 5/.test(shown);
    }, "the errors of lines 3 and 5");
    assert.match(shown, /line 3/, shown);
    assert.match(shown, /line 5/, shown);
    assert.equal(await page.isDisabled("button[name=create]"), true);
    // The browser logs each refused dry run (400) as a failed resource: expected here, and only here.
    const { problems } = watched.at(-1)!;
    const refusals = problems.filter((p) => /status of 400.*pack-jobs\?dryRun=true/.test(p));
    assert.ok(refusals.length > 0);
    problems.splice(0, problems.length, ...problems.filter((p) => !refusals.includes(p)));
    await page.screenshot({ path: join(shots, "pack-new-errors-laptop-en.png"), fullPage: true });

    await page.fill("textarea[name=channels]", "huawei\nxiaomi region=cn\n渠道&amp;");
    await page.waitForSelector("[data-valid]", { timeout: PATIENCE_MS });
    const listed = await call<{ jobs: Job[] }>("GET", "/api/v1/pack-jobs");
    assert.equal(listed.jobs.length, 0, "a dry run creates nothing");
    await page.click("button[name=create]");
    await page.waitForURL(/#\/packs\/(?!new$)[^/]+$/, { timeout: PATIENCE_MS });
    const id = decodeURIComponent(page.url().split("/").pop()!);
    const done = await untilJob(id, (job) => job.finishedAt !== null);
    assert.equal(done.status, "done");
    await page.waitForSelector(".toolbar .badge.s-done", { timeout: PATIENCE_MS });
    for (const channel of done.channels) {
      assert.equal(await cell(page, "channels", channel.channel, "state").textContent(), "done");
      assert.equal(
        await cell(page, "channels", channel.channel, "sha256")
          .locator("code")
          .getAttribute("title"),
        channel.output!.sha256,
      );
    }
    assert.deepEqual(
      await page.locator('[data-table="channels"] td[data-col="channel"]').allTextContents(),
      ["huawei", "xiaomi", "渠道&amp;"],
      "a channel id shows as the text it is",
    );
    // A download goes through a signed link: the browser sends no token with it.
    const huawei = done.channels.find((c) => c.channel === "huawei")!;
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: PATIENCE_MS }),
      cell(page, "channels", "huawei", "download").locator("button").click(),
    ]);
    const path = await download.path();
    assert.equal(sha256(await readFile(path)), huawei.output!.sha256);
    await page.close();

    await screenshots("pack-new", "#/packs/new", "form.form select[name=package]");
    await screenshots("packs", "#/packs", '[data-table="jobs"] tr[data-row]');
    await screenshots("pack", `#/packs/${encodeURIComponent(id)}`, ".toolbar .badge.s-done");
  });

  it("pack jobs: retries a failed channel from the job's page", async () => {
    await copyFile(fixture("v1v2v3.apk"), join(packages, "fleeting.apk"));
    const created = await call<Job>(
      "POST",
      "/api/v1/pack-jobs",
      { apk: "fleeting.apk", channels: Array.from({ length: 60 }, (_, i) => `r${i}`) },
      201,
    );
    // Gone before most packs begin: those fail for good (E_NOT_FOUND), no retries.
    await rm(join(packages, "fleeting.apk"));
    const failed = await untilJob(created.id, (job) => job.finishedAt !== null);
    assert.ok(failed.counts.failed! > 0, JSON.stringify(failed.counts));
    const page = await open(`#/packs/${encodeURIComponent(created.id)}`);
    await page.waitForSelector("button[name=retry]", { timeout: PATIENCE_MS });
    await copyFile(fixture("v1v2v3.apk"), join(packages, "fleeting.apk"));
    await page.click("button[name=retry]");
    const done = await untilJob(created.id, (job) => job.status === "done");
    assert.equal(done.counts.done, 60);
    await page.waitForSelector(".toolbar .badge.s-done", { timeout: PATIENCE_MS });
    assert.match((await page.textContent("[data-progress]")) ?? "", /60 done, 0 failed of 60/);
    await page.close();
  });

  it("pack jobs: a mother upload cut by a page reload resumes where it stopped", async () => {
    // 40 MiB in 16 MiB PATCHes: the second PATCH is held until the page reloads.
    const mother = Buffer.concat([await readFile(fixture("v1v2v3.apk")), randomBytes(40 << 20)]);
    const path = join(server.data, "big-mother.apk");
    await writeFile(path, mother);
    const page = await open("#/packs/new");
    let patches = 0;
    await page.route("**/files/*", async (route) => {
      if (route.request().method() !== "PATCH") return route.continue();
      patches += 1;
      if (patches === 1) return route.continue();
      // Never answered: the reload below cuts the upload here.
    });
    await page.click("input[name=source] >> nth=1");
    await page.setInputFiles("input[name=mother-file]", path);
    await waitFor(() => patches === 2, "the second PATCH sent");
    await page.unrouteAll({ behavior: "ignoreErrors" });
    await page.reload();
    await page.click("input[name=source] >> nth=1");
    await page.setInputFiles("input[name=mother-file]", path);
    await page.waitForSelector("[data-uploaded]", { timeout: PATIENCE_MS });
    assert.match((await page.textContent("[data-upload]")) ?? "", /resumed/);
    const id = await page.locator("[data-uploaded]").getAttribute("data-uploaded");
    const { files } = await call<{ files: StoredFile[] }>("GET", "/api/v1/files?q=big-mother");
    const stored = files.find((f) => f.id === id);
    assert.equal(stored?.sha256, sha256(mother), "the resumed upload is the file, byte for byte");
    assert.equal(files.length, 1, "one upload, not a second one from the start");
    await page.close();
  });

  it("files: upload, search by name and digest, signed link, apk info, delete", async () => {
    const page = await open("#/files");
    await page.waitForSelector('[data-table="files"]', { timeout: PATIENCE_MS });
    const body = Buffer.from(`a file named ${HOSTILE}\n`);
    await page.setInputFiles("input[name=upload]", {
      name: `${HOSTILE}.txt`,
      mimeType: "text/plain",
      buffer: body,
    });
    await page.fill("input[name=q]", "onerror");
    const row = page.locator('[data-table="files"] tr[data-row]');
    const names = page.locator('[data-table="files"] tr[data-row] td[data-col="name"]');
    await waitFor(
      async () => (await names.allTextContents()).join("|") === `${HOSTILE}.txt`,
      "the uploaded file listed",
    );
    assert.equal(await row.locator('td[data-col="name"]').textContent(), `${HOSTILE}.txt`);
    assert.equal(await page.locator("img").count(), 0, "a file name is never markup");
    const [file] = (await call<{ files: StoredFile[] }>("GET", "/api/v1/files?q=onerror")).files;
    assert.equal(file!.sha256, sha256(body));

    // By digest prefix: the same file.
    await page.fill("input[name=q]", file!.sha256.slice(0, 12));
    await waitFor(
      async () => (await row.count()) === 1 && (await row.getAttribute("data-row")) === file!.id,
      "found by digest",
    );
    // A signed link works without the token.
    await row.locator("button[name=sign]").click();
    const url = await page.locator("input[name=signed-url]").inputValue({ timeout: PATIENCE_MS });
    const fetched = await fetch(url);
    assert.equal(fetched.status, 200);
    assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), body);

    // The mother uploaded earlier: its apk info as the API answers it.
    await page.fill("input[name=q]", "v1v2v3");
    await waitFor(async () => (await row.count()) >= 1, "the mother listed");
    await row.first().locator("button[name=apk-info]").click();
    await page.waitForSelector("[data-apk] [data-field=package]", { timeout: PATIENCE_MS });
    const apkId = await page.locator("[data-apk]").getAttribute("data-apk");
    const info = await call<{ package: string }>("GET", `/api/v1/files/${apkId}/apk`);
    assert.equal(await page.textContent("[data-apk] [data-field=package]"), info.package);
    await page.screenshot({ path: join(shots, "files-apk-info-laptop-en.png"), fullPage: true });

    // Delete, after the confirmation.
    await page.fill("input[name=q]", "onerror");
    await waitFor(async () => (await row.count()) === 1, "the file listed again");
    page.once("dialog", (dialog) => void dialog.accept());
    await row.locator("button[name=delete]").click();
    await waitFor(async () => (await row.count()) === 0, "the deleted file gone from the list");
    await call("GET", `/files/${file!.id}`, undefined, 404);
    await page.close();

    await screenshots("files", "#/files", '[data-table="files"] tr[data-row]');
  });

  it("task cluster: runs a task on the executor and shows its result", async () => {
    const page = await open("#/tasks");
    await page.waitForSelector('[data-table="executors"] tr[data-row] .badge.s-alive', {
      timeout: PATIENCE_MS,
    });
    await page.selectOption("select[name=tool]", "sh");
    await page.fill("textarea[name=args]", "-c\nprintf 'ok %s' \"$0\" > out.txt; echo ran");
    await page.fill("textarea[name=outputs]", "out.txt");
    await page.click("button[name=run]");
    await page.waitForURL(/#\/tasks\/[^/]+$/, { timeout: PATIENCE_MS });
    const id = decodeURIComponent(page.url().split("/").pop()!);
    await page.waitForSelector(".toolbar .badge.s-done", { timeout: PATIENCE_MS });
    const task = await call<{
      result: { exitCode: number; stdout: string; outputs: { path: string; sha256: string }[] };
    }>("GET", `/api/v1/tasks/${id}`);
    assert.equal(await page.textContent("[data-field=exitCode]"), String(task.result.exitCode));
    assert.equal(await page.textContent('[data-log="stdout"]'), task.result.stdout);
    assert.match(task.result.stdout, /ran/);
    const output = task.result.outputs[0]!;
    assert.equal(
      await cell(page, "outputs", output.path, "sha256").locator("code").getAttribute("title"),
      output.sha256,
    );
    await page.close();

    await screenshots("tasks", "#/tasks", '[data-table="tasks"] tr[data-row]');
    await screenshots("task", `#/tasks/${encodeURIComponent(id)}`, ".toolbar .badge.s-done");
  });

  it("realtime: lists a connected user and pushes a test message to its socket", async () => {
    const token = await mintToken(new TextEncoder().encode(JWT_SECRET), {
      uid: "玩家-1",
      ttlSeconds: 600,
    });
    const ws = await openSocket(server.url, { token });
    try {
      await ws.next(([h]) => h.msgId === 1, "the welcome");
      const page = await open("#/realtime");
      // The gateway's status record is rewritten at each presence refresh.
      await waitFor(async () => {
        await page.reload();
        await page.waitForSelector('[data-table="connections"]', { timeout: PATIENCE_MS });
        return (
          await page.locator('[data-table="connections"] td[data-col="uid"]').allTextContents()
        ).includes("玩家-1");
      }, "the connection listed");
      await page.fill("input[name=uid]", "玩家-1");
      await page.fill("textarea[name=body]", JSON.stringify({ note: HOSTILE }));
      await page.click("button[name=push]");
      await page.waitForSelector("[data-pushed]", { timeout: PATIENCE_MS });
      const [, pushed] = await ws.next(([h]) => h.msgId === 1500, "the pushed message");
      assert.deepEqual(pushed, { note: HOSTILE });
      assert.match((await page.textContent("[data-pushed]")) ?? "", /1 gateway/);
      await page.close();
      await screenshots("realtime", "#/realtime", '[data-table="gateways"] tr[data-row]');
    } finally {
      ws.close();
    }
  });

  it("chat: volume and backlog as the API counts them, a group found by name, its history as text", async () => {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const ann = connect(server.url, {
      token: await mintToken(secret, { uid: "ann", ttlSeconds: 600 }),
    });
    try {
      const { conv } = await ann.request<{ conv: string }>(CHAT_REQUEST.createGroup, {
        name: `guild ${HOSTILE}`,
        members: ["bob"],
      });
      for (const [k, text] of [`hello ${HOSTILE}`, "second", "第三条"].entries()) {
        await ann.request(CHAT_REQUEST.send, { conv, clientMsgId: `m${k}`, type: "text", text });
      }
      const stats = await call<{ messages: number; backlog: { unread: number } }>(
        "GET",
        "/api/v1/chat/stats",
      );
      const page = await open("#/chat");
      await page.waitForSelector("[data-total=messages]", { timeout: PATIENCE_MS });
      assert.equal(await page.textContent("[data-total=messages]"), String(stats.messages));
      assert.match(
        (await page.textContent("[data-total=backlog]")) ?? "",
        new RegExp(`^${stats.backlog.unread} unread`),
      );
      await page.fill("input[name=q]", "guild");
      const link = page.locator('[data-table="conversations"] tr[data-row] td[data-col="conv"] a');
      await waitFor(async () => (await link.count()) === 1, "the group found by name");
      assert.equal(await link.textContent(), `guild ${HOSTILE}`);
      await link.click();
      await page.waitForSelector('[data-table="messages"] tr[data-row]', { timeout: PATIENCE_MS });
      const history = await call<{ messages: { seq: number; text: string }[] }>(
        "GET",
        `/api/v1/chat/conversations/${encodeURIComponent(conv)}/messages`,
      );
      assert.deepEqual(
        await page.locator('[data-table="messages"] td[data-col="text"]').allTextContents(),
        history.messages.map((m) => m.text),
      );
      assert.equal(await page.locator("img").count(), 0, "chat text is never markup");
      await page.close();
      await screenshots("chat", "#/chat", '[data-table="conversations"] tr[data-row]');
      await screenshots(
        "chat-history",
        `#/chat/${encodeURIComponent(conv)}`,
        '[data-table="messages"] tr[data-row]',
      );
    } finally {
      await ann.close();
    }
  });

  it("no page logged a console error, and the token appeared in no URL and no log line", async () => {
    for (const { problems, requested } of watched) {
      assert.deepEqual(problems, []);
      assert.ok(requested.every((url) => !url.includes(TOKEN)));
    }
    const log = await readFile(join(server.data, "gamedock.log"), "utf8");
    assert.match(log, /\/api\/v1\/pack-jobs/, "the server logged the page's requests");
    assert.ok(!log.includes(TOKEN), "the token is in no log line");
  });
});
