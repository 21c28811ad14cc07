/**
 * GET /api/v1/packages: the mothers under the packages root, for a client to
 * offer one to choose — relative paths only, symlinks out of the root
 * skipped, bounded depth, paged by cursor, filtered by q, protected like
 * every /api route.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, isRoot, tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import type { ErrorJson } from "./jobs.js";

interface PackageJson {
  path: string;
  size: number;
  modifiedAt: string;
}
interface PageJson {
  packages: PackageJson[];
  nextCursor: string | null;
  truncated: boolean;
}

/** What the root holds that must be listed, by path, with its size in bytes. */
const LISTED: Record<string, number> = {
  "demo.apk": 8530, // the sample a first `serve` puts there
  "alias.apk": 7, // a symlink to games/Big.APK: listed under its own name
  "games/Big.APK": 7,
  "games/a/b/deep.apk": 3,
  "games/folder.apk/inner.apk": 4,
  "中文/母包.apk": 5,
  "中文/华为-正式.apk": 6,
  "d1/d2/d3/d4/d5/d6/d7/d8/at8.apk": 8,
};

describe("GET /api/v1/packages", () => {
  let server: TestServer;
  let packages = "";
  let outside = "";

  const put = async (path: string, size: number) => {
    const file = join(packages, path);
    await mkdir(join(file, ".."), { recursive: true });
    await writeFile(file, Buffer.alloc(size, 1));
  };

  before(async () => {
    server = await startTestServer({}, { stages: [] });
    packages = join(server.data, "packages");
    outside = await tempDir("gamedock-outside-");
    await writeFile(join(outside, "secret.apk"), "outside");
    for (const [path, size] of Object.entries(LISTED)) {
      if (path !== "demo.apk" && path !== "alias.apk") await put(path, size);
    }
    await put("games/readme.txt", 1); // not an APK
    await put("games/notes.apk.txt", 1);
    await put(".files/0123abcd.apk", 1); // the cache of mothers uploaded by file id
    await put("d1/d2/d3/d4/d5/d6/d7/d8/d9/at9.apk", 9); // deeper than the limit
    await symlink(join(packages, "games", "Big.APK"), join(packages, "alias.apk"));
    await symlink(join(outside, "secret.apk"), join(packages, "escape.apk"));
    await symlink("../../../../etc/passwd", join(packages, "games", "passwd.apk"));
    await symlink(join(packages, "nowhere.apk"), join(packages, "dangling.apk"));
    await symlink(outside, join(packages, "outdir")); // a directory outside: not followed
    await symlink(join(packages, "games"), join(packages, "gamelink")); // not followed either
  });
  after(async () => {
    await server.close();
    await rm(outside, { recursive: true, force: true });
  });

  const list = async (query = ""): Promise<PageJson> => {
    const answer = await server.api("GET", `/api/v1/packages${query}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json as PageJson;
  };

  it("lists every APK under the root by relative path, sorted, and nothing else", async () => {
    const page = await list();
    const expected = Object.keys(LISTED).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(
      page.packages.map((p) => p.path),
      expected,
    );
    for (const entry of page.packages) {
      assert.equal(entry.size, LISTED[entry.path], entry.path);
      assert.ok(!Number.isNaN(Date.parse(entry.modifiedAt)), entry.modifiedAt);
    }
    assert.equal(page.nextCursor, null);
    assert.equal(page.truncated, false);
    const text = JSON.stringify(page);
    assert.ok(!text.includes(server.data) && !text.includes(outside), "no server path");
  });

  it("pages with a cursor: the pages together are the whole list", async () => {
    const whole = (await list()).packages;
    const seen: PackageJson[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await list(query);
      assert.ok(page.packages.length <= 3);
      seen.push(...page.packages);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, Math.ceil(whole.length / 3));
    assert.deepEqual(seen, whole);
  });

  it("filters by q, a case-insensitive substring of the path (Chinese too)", async () => {
    const paths = async (q: string) =>
      (await list(`?q=${encodeURIComponent(q)}`)).packages.map((p) => p.path);
    assert.deepEqual(await paths("中文"), ["中文/华为-正式.apk", "中文/母包.apk"]);
    assert.deepEqual(await paths("华为"), ["中文/华为-正式.apk"]);
    assert.deepEqual(await paths("BIG"), ["games/Big.APK"]);
    assert.deepEqual(await paths("GAMES/A/"), ["games/a/b/deep.apk"]);
    assert.deepEqual(await paths("nothing-like-this"), []);
    const page = await list(`?q=games&limit=1`);
    assert.equal(page.packages.length, 1);
    const next = await list(`?q=games&limit=5&cursor=${encodeURIComponent(page.nextCursor ?? "")}`);
    assert.deepEqual(
      [...page.packages, ...next.packages].map((p) => p.path),
      ["games/Big.APK", "games/a/b/deep.apk", "games/folder.apk/inner.apk"],
    );
    assert.equal(next.nextCursor, null);
  });

  it("refuses bad parameters with 400 E_INVALID_REQUEST naming the parameter", async () => {
    const bad: [string, string][] = [
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=ten", "limit"],
      ["limit=-1", "limit"],
      ["cursor=zzz", "cursor"],
      ["cursor=p", "cursor"],
      ["cursor=c12", "cursor"],
      [`q=${"x".repeat(257)}`, "q"],
      ["q=a&q=b", "q"],
      ["limit=1&limit=2", "limit"],
    ];
    for (const [query, field] of bad) {
      const answer = await server.api("GET", `/api/v1/packages?${query}`);
      assert.equal(answer.status, 400, query);
      const { error } = answer.json as ErrorJson;
      assert.equal(error.code, "E_INVALID_REQUEST", query);
      assert.equal(error.details?.field, field, query);
    }
    assert.equal((await list("?limit=500")).packages.length, Object.keys(LISTED).length);
  });

  it("skips a directory it cannot read instead of failing", async () => {
    await put("locked/inside.apk", 2);
    await chmod(join(packages, "locked"), 0o000);
    try {
      // Over HTTP the answer is a list, never a 500 (as root the directory is still readable).
      const page = await list();
      assert.ok(page.packages.some((p) => p.path === "games/Big.APK"));
      if (isRoot()) assert.ok(page.packages.some((p) => p.path === "locked/inside.apk"));
      // Without root's power over permissions (setpriv drops it), the directory is skipped.
      const script = [
        `import { listPackages } from ${JSON.stringify(join(ROOT, "src/packer/package-list.ts"))};`,
        `const page = await listPackages(${JSON.stringify(packages)}, { q: "", after: null, limit: 500 });`,
        "process.stdout.write(JSON.stringify(page));",
      ].join("\n");
      const node = [process.execPath, "--import", "tsx", "--input-type=module", "-e", script];
      const command = isRoot()
        ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", ...node]
        : node;
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(command[0]!, command.slice(1), { cwd: ROOT });
        let out = "";
        let err = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
        child.on("error", reject);
        child.on("close", (code) => {
          if (code === 0) resolve(out);
          else reject(new Error(`listPackages exited ${code}: ${err}`));
        });
      });
      const unprivileged = JSON.parse(output) as PageJson;
      assert.deepEqual(
        unprivileged.packages.map((p) => p.path),
        page.packages.map((p) => p.path).filter((p) => !p.startsWith("locked/")),
      );
    } finally {
      await chmod(join(packages, "locked"), 0o755);
      await rm(join(packages, "locked"), { recursive: true, force: true });
    }
  });

  it("answers an empty list when the packages root does not exist", async () => {
    const moved = `${packages}-moved`;
    await rm(moved, { recursive: true, force: true });
    await rename(packages, moved);
    try {
      assert.deepEqual(await list(), { packages: [], nextCursor: null, truncated: false });
    } finally {
      await rename(moved, packages);
    }
  });
});

describe("GET /api/v1/packages with API tokens", () => {
  const TOKEN = "packages-token-0123456789";
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ server: { tokens: [TOKEN] } }, { stages: [] });
  });
  after(async () => {
    await server.close();
  });

  it("needs the token, like every /api route", async () => {
    const without = await fetch(`${server.url}/api/v1/packages`);
    assert.equal(without.status, 401);
    assert.equal(((await without.json()) as ErrorJson).error.code, "E_UNAUTHORIZED");
    const withToken = await fetch(`${server.url}/api/v1/packages`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(withToken.status, 200);
    const page = (await withToken.json()) as PageJson;
    assert.deepEqual(
      page.packages.map((p) => p.path),
      ["demo.apk"],
    );
  });
});
