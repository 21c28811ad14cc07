/**
 * One run of a tool, from an empty directory to collected outputs: the
 * promises are in contract.ts's header. Three phases:
 * 1. set-up (check paths, create the sandbox and logs directory, place the
 *    inputs, start the process) — a failure here rejects `result` and
 *    removes whatever was created;
 * 2. running — timeout, abort and the disk-use watch may stop the group;
 * 3. after the exit — logs settled, outputs collected (exit 0 only).
 */
import { realpath } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { GamedockError, fsError } from "../../core/index.js";
import type { CollectedOutput, RunError, RunRequest, RunResult, ToolRun } from "./contract.js";
import { sandboxBytes, watchDiskUse } from "./disk-use.js";
import { compilePattern } from "./glob.js";
import { startTool, type ToolProcess } from "./launcher.js";
import { collectOutputs } from "./outputs.js";
import * as fail from "./run-errors.js";
import {
  checkInputPaths,
  createFreshDirectory,
  logsDirectoryOf,
  removeTree,
  stageInputs,
  type StagedInputs,
} from "./sandbox.js";

/** setTimeout fires at once past 2^31-1 ms; a longer timeout is, in practice, none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface RunState {
  /** Directories this run created, removed by cleanup() (never one it did not create). */
  created: string[];
  process: ToolProcess | undefined;
  /** The request's signal, or cleanup() stopping a run that has not finished. */
  signal: AbortSignal;
}

export function runTool(request: RunRequest): ToolRun {
  const stopper = new AbortController();
  const state: RunState = {
    created: [],
    process: undefined,
    signal: AbortSignal.any([request.signal, stopper.signal]),
  };
  const result = run(request, state);
  let cleaning: Promise<void> | undefined;
  return {
    result,
    cleanup() {
      cleaning ??= (async () => {
        stopper.abort(new GamedockError("E_CANCELLED", "the run was cleaned up before it ended"));
        state.process?.kill();
        await result.catch(() => undefined);
        await removeCreated(state);
      })();
      return cleaning;
    },
  };
}

async function removeCreated(state: RunState): Promise<void> {
  for (const dir of state.created.splice(0).reverse()) await removeTree(dir);
}

async function run(request: RunRequest, state: RunState): Promise<RunResult> {
  const { signal } = state;
  // Everything that can be refused is refused before anything exists on disk.
  if (!isAbsolute(request.tool)) {
    throw new GamedockError("E_PATH_INVALID", `tool ${request.tool} is not an absolute path`, {
      tool: request.tool,
    });
  }
  const inputs = checkInputPaths(request.inputs);
  const patterns = request.outputs.map(compilePattern);
  const sandbox = resolve(request.sandbox);
  const logsDir = logsDirectoryOf(sandbox);

  let root: string;
  let staged: StagedInputs;
  let tool: ToolProcess;
  try {
    if (signal.aborted) throw fail.cancelledBeforeStart(signal);
    await createFreshDirectory(sandbox, "sandbox");
    state.created.push(sandbox);
    await createFreshDirectory(logsDir, "logs directory");
    state.created.push(logsDir);
    // Output checks compare real paths: a symlink among the sandbox's parents must not matter.
    root = await realpath(sandbox);
    staged = await stageInputs(root, inputs, signal);
    if (signal.aborted) throw fail.cancelledBeforeStart(signal);
    const { maxLogBytes: maxBytes, tailBytes } = request.limits;
    tool = await startTool({
      tool: request.tool,
      args: request.args,
      cwd: root,
      env: request.env,
      stdout: { path: join(logsDir, "stdout.log"), maxBytes, tailBytes },
      stderr: { path: join(logsDir, "stderr.log"), maxBytes, tailBytes },
      recordDir: logsDir,
    });
    state.process = tool;
  } catch (err) {
    await removeCreated(state);
    throw signal.aborted ? fail.cancelledBeforeStart(signal) : err;
  }

  const started = performance.now();
  const { limits } = request;

  // The first reason to stop wins; later ones only find the group already stopping.
  let stopped: { ended: RunResult["ended"]; error: RunError } | undefined;
  const stopFor = (ended: RunResult["ended"], error: RunError, hard: boolean): void => {
    if (stopped) return;
    stopped = { ended, error };
    // Past a disk limit every further byte is too many: no grace.
    if (hard) tool.kill();
    else tool.stop();
  };
  const timer = setTimeout(
    () => {
      stopFor("timed_out", fail.timedOut(request.timeoutMs), false);
    },
    Math.min(Math.max(request.timeoutMs, 0), MAX_TIMER_MS),
  );
  const onAbort = (): void => {
    stopFor("aborted", fail.cancelledWhileRunning(signal), false);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  const watch = watchDiskUse({
    sandbox: root,
    exclude: staged.inodes,
    maxBytes: limits.maxSandboxBytes,
    onOver: (used) => {
      stopFor("limit", fail.sandboxTooLarge(used, limits.maxSandboxBytes), true);
    },
  });

  const exit = await tool.exited;
  const ms = Math.round(performance.now() - started);
  clearTimeout(timer);
  signal.removeEventListener("abort", onAbort);
  await watch.stop();
  const { stdout, stderr } = await tool.logs;

  let error: RunError | undefined = stopped?.error;
  let ended = stopped?.ended ?? "exited";
  let outputs: CollectedOutput[] = [];
  if (exit.lost) {
    error ??= fail.launcherLost();
  } else if (!stopped) {
    // A tool that wrote past the limit faster than one measurement still fails it.
    const used = await sandboxBytes(root, staged.inodes).catch(() => 0);
    if (used > limits.maxSandboxBytes) {
      ended = "limit";
      error = fail.sandboxTooLarge(used, limits.maxSandboxBytes);
    } else if (exit.code !== 0) {
      error = fail.exitedBadly(exit);
    } else {
      try {
        outputs = await collectOutputs({
          sandbox: root,
          patterns,
          inputPaths: staged.paths,
          limits,
        });
      } catch (err) {
        error = fail.asRunError(err);
      }
    }
  }
  const logFailure = stdout.failure ?? stderr.failure;
  if (!error && logFailure !== null) {
    const cause = Object.assign(new Error(logFailure.message), { code: logFailure.code });
    error = fail.asRunError(fsError(cause, logsDir, "the tool's log"));
  }

  return {
    exitCode: exit.code,
    signal: exit.signal,
    ended,
    stdoutTail: stdout.tail,
    stderrTail: stderr.tail,
    logs: {
      stdout: stdout.written ? join(logsDir, "stdout.log") : null,
      stderr: stderr.written ? join(logsDir, "stderr.log") : null,
      truncated: stdout.truncated || stderr.truncated,
    },
    outputs: error ? [] : outputs,
    ms,
    ...(error ? { error } : {}),
  };
}
