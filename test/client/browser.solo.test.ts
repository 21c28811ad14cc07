/**
 * The browser build of gamedock/client: bundled by the esbuild command of
 * `npm run build` (taken from package.json, so the test checks what ships),
 * small (gzipped under 15 kB) and free of Node modules; then loaded in
 * headless Debian Chromium from a page on another loopback origin, where it
 * does a round trip, gets a reply code and two pushes from a real `serve`.
 * Solo: a browser is heavy, and the page's timings should not compete.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { chromium, type Browser } from "playwright-core";
import { mintToken } from "../../src/realtime/index.js";
import { ROOT, removeDir, tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { skipUnlessTool, toolPath } from "../helpers/tools.js";
import { PATIENCE_MS } from "../helpers/wait.js";

const run = promisify(execFile);
const skip = skipUnlessTool("chromium");
const SECRET = "browser-test-secret-0123456789abcdef01";
const MAX_GZIPPED = 15 * 1024;
/** Debian's /usr/bin/chromium is a shell wrapper; the binary behind it is started directly when present. */
const CHROMIUM_BINARY = "/usr/lib/chromium/chromium";

/** The esbuild step of package.json's build script, writing to `outfile` instead of dist/. */
async function buildBundle(outfile: string): Promise<void> {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
    scripts: { build: string };
  };
  const step = pkg.scripts.build
    .split("&&")
    .map((s) => s.trim())
    .find((s) => s.startsWith("esbuild "));
  assert.ok(step, "package.json's build script has an esbuild step");
  const args = step
    .split(/\s+/)
    .slice(1)
    .map((arg) => (arg.startsWith("--outfile=") ? `--outfile=${outfile}` : arg));
  await run(join(ROOT, "node_modules/.bin/esbuild"), args, { cwd: ROOT });
}

// The page: plain JavaScript, as an application would write it.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>gamedock client</title>
<link rel="icon" href="data:,">
<script type="module">
import { connect } from "./gamedock-client.js";
const q = new URLSearchParams(location.search);
const client = connect(q.get("gateway"), { token: q.get("token") });
const pushed = (msgId) => new Promise((resolve) => {
  const stop = client.on(msgId, (body, head) => { stop(); resolve({ body, head }); });
});
const gift = pushed(1050);
const news = pushed(1500);
window.first = (async () => {
  const echo = await client.request(1001, { hello: "browser" });
  const { offset } = await client.request(1004, { gift: 7 });
  let code = null;
  try { await client.request(1999, {}); } catch (err) { code = err.code; }
  return { uid: client.welcome.uid, echo, offset, gift: await gift, code };
})();
window.second = (async () => {
  const got = await news;
  await client.close();
  return { news: got, state: client.state };
})();
</script>
`;

/** What the page's two steps resolve with. */
interface FirstSteps {
  uid: string;
  echo: unknown;
  offset: number;
  gift: { body: unknown; head: { msgId: number; offset: number } };
  code: string;
}
interface SecondSteps {
  news: { body: unknown; head: { stream: string } };
  state: string;
}

describe("gamedock/client in a browser", { skip, timeout: 120_000 }, () => {
  let dir = "";
  let bundle: Buffer;
  let server: TestServer;
  let site: Server;
  let browser: Browser | null = null;

  before(async () => {
    dir = await tempDir("gamedock-browser-");
    await buildBundle(join(dir, "gamedock-client.js"));
    bundle = await readFile(join(dir, "gamedock-client.js"));
    server = await startTestServer({ realtime: { jwtSecret: SECRET } });
    site = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://site").pathname;
      if (path === "/gamedock-client.js") {
        response.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
      } else if (path === "/") {
        response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site.close(resolve));
    await server.close();
    await removeDir(dir);
  });

  it("bundles small, with nothing from Node", () => {
    const gzipped = gzipSync(bundle).length;
    assert.ok(gzipped < MAX_GZIPPED, `the bundle is ${gzipped} bytes gzipped (max ${MAX_GZIPPED})`);
    const text = bundle.toString("utf8");
    assert.doesNotMatch(text, /["'`]node:/, "no node: module");
    assert.doesNotMatch(text, /["'`]ws["'`]/, "no ws package");
    assert.doesNotMatch(text, /\brequire\(/, "no CommonJS require");
    assert.match(text, /export\s*\{/, "an ES module");
  });

  it("does a round trip and receives pushes in Chromium", async () => {
    const executablePath = existsSync(CHROMIUM_BINARY) ? CHROMIUM_BINARY : toolPath("chromium")!;
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(err.message));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    const token = await mintToken(new TextEncoder().encode(SECRET), {
      uid: "browser-user",
      ttlSeconds: 600,
    });
    const { port } = site.address() as { port: number };
    const query = new URLSearchParams({ gateway: server.url, token });
    await page.goto(`http://127.0.0.1:${port}/?${query.toString()}`);
    await page
      .waitForFunction("window.first !== undefined", undefined, { timeout: PATIENCE_MS })
      .catch((err: unknown) => {
        throw new Error(`the page did not start: ${problems.join("; ") || String(err)}`);
      });
    const first = await page.evaluate<FirstSteps>("window.first");
    assert.equal(first.uid, "browser-user");
    assert.deepEqual(first.echo, { hello: "browser" });
    assert.deepEqual(first.gift.body, { gift: 7 });
    assert.equal(first.gift.head.offset, first.offset);
    assert.equal(first.code, "E_UNKNOWN_MSG");
    const pushed = await server.api("POST", "/api/v1/push", {
      to: { uid: "browser-user" },
      msgId: 1500,
      body: { news: "from the API" },
    });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.json));
    const second = await page.evaluate<SecondSteps>("window.second");
    assert.deepEqual(second.news.body, { news: "from the API" });
    assert.equal(second.news.head.stream, "user");
    assert.equal(second.state, "closed");
    assert.deepEqual(problems, [], "no errors in the page");
  });
});
