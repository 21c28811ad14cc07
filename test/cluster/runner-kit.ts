/**
 * Shared by the runner's tests: a request with sensible defaults around the
 * fixture tool (test/cluster/fixtures/tool.sh run by /bin/sh), and a look at
 * /proc to tell whether any process of a group is still alive.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { RunLimits, RunRequest, RunResult, ToolRun } from "../../src/cluster/runner/index.js";
import { runTool } from "../../src/cluster/runner/index.js";

export const FIXTURE_TOOL = fileURLToPath(new URL("./fixtures/tool.sh", import.meta.url));
export const SH = "/bin/sh";
export const TOOL_ENV = { PATH: "/usr/bin:/bin" };

export const LIMITS: RunLimits = {
  maxOutputs: 100,
  maxOutputBytes: 10_000_000,
  maxSandboxBytes: 50_000_000,
  maxLogBytes: 1_000_000,
  tailBytes: 4096,
};

/** A request running `tool.sh <mode> <args...>` in `<root>/sandbox`, overridable field by field. */
export function fixtureRequest(
  root: string,
  mode: string,
  args: string[] = [],
  overrides: Partial<RunRequest> = {},
): RunRequest {
  return {
    tool: SH,
    args: [FIXTURE_TOOL, mode, ...args],
    env: TOOL_ENV,
    sandbox: join(root, "sandbox"),
    inputs: [],
    outputs: [],
    limits: LIMITS,
    timeoutMs: 120_000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Runs to the end and hands back the run too, so the test can look around and clean up. */
export async function runToEnd(request: RunRequest): Promise<{ run: ToolRun; result: RunResult }> {
  const run = runTool(request);
  return { run, result: await run.result };
}

/** The error code a failed run reports, or the code of the rejection. */
export async function rejectionCode(run: ToolRun): Promise<string> {
  try {
    await run.result;
  } catch (err) {
    assert.ok(err instanceof Error && "code" in err, `not a GamedockError: ${String(err)}`);
    return String(err.code);
  }
  assert.fail("the run did not reject");
}

/** Polls until `check` is true; the test's own timeout bounds the wait. */
export async function waitFor(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await sleep(50);
}

/** `pgid pid-of-grandchild`, as the fixture's group modes write them once started. */
export async function readPids(sandbox: string): Promise<{ pgid: number; grandchild: number }> {
  let text = "";
  await waitFor(async () => {
    text = await readFile(join(sandbox, "pids"), "utf8").catch(() => "");
    return text.endsWith("\n");
  });
  const [pgid, grandchild] = text.trim().split(" ").map(Number);
  return { pgid: pgid!, grandchild: grandchild! };
}

/**
 * Pids of live processes in group `pgid`. A zombie does not count: it is
 * dead, waiting for its new parent (here PID 1) to reap it, which the kernel
 * leaves to that parent's schedule.
 */
export async function liveMembers(pgid: number): Promise<number[]> {
  const live: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") {
      live.push(Number(name));
    }
  }
  return live;
}
