/**
 * Directories a user configures that cannot exist (under /proc or /sys) stop
 * `gamedock serve` at once with E_PATH_INVALID naming the directory. Node's
 * recursive mkdir spins forever on /proc (it retries every ENOENT); every
 * configured root is created level by level instead (core/dirs.ts). Each CLI
 * run dies with its test if it hangs: the test's own timeout is the guard.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { errorCode, removeDir, runCli, tempDir } from "../helpers/cli.js";

describe("serve with directories that cannot be created", () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("gamedock-unmakeable-");
  });
  after(async () => {
    await removeDir(dir);
  });

  const cases: { name: string; args: (dir: string) => Promise<string[]>; names: RegExp }[] = [
    {
      name: "--data under /proc",
      args: () => Promise.resolve(["--data", "/proc/nope"]),
      names: /\/proc\/nope/,
    },
    {
      name: "--data under /sys",
      args: () => Promise.resolve(["--data", "/sys/nope"]),
      names: /\/sys\/nope/,
    },
    {
      name: "--log-file under /proc",
      args: (d) =>
        Promise.resolve(["--data", join(d, "a"), "--log-file", "/proc/nope/gamedock.log"]),
      names: /log file.*\/proc\/nope/,
    },
    {
      name: "packer.workDir under /proc",
      args: async (d) => {
        const config = join(d, "work.json");
        await writeFile(
          config,
          JSON.stringify({ data: join(d, "b"), packer: { workDir: "/proc/nope/work" } }),
        );
        return ["--config", config];
      },
      names: /work directory.*\/proc\/nope\/work/,
    },
    {
      name: "an fs target root under /proc",
      args: async (d) => {
        const config = join(d, "target.json");
        await writeFile(
          config,
          JSON.stringify({
            data: join(d, "c"),
            targets: { fs: { driver: "fs", root: "/proc/nope/blobs" } },
          }),
        );
        return ["--config", config];
      },
      names: /fs target root \/proc\/nope\/blobs/,
    },
  ];

  for (const c of cases) {
    it(
      `${c.name}: E_PATH_INVALID at once, naming the directory`,
      { timeout: 60_000 },
      async (t) => {
        const result = await runCli(["serve", "--port", "0", ...(await c.args(dir))], {
          signal: t.signal,
        });
        assert.equal(result.code, 3, result.stderr);
        assert.equal(errorCode(result), "E_PATH_INVALID", result.stderr);
        assert.match(result.stderr, c.names);
      },
    );
  }
});
