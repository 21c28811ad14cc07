/**
 * The tool runner as the executor meets it: a real tool in a fresh sandbox,
 * inputs hard-linked from the cache, argv and env exactly as given, exit codes
 * and logs reported, and nothing left behind — or touched in the cache — by
 * cleanup.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, readdir, realpath, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { logsDirectoryOf, runTool } from "../../src/cluster/runner/index.js";
import { tempDir } from "../helpers/cli.js";
import { fixtureRequest, rejectionCode, runToEnd } from "./runner-kit.js";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("tool runner: sandbox, process, logs", { timeout: 60_000 }, () => {
  let root: string;
  let cached: string;
  before(async () => {
    root = await tempDir("gamedock-runner-");
    // A file as the staging cache keeps it: verified, read-only.
    await mkdir(join(root, "cache"));
    cached = join(root, "cache", "data.txt");
    await writeFile(cached, "alpha\nbeta\n");
    await chmod(cached, 0o444);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("runs a tool on a hard-linked input, collects its outputs, and cleans up without touching the cache", async () => {
    const request = fixtureRequest(join(root, "a"), "transform", ["in/data.txt"], {
      inputs: [{ path: "in/data.txt", source: cached }],
      outputs: ["out/*.txt"],
    });
    const { run, result } = await runToEnd(request);
    assert.equal(result.error, undefined);
    assert.equal(result.exitCode, 0);
    assert.equal(result.ended, "exited");
    assert.equal(result.stdoutTail, "transformed in/data.txt\n");
    assert.deepEqual(
      result.outputs.map(({ path, size, sha256: digest }) => ({ path, size, sha256: digest })),
      [
        { path: "out/lines.txt", size: 2, sha256: sha256("2\n") },
        { path: "out/upper.txt", size: 11, sha256: sha256("ALPHA\nBETA\n") },
      ],
    );
    assert.equal(await readFile(result.outputs[1]!.file, "utf8"), "ALPHA\nBETA\n");

    // The input is the cache's own inode, not a copy.
    const linked = await stat(join(request.sandbox, "in", "data.txt"));
    const source = await stat(cached);
    assert.equal(linked.ino, source.ino);
    assert.equal(source.nlink, 2);

    await run.cleanup();
    await run.cleanup(); // idempotent
    assert.equal(await exists(request.sandbox), false, "sandbox removed");
    assert.equal(await exists(logsDirectoryOf(request.sandbox)), false, "logs removed");
    const after = await stat(cached);
    assert.equal(await readFile(cached, "utf8"), "alpha\nbeta\n");
    assert.equal(after.mode & 0o777, 0o444, "the cache file's mode is unchanged");
    assert.equal(after.nlink, 1);
  });

  it("passes argv verbatim: spaces, quotes and shell metacharacters reach the tool unchanged", async () => {
    const tricky = [
      "two words",
      "$(touch pwned)",
      "; rm -rf /",
      "`id`",
      '"quoted"',
      "*",
      "中文 ✓",
      "",
    ];
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "b"), "unused", [], {
        tool: "/usr/bin/printf",
        args: ["%s\\0", ...tricky],
      }),
    );
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.stdoutTail.split("\0").slice(0, -1), tricky);
    assert.equal(await exists(join(root, "b", "sandbox", "pwned")), false);
    await run.cleanup();
  });

  it("gives the tool exactly the environment of the request, nothing inherited", async () => {
    const env = { GREETING: "hello world", EMPTY: "", LITERAL: "$HOME" };
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "c"), "unused", [], { tool: "/usr/bin/env", args: [], env }),
    );
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.stdoutTail.trimEnd().split("\n").sort(), [
      "EMPTY=",
      "GREETING=hello world",
      "LITERAL=$HOME",
    ]);
    await run.cleanup();
  });

  it("reports a non-zero exit with its code, both tails and whole logs, and collects no outputs", async () => {
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "d"), "fail", [], { outputs: ["out/upper.txt"] }),
    );
    assert.equal(result.exitCode, 3);
    assert.equal(result.ended, "exited");
    assert.equal(result.error?.code, "E_EXIT_NONZERO");
    assert.match(result.error.message, /code 3/);
    assert.deepEqual(result.outputs, []);
    assert.equal(result.stdoutTail, "some progress\n");
    assert.equal(result.stderrTail, "cannot open the level file\n");
    assert.ok(result.logs.stderr !== null, "a stream with output has a log file");
    assert.equal(await readFile(result.logs.stderr, "utf8"), "cannot open the level file\n");
    assert.equal(result.logs.truncated, false);
    await run.cleanup();
  });

  it("cuts a log at maxLogBytes, says so, and still returns the true end of the output", async () => {
    const expected = Array.from({ length: 20_000 }, (_, i) => `${i + 1}\n`).join("");
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "e"), "shout", ["20000"], {
        limits: { ...fixtureRequest(root, "").limits, maxLogBytes: 1000, tailBytes: 30 },
      }),
    );
    assert.equal(result.exitCode, 0);
    assert.equal(result.error, undefined, "a cut log is not a failure");
    assert.equal(result.logs.truncated, true);
    assert.ok(result.logs.stdout !== null, "a stream with output has a log file");
    assert.equal(await readFile(result.logs.stdout, "utf8"), expected.slice(0, 1000));
    assert.equal(result.stdoutTail, expected.slice(-30));
    assert.equal(result.logs.stderr, null, "a silent stream makes no log file");
    assert.deepEqual(
      await readdir(logsDirectoryOf(join(root, "e", "sandbox"))).then((names) => names.sort()),
      ["run.json", "stdout.log"],
    );
    await run.cleanup();
  });

  it("never starts a tail inside a UTF-8 character", async () => {
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "f"), "unused", [], {
        tool: "/usr/bin/printf",
        args: ["中中中中中"],
        limits: { ...fixtureRequest(root, "").limits, tailBytes: 10 },
      }),
    );
    assert.equal(result.stdoutTail, "中中中");
    await run.cleanup();
  });

  it("refuses an input path that could leave the sandbox, before creating anything", async () => {
    for (const path of ["../escape.txt", "a/../../escape.txt", "/tmp/escape.txt", "a/../b"]) {
      const request = fixtureRequest(join(root, "g"), "transform", [], {
        inputs: [{ path, source: cached }],
      });
      const run = runTool(request);
      assert.equal(await rejectionCode(run), "E_PATH_INVALID", path);
      assert.equal(await exists(join(root, "g")), false, `nothing created for ${path}`);
      await run.cleanup();
    }
  });

  it("refuses a sandbox that already exists and leaves it as it was", async () => {
    const request = fixtureRequest(join(root, "h"), "transform");
    await mkdir(request.sandbox, { recursive: true });
    await writeFile(join(request.sandbox, "earlier-run.txt"), "keep");
    const run = runTool(request);
    assert.equal(await rejectionCode(run), "E_PATH_INVALID");
    await run.cleanup();
    assert.equal(await readFile(join(request.sandbox, "earlier-run.txt"), "utf8"), "keep");
  });

  it("says clearly when the tool binary is missing or not executable, and leaves nothing", async () => {
    const notExecutable = join(root, "not-executable.sh");
    await writeFile(notExecutable, "#!/bin/sh\necho hi\n", { mode: 0o644 });
    for (const tool of [join(root, "no-such-tool"), notExecutable]) {
      const request = fixtureRequest(join(root, "i"), "unused", [], {
        tool,
        inputs: [{ path: "in/data.txt", source: cached }],
      });
      const run = runTool(request);
      try {
        await run.result;
        assert.fail("the run did not reject");
      } catch (err) {
        assert.ok(err instanceof Error);
        assert.equal((err as Error & { code: string }).code, "E_PATH_INVALID");
        assert.match(err.message, new RegExp(tool.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      }
      assert.equal(await exists(request.sandbox), false);
      assert.equal(await exists(logsDirectoryOf(request.sandbox)), false);
      assert.equal((await stat(cached)).nlink, 1, "the input link is gone too");
    }
  });

  it("copies an input that lives on another file system", async (t) => {
    const otherFs = "/dev/shm";
    const onOther = await stat(otherFs).catch(() => null);
    if (onOther === null || onOther.dev === (await stat(root)).dev) {
      t.skip("no second file system (/dev/shm) to stage from");
      return;
    }
    const source = join(otherFs, `gamedock-runner-${process.pid}.txt`);
    await writeFile(source, "from afar\n", { mode: 0o444 });
    try {
      const request = fixtureRequest(join(root, "j"), "unused", [], {
        tool: "/usr/bin/cat",
        args: ["far/input.txt"],
        inputs: [{ path: "far/input.txt", source }],
      });
      const { run, result } = await runToEnd(request);
      assert.equal(result.stdoutTail, "from afar\n");
      assert.equal((await stat(join(request.sandbox, "far/input.txt"))).mode & 0o777, 0o444);
      await run.cleanup();
      assert.equal(await readFile(source, "utf8"), "from afar\n");
    } finally {
      await rm(source, { force: true });
    }
  });

  it("runs the tool with the sandbox as its working directory", async () => {
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, "k"), "unused", [], { tool: "/usr/bin/pwd", args: [] }),
    );
    assert.equal(result.stdoutTail, `${await realpath(join(root, "k", "sandbox"))}\n`);
    await run.cleanup();
  });
});
