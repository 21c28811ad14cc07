/**
 * The published tarball installs and runs on its own: `npm pack`, then
 * `npm install -g` into a throwaway prefix (better-sqlite3 compiles from source
 * there, as on a user's machine), then the installed `gamedock`: the CLI, and
 * `serve` packing its bundled sample.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT, fixture, removeDir, tempDir } from "./helpers/cli.js";

const run = promisify(execFile);

/** The arguments of a process the binary started, once it has become node (exec). */
async function nodeArgs(pid: number | undefined): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const args = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    if (args.some((a) => a.endsWith("main.js"))) return args;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not become node`);
}

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
      assert.ok(files.includes("package/bin/gamedock"));
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
        // bin/gamedock starts node with a young generation sized for the command (it says why).
        assert.ok((await nodeArgs(serve.pid)).includes("--max-semi-space-size=1"));
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

      // A realtime role keeps V8's default (it allocates per message); its bus is unreachable
      // here, so it lives only until its connection attempt fails: long enough to look.
      const config = join(dir, "logic.json");
      await writeFile(
        config,
        JSON.stringify({
          realtime: { bus: { driver: "redis", url: "redis://127.0.0.1:1", prefix: "pkg" } },
        }),
      );
      const logic = spawn(bin, ["logic", "--config", config], { stdio: "ignore" });
      try {
        assert.ok((await nodeArgs(logic.pid)).includes("--max-semi-space-size=16"));
      } finally {
        logic.kill("SIGKILL");
      }
    } finally {
      await removeDir(dir);
    }
  });
});
