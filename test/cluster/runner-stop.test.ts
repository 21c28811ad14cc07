/**
 * Stopping a tool: a timeout, a cancel, a sandbox that grows past its limit,
 * and a tool that exits leaving a background process behind. In every case no
 * process of the tool's group survives (checked in /proc) and the result says
 * why the run ended.
 */
import assert from "node:assert/strict";
import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GamedockError } from "../../src/core/index.js";
import { runTool } from "../../src/cluster/runner/index.js";
import { tempDir } from "../helpers/cli.js";
import {
  LIMITS,
  fixtureRequest,
  liveMembers,
  readPids,
  rejectionCode,
  runToEnd,
  waitFor,
} from "./runner-kit.js";

/** Waits until neither the tool nor its background grandchild is alive. */
async function groupGone(pids: { pgid: number; grandchild: number }): Promise<void> {
  await waitFor(async () => (await liveMembers(pids.pgid)).length === 0);
  assert.deepEqual(await liveMembers(pids.pgid), []);
}

describe("tool runner: stopping the process group", { timeout: 90_000 }, () => {
  let root: string;
  before(async () => {
    root = await tempDir("gamedock-runner-stop-");
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("kills the tool and its background grandchild when timeoutMs passes", async () => {
    const request = fixtureRequest(join(root, "a"), "group", [], { timeoutMs: 2000 });
    const run = runTool(request);
    const pids = await readPids(request.sandbox);
    assert.ok((await liveMembers(pids.pgid)).includes(pids.grandchild), "grandchild running");
    const result = await run.result;
    assert.equal(result.ended, "timed_out");
    assert.equal(result.error?.code, "E_TASK_TIMEOUT");
    assert.match(result.error.message, /timeoutMs \(2000 ms\)/);
    assert.equal(result.exitCode, null);
    assert.equal(result.stdoutTail, "started\n");
    await groupGone(pids);
    await run.cleanup();
  });

  it("cancels through the signal; a tool that ignores SIGTERM gets SIGKILL after the grace", async () => {
    const controller = new AbortController();
    const request = fixtureRequest(join(root, "b"), "stubborn", [], {
      signal: controller.signal,
    });
    const run = runTool(request);
    const pids = await readPids(request.sandbox);
    controller.abort();
    const result = await run.result;
    assert.equal(result.ended, "aborted");
    assert.equal(result.error?.code, "E_CANCELLED");
    assert.equal(result.signal, "SIGKILL");
    await groupGone(pids);
    await run.cleanup();
  });

  it("reports the abort reason when the executor gives one", async () => {
    const controller = new AbortController();
    const request = fixtureRequest(join(root, "c"), "group", [], { signal: controller.signal });
    const run = runTool(request);
    const pids = await readPids(request.sandbox);
    controller.abort(new GamedockError("E_EXECUTOR_LOST", "the executor is shutting down"));
    const result = await run.result;
    assert.equal(result.ended, "aborted");
    assert.deepEqual(result.error, {
      code: "E_EXECUTOR_LOST",
      message: "the executor is shutting down",
    });
    await groupGone(pids);
    await run.cleanup();
  });

  it("kills what the tool left running in its group after it exited successfully", async () => {
    const request = fixtureRequest(join(root, "d"), "leave-daemon", [], {
      outputs: ["result.txt"],
    });
    const { run, result } = await runToEnd(request);
    assert.equal(result.exitCode, 0);
    assert.equal(result.error, undefined);
    assert.deepEqual(
      result.outputs.map((output) => output.path),
      ["result.txt"],
    );
    await groupGone(await readPids(request.sandbox));
    await run.cleanup();
  });

  it("stops a tool whose sandbox grows past maxSandboxBytes, with E_LIMIT naming the limit", async () => {
    const request = fixtureRequest(join(root, "e"), "fill", ["3000000"], {
      limits: { ...LIMITS, maxSandboxBytes: 1_000_000 },
    });
    const { run, result } = await runToEnd(request);
    assert.equal(result.ended, "limit");
    assert.equal(result.error?.code, "E_LIMIT");
    assert.match(result.error.message, /maxSandboxBytes \(1000000\)/);
    assert.equal(result.error.details?.limit, "maxSandboxBytes");
    assert.deepEqual(result.outputs, []);
    assert.equal(result.exitCode, null);
    await run.cleanup();
  });

  it("fails a tool that wrote past maxSandboxBytes even when it exited before a measurement", async () => {
    const request = fixtureRequest(join(root, "f"), "write", ["2000000", "out/big.bin"], {
      outputs: ["out/big.bin"],
      limits: { ...LIMITS, maxSandboxBytes: 1_000_000 },
    });
    const { run, result } = await runToEnd(request);
    assert.equal(result.exitCode, 0);
    assert.equal(result.ended, "limit");
    assert.equal(result.error?.code, "E_LIMIT");
    assert.deepEqual(result.outputs, []);
    await run.cleanup();
  });

  it("does not count the staged inputs as the tool's disk use", async () => {
    const dir = join(root, "g");
    const cached = join(root, "g-cache.bin");
    await writeFile(cached, Buffer.alloc(2_000_000, 7), { mode: 0o444 });
    const request = fixtureRequest(dir, "write", ["10", "small.bin"], {
      inputs: [{ path: "in/big.bin", source: cached }],
      outputs: ["small.bin"],
      limits: { ...LIMITS, maxSandboxBytes: 1_000_000 },
    });
    const { run, result } = await runToEnd(request);
    assert.equal(result.error, undefined);
    assert.equal(result.outputs[0]?.size, 10);
    await run.cleanup();
  });

  it("refuses to start when the signal is already aborted, and creates nothing", async () => {
    const request = fixtureRequest(join(root, "h"), "group", [], {
      signal: AbortSignal.abort(),
    });
    const run = runTool(request);
    assert.equal(await rejectionCode(run), "E_CANCELLED");
    assert.equal(await stat(request.sandbox).catch(() => null), null);
  });

  it("cleanup() stops a tool that still runs, then removes everything", async () => {
    const request = fixtureRequest(join(root, "i"), "group");
    const run = runTool(request);
    const pids = await readPids(request.sandbox);
    await run.cleanup();
    const result = await run.result;
    assert.equal(result.ended, "aborted");
    await groupGone(pids);
    assert.equal(await stat(request.sandbox).catch(() => null), null);
  });
});
