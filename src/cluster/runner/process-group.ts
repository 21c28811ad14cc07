/**
 * The tool as a process group, as the launcher process (launcher-main.ts)
 * holds it: started without a shell as the leader of a group of its own
 * (`detached`, which is setsid on Linux), so every process it starts can be
 * signalled at once with `kill(-pgid)`.
 *
 * Stopping (timeout, cancel) is SIGTERM to the group, then SIGKILL after
 * KILL_GRACE_MS for whatever ignored it. When the leader exits — by itself or
 * stopped — SIGKILL goes to the group at once: a background grandchild the
 * tool left behind must not outlive the run. A grandchild that calls setsid()
 * itself leaves the group and escapes this (only a cgroup would hold it); the
 * launcher bounds how long it waits for such a one's pipes.
 *
 * Only node: imports — the launcher stays small, which is its whole point.
 */
import { spawn, type ChildProcess } from "node:child_process";

/** Between SIGTERM and SIGKILL: time for a tool to remove its temp files, not more. */
export const KILL_GRACE_MS = 2000;

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ToolGroup {
  /** Also the process group id. */
  pid: number;
  child: ChildProcess;
  /** The leader's exit; by then SIGKILL has gone to the rest of the group. */
  exited: Promise<ToolExit>;
  /** Whether the leader has exited (and been reaped: its pid may be reused). */
  readonly gone: boolean;
  /** SIGTERM to the group now, SIGKILL after KILL_GRACE_MS. Idempotent. */
  stop(): void;
  /** SIGKILL to the group now. */
  kill(): void;
}

/** Why a tool did not start: errno (ENOENT, EACCES, …) or "invalid" for argv/env Node refuses. */
export class StartRefused extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Sends `signal` to the group; a group that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    // ESRCH: nobody left. EPERM: only a member that changed its user is left, out of reach.
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (!["ESRCH", "EPERM"].includes(code)) throw err;
  }
}

/** Starts `tool` with exactly `args` and `env` in `cwd`; rejects with StartRefused. */
export async function startGroup(
  tool: string,
  args: readonly string[],
  options: { cwd: string; env: Readonly<Record<string, string>> },
): Promise<ToolGroup> {
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
    throw new StartRefused("invalid", String(err));
  }
  const exited = new Promise<ToolExit>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err: NodeJS.ErrnoException) => {
      reject(new StartRefused(err.code ?? "unknown", err.message));
    });
  });
  // After the start, an 'error' is a failed kill(); signalGroup reaches the group anyway.
  child.on("error", () => undefined);
  return groupOf(child, exited);
}

function groupOf(child: ChildProcess, exited: Promise<ToolExit>): ToolGroup {
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
    child,
    exited: whenExited,
    get gone() {
      return leaderGone;
    },
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
