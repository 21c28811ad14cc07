/**
 * Collecting outputs after a successful run: globs and plain paths, inputs
 * left out unless named, symlinks that leave the sandbox refused, missing
 * outputs named, and the count and size limits enforced.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RunResult } from "../../src/cluster/runner/index.js";
import { runTool } from "../../src/cluster/runner/index.js";
import { tempDir } from "../helpers/cli.js";
import { LIMITS, fixtureRequest, rejectionCode, runToEnd } from "./runner-kit.js";

const zeros = (n: number): string => createHash("sha256").update(Buffer.alloc(n)).digest("hex");
const paths = (result: RunResult): string[] => result.outputs.map((output) => output.path).sort();

describe("tool runner: outputs", { timeout: 60_000 }, () => {
  let root: string;
  let cached: string;
  let runs = 0;
  before(async () => {
    root = await tempDir("gamedock-runner-out-");
    await mkdir(join(root, "cache"));
    cached = join(root, "cache", "data.txt");
    await writeFile(cached, "alpha\nbeta\n");
    await chmod(cached, 0o444);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The fixture's `transform` mode (see fixtures/tool.sh) with these output patterns. */
  async function transform(outputs: string[], limits = LIMITS): Promise<RunResult> {
    const request = fixtureRequest(join(root, `run-${++runs}`), "transform", ["in/data.txt"], {
      inputs: [{ path: "in/data.txt", source: cached }],
      outputs,
      limits,
    });
    const { run, result } = await runToEnd(request);
    await run.cleanup();
    return result;
  }

  it("matches globs: * inside a directory, ** at any depth (zero directories too), ?", async () => {
    const result = await transform(["out/*.txt", "**/*.bin"]);
    assert.equal(result.error, undefined);
    assert.deepEqual(paths(result), [
      "deep/a/b/inner.bin",
      "out/lines.txt",
      "out/upper.txt",
      "top.bin",
    ]);
    const inner = result.outputs.find((output) => output.path === "deep/a/b/inner.bin");
    assert.equal(inner?.size, 5);
    assert.equal(inner.sha256, zeros(5));

    const single = await transform(["out/?????.txt", "./top.bin"]);
    assert.deepEqual(paths(single), ["out/lines.txt", "out/upper.txt", "top.bin"]);
  });

  it("collects a file once when several patterns match it", async () => {
    const result = await transform(["out/upper.txt", "out/*", "**"]);
    assert.equal(result.error, undefined);
    const all = result.outputs.map((output) => output.path);
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.includes("locked/inside"));
  });

  it("leaves inputs out of globs, but collects one a pattern names exactly", async () => {
    const globbed = await transform(["**/*.txt"]);
    assert.deepEqual(paths(globbed), ["out/lines.txt", "out/upper.txt"]);

    const named = await transform(["in/data.txt"]);
    assert.deepEqual(paths(named), ["in/data.txt"]);
    assert.equal(
      named.outputs[0]?.sha256,
      createHash("sha256").update("alpha\nbeta\n").digest("hex"),
    );
  });

  it("refuses a symlink that points out of the sandbox, naming it", async () => {
    for (const pattern of ["evil.txt", "*.txt"]) {
      const { run, result } = await runToEnd(
        fixtureRequest(join(root, `link-${++runs}`), "link", ["evil.txt", "/etc/passwd"], {
          outputs: [pattern],
        }),
      );
      assert.equal(result.exitCode, 0);
      assert.equal(result.error?.code, "E_OUTPUT_INVALID", pattern);
      assert.match(result.error.message, /"evil\.txt".*outside the sandbox/);
      assert.deepEqual(result.outputs, []);
      await run.cleanup();
    }
  });

  it("accepts a symlink to a file inside the sandbox", async () => {
    const { run, result } = await runToEnd(
      fixtureRequest(join(root, `link-${++runs}`), "link", ["alias.txt", "real.txt", "inside"], {
        outputs: ["alias.txt"],
      }),
    );
    assert.equal(result.error, undefined);
    assert.equal(result.outputs[0]?.path, "alias.txt");
    assert.equal(result.outputs[0].size, 6);
    await run.cleanup();
  });

  it("names the pattern that matched nothing", async () => {
    for (const missing of ["report.pdf", "none/*.bin"]) {
      const result = await transform(["out/*.txt", missing]);
      assert.equal(result.exitCode, 0);
      assert.equal(result.error?.code, "E_OUTPUT_MISSING");
      assert.match(
        result.error.message,
        new RegExp(JSON.stringify(missing).replace(/[*.]/g, "\\$&")),
      );
      assert.deepEqual(result.outputs, []);
    }
  });

  it("refuses a directory named as an output", async () => {
    const result = await transform(["out"]);
    assert.equal(result.error?.code, "E_OUTPUT_INVALID");
    assert.match(result.error.message, /directory/);
  });

  it("enforces maxOutputs and maxOutputBytes with E_LIMIT naming the limit", async () => {
    const tooMany = await transform(["out/*.txt"], { ...LIMITS, maxOutputs: 1 });
    assert.equal(tooMany.error?.code, "E_LIMIT");
    assert.match(tooMany.error.message, /maxOutputs \(1\)/);
    assert.deepEqual(tooMany.outputs, []);

    const tooLarge = await transform(["**/*.bin"], { ...LIMITS, maxOutputBytes: 7 });
    assert.equal(tooLarge.error?.code, "E_LIMIT");
    assert.match(tooLarge.error.message, /8 bytes, more than maxOutputBytes \(7\)/);
  });

  it("refuses an output pattern that could leave the sandbox, before starting the tool", async () => {
    for (const pattern of ["../x", "/etc/passwd", "out/../../x", ""]) {
      const request = fixtureRequest(join(root, `bad-${++runs}`), "transform", [], {
        outputs: [pattern],
      });
      const run = runTool(request);
      assert.equal(await rejectionCode(run), "E_PATH_INVALID", pattern);
      await run.cleanup();
    }
  });
});
