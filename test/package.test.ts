/**
 * The published tarball installs and runs on its own: `npm pack`, then
 * `npm install -g` into a throwaway prefix, then the installed `gamedock`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT, fixture, removeDir, tempDir } from "./helpers/cli.js";

const run = promisify(execFile);

describe("npm package", () => {
  it("npm pack → npm install -g → gamedock works, shipping only what runs", async () => {
    const dir = await tempDir("gamedock-pack-");
    try {
      await run("npm", ["pack", "--pack-destination", dir], { cwd: ROOT });
      const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
      assert.ok(tarball, "npm pack wrote a tarball");
      const { stdout: listing } = await run("tar", ["-tzf", join(dir, tarball)]);
      const files = listing.trim().split("\n");
      assert.ok(files.includes("package/dist/cli/main.js"));
      assert.deepEqual(
        files.filter((f) => /^package\/(src|test|bench|scripts)\//.test(f)),
        [],
      );

      const prefix = join(dir, "prefix");
      await run("npm", [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--no-audit",
        "--no-fund",
        join(dir, tarball),
      ]);
      const bin = join(prefix, "bin", "gamedock");
      const help = await run(bin, ["--help"]);
      assert.match(help.stdout, /pack/);
      const info = await run(bin, ["apk", "info", fixture("v1v2v3.apk"), "--json"]);
      assert.equal((JSON.parse(info.stdout) as { package: string }).package, "com.gamedock.sample");
    } finally {
      await removeDir(dir);
    }
  });
});
