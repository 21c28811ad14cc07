/**
 * The tool as a process group: started without a shell as the leader of a
 * group of its own (`detached`, which is setsid on Linux), so every process
 * it starts can be signalled at once with `kill(-pgid)`.
 *
 * Stopping (timeout, cancel) is SIGTERM to the group, then SIGKILL after
 * KILL_GRACE_MS for whatever ignored it. When the leader exits — by itself or
 * stopped — SIGKILL goes to the group at once: a background grandchild the
 * tool left behind must not outlive the run. A grandchild that calls setsid()
 * itself leaves the group and escapes this (only a cgroup would hold it); the
 * runner bounds how long it waits for such a one's pipes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { GamedockError, errnoCode } from "../../core/index.js";

/** Between SIGTERM and SIGKILL: time for a tool to remove its temp files, not more. */
export const KILL_GRACE_MS = 2000;

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ToolProcess {
  /** Also the process group id. */
  pid: number;
  stdout: Readable;
  stderr: Readable;
  /** The leader's exit; by then SIGKILL has gone to the rest of the group. */
  exited: Promise<ToolExit>;
  /** SIGTERM to the group now, SIGKILL after KILL_GRACE_MS. Idempotent. */
  stop(): void;
  /** SIGKILL to the group now (a limit passed: every further byte is too many). */
  kill(): void;
}

/** Sends `signal` to the group; a group that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    // ESRCH: nobody left. EPERM: only a member that changed its user is left, out of reach.
    if (!["ESRCH", "EPERM"].includes(errnoCode(err) ?? "")) throw err;
  }
}

/**
 * Starts `tool` with exactly `args` and `env` in `cwd`. Rejects with
 * E_PATH_INVALID when the binary does not exist or cannot be executed — the
 * executor's configuration is wrong, not the task, so another executor may
 * run it (retryable).
 */
export async function startTool(
  tool: string,
  args: readonly string[],
  options: { cwd: string; env: Readonly<Record<string, string>> },
): Promise<ToolProcess> {
  let child: ChildProcess;
  try {
    child = spawn(tool, args, {
      cwd: options.cwd,
      env: { ...options.env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    // Node refuses argv or env holding a NUL byte before any process exists.
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `the tool cannot be started with these arguments or environment: ${String(err)}`,
      { tool },
    );
  }
  const exited = new Promise<ToolExit>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => {
      reject(toolError(tool, err));
    });
  });
  // After the start, an 'error' is a failed kill(); signalGroup reaches the group anyway.
  child.on("error", () => undefined);
  return groupOf(child, exited);
}

function toolError(tool: string, err: unknown): GamedockError {
  const code = errnoCode(err);
  const why =
    code === "ENOENT"
      ? "does not exist"
      : code === "EACCES"
        ? "is not executable (or a directory on its path cannot be entered)"
        : `cannot be executed (${code ?? String(err)})`;
  return new GamedockError(
    "E_PATH_INVALID",
    `tool ${tool} ${why}; check the executor's cluster.tools`,
    { tool },
    { retryable: true },
  );
}

function groupOf(child: ChildProcess, exited: Promise<ToolExit>): ToolProcess {
  const pid = child.pid!;
  let graceTimer: NodeJS.Timeout | undefined;
  let leaderGone = false;
  const killGroup = (): void => {
    clearTimeout(graceTimer);
    signalGroup(pid, "SIGKILL");
  };
  const whenExited = exited.then((exit) => {
    leaderGone = true;
    killGroup();
    return exit;
  });
  return {
    pid,
    stdout: child.stdout!,
    stderr: child.stderr!,
    exited: whenExited,
    stop() {
      if (leaderGone || graceTimer !== undefined) return;
      signalGroup(pid, "SIGTERM");
      graceTimer = setTimeout(killGroup, KILL_GRACE_MS);
    },
    kill() {
      // Once the leader is reaped its pid may be reused; the exit already killed the group.
      if (!leaderGone) killGroup();
    },
  };
}
