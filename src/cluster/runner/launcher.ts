/**
 * The runner's side of the launcher process (launcher-main.ts says why there
 * is one): started on the first run, shared by every run of this process,
 * started again on the next run if it died. While no run is in flight it
 * holds nothing open, so it never keeps a process alive.
 *
 * If the launcher dies while tools run (killed, out of memory), their groups
 * are killed and their runs end with `lost` set: the runner fails them.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { GamedockError } from "../../core/index.js";
import type { CapturedLog, FromLauncher, StreamLog, ToLauncher } from "./launcher-protocol.js";
import { signalGroup, type ToolExit } from "./process-group.js";

export interface LaunchedExit extends ToolExit {
  /** The launcher died while the tool ran; the group was killed. */
  lost?: true;
}

export interface LaunchedLogs {
  stdout: CapturedLog;
  stderr: CapturedLog;
}

export interface ToolProcess {
  /** Also the process group id. */
  pid: number;
  /** The leader's exit; by then SIGKILL has gone to the rest of the group. */
  exited: Promise<LaunchedExit>;
  /** Both streams captured to their files, after the exit. */
  logs: Promise<LaunchedLogs>;
  /** SIGTERM to the group now, SIGKILL after KILL_GRACE_MS. Idempotent. */
  stop(): void;
  /** SIGKILL to the group now (a limit passed: every further byte is too many). */
  kill(): void;
}

export interface ToolStart {
  tool: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  stdout: StreamLog;
  stderr: StreamLog;
  /** The directory for the run record (run-record.ts). */
  recordDir: string;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One run as the launcher reports it. */
interface Pending {
  tool: string;
  started: Deferred<number>;
  exited: Deferred<LaunchedExit>;
  logs: Deferred<LaunchedLogs>;
  /** Set once the leader's pid is known, cleared once it exited (the pid may be reused then). */
  pid: number | null;
}

/** The entry beside this file: .js when built, .ts when run through tsx (tests). */
const MAIN = fileURLToPath(
  new URL(`./launcher-main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url),
);

class Launcher {
  #child: ChildProcess | null = null;
  #ready: Promise<ChildProcess> | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  async start(start: ToolStart): Promise<ToolProcess> {
    const child = await this.#launch();
    const id = this.#nextId++;
    const run: Pending = {
      tool: start.tool,
      started: deferred(),
      exited: deferred(),
      logs: deferred(),
      pid: null,
    };
    this.#pending.set(id, run);
    this.#track();
    this.#send(child, {
      op: "start",
      id,
      tool: start.tool,
      args: [...start.args],
      cwd: start.cwd,
      env: { ...start.env },
      stdout: start.stdout,
      stderr: start.stderr,
      record: { dir: start.recordDir, owner: process.pid },
    });
    const pid = await run.started.promise;
    let exitSeen = false;
    void run.exited.promise.then(() => (exitSeen = true));
    return {
      pid,
      exited: run.exited.promise,
      logs: run.logs.promise,
      stop: () => {
        if (!exitSeen) this.#send(child, { op: "stop", id });
      },
      kill: () => {
        if (!exitSeen) this.#send(child, { op: "kill", id });
      },
    };
  }

  #send(child: ChildProcess, message: ToLauncher): void {
    // A launcher that died is handled by its 'exit' (every pending run ends lost).
    if (child.connected) child.send(message);
  }

  /** Keeps the channel open only while a run is in flight. */
  #track(): void {
    const channel = this.#child?.channel;
    if (!channel) return;
    if (this.#pending.size > 0) channel.ref();
    else channel.unref();
  }

  #launch(): Promise<ChildProcess> {
    this.#ready ??= new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(MAIN, [], {
        // Lean on purpose: a small heap makes every fork from it cheap. tsx only for .ts sources.
        execArgv: [...(MAIN.endsWith(".ts") ? ["--import", "tsx"] : []), "--max-semi-space-size=1"],
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // Its own process group: a Ctrl-C meant for the executor must not kill it mid-run.
        detached: true,
      });
      child.unref();
      this.#child = child;
      child.on("message", (message: FromLauncher) => {
        if (message.op === "ready") {
          this.#track();
          resolve(child);
          return;
        }
        this.#receive(message);
      });
      child.once("exit", (code, signal) => {
        this.#child = null;
        this.#ready = null;
        reject(
          new GamedockError(
            "E_INTERNAL",
            `the tool launcher exited before it was ready (${signal ?? `code ${code}`})`,
          ),
        );
        this.#lost();
      });
      child.once("error", (err) => {
        reject(new GamedockError("E_INTERNAL", `the tool launcher cannot start: ${err.message}`));
      });
    });
    return this.#ready;
  }

  #receive(message: Exclude<FromLauncher, { op: "ready" }>): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    switch (message.op) {
      case "started":
        pending.pid = message.pid;
        pending.started.resolve(message.pid);
        break;
      case "refused":
        this.#pending.delete(message.id);
        this.#track();
        pending.started.reject(refusal(pending.tool, message.reason, message.message));
        break;
      case "exited":
        pending.pid = null;
        pending.exited.resolve({ code: message.code, signal: message.signal });
        break;
      case "logs":
        this.#pending.delete(message.id);
        this.#track();
        pending.logs.resolve({ stdout: message.stdout, stderr: message.stderr });
        break;
    }
  }

  /** The launcher died: its groups are orphans now; kill them and end their runs. */
  #lost(): void {
    const lostLog: CapturedLog = { tail: "", written: false, truncated: false, failure: null };
    for (const pending of this.#pending.values()) {
      pending.started.reject(
        new GamedockError("E_INTERNAL", "the tool launcher died before the tool started"),
      );
      // A leader that exited was reaped and its group killed; its pid is not ours any more.
      if (pending.pid !== null) signalGroup(pending.pid, "SIGKILL");
      pending.exited.resolve({ code: null, signal: "SIGKILL", lost: true });
      pending.logs.resolve({ stdout: lostLog, stderr: lostLog });
    }
    this.#pending.clear();
  }
}

/** The tool could not start: the executor's configuration is wrong, not the task (retryable). */
function refusal(tool: string, reason: string, message: string): GamedockError {
  if (reason === "invalid") {
    // Node refuses argv or env holding a NUL byte before any process exists.
    return new GamedockError(
      "E_INVALID_REQUEST",
      `the tool cannot be started with these arguments or environment: ${message}`,
      { tool },
    );
  }
  const why =
    reason === "ENOENT"
      ? "does not exist"
      : reason === "EACCES"
        ? "is not executable (or a directory on its path cannot be entered)"
        : `cannot be executed (${reason})`;
  return new GamedockError(
    "E_PATH_INVALID",
    `tool ${tool} ${why}; check the executor's cluster.tools`,
    { tool },
    { retryable: true },
  );
}

const launcher = new Launcher();

/** Starts a tool through this process's launcher. Rejects E_PATH_INVALID / E_INVALID_REQUEST. */
export function startTool(start: ToolStart): Promise<ToolProcess> {
  return launcher.start(start);
}
