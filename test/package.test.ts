/**
 * The published tarball installs and runs on its own: `npm pack`, then
 * `npm install -g` into a throwaway prefix (better-sqlite3 compiles from source
 * there, as on a user's machine), then the installed `gamedock`: the CLI, and
 * `serve` packing its bundled sample.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
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

      // The installed server starts (better-sqlite3 built), seeds the sample and packs it.
      const data = join(dir, "data");
      const serve = spawn(bin, ["serve", "--port", "0", "--data", data, "--log-level", "warn"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = "";
          serve.stdout.setEncoding("utf8").on("data", (d: string) => {
            out += d;
            const match = /listening on (http:\/\/\S+)/.exec(out);
            if (match?.[1]) resolve(match[1]);
          });
          serve.on("exit", (code) => {
            reject(new Error(`installed gamedock serve exited with ${String(code)}`));
          });
        });
        // The binary starts node with the flags of its shebang (src/cli/main.ts says why).
        const cmdline = await readFile(`/proc/${serve.pid}/cmdline`, "utf8");
        assert.ok(cmdline.split("\0").includes("--max-semi-space-size=1"), cmdline);
        const created = await fetch(`${url}/api/v1/pack-jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ apk: "demo.apk", channels: ["huawei"] }),
        });
        assert.equal(created.status, 201, await created.clone().text());
        const { id } = (await created.json()) as { id: string };
        let status = "";
        for (let i = 0; i < 200 && status !== "done"; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const job = await fetch(`${url}/api/v1/pack-jobs/${id}`);
          status = ((await job.json()) as { status: string }).status;
        }
        assert.equal(status, "done");
      } finally {
        serve.kill("SIGTERM");
      }
    } finally {
      await removeDir(dir);
    }
  });
});
