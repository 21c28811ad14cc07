/**
 * bench:realtime's processes: the servers under test and the load
 * generator, each a child process started the same way (under a raised
 * open-files limit when the shell's is too low for the connections), and
 * what the bench reads of them from /proc — CPU time, RSS — or through the
 * inspector (a full GC before an RSS reading).
 */
import { privateCli } from "./private-cli.js";
export { cpuSeconds, machineTicks, memKiB } from "./proc-stats.js";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { LoadCommand, LoadReport, StepCommand, StepResult } from "./realtime-load.js";

export const ROOT = resolve(import.meta.dirname, "..");
export const TSX = ["--import", "tsx"];

/**
 * The CLI compiled into a private copy (as bench:cluster), or the sources
 * through tsx: node's arguments up to the command, without flags (each
 * process gets the binary's flags for its command: binaryNodeFlags).
 */
export function gamedockCli(mode: "compiled" | "tsx" | "reuse"): { cli: string[]; label: string } {
  if (mode === "tsx") {
    return {
      cli: [...TSX, join(ROOT, "src/cli/main.ts")],
      label: "sources through tsx (BENCH_CLI=tsx)",
    };
  }
  if (mode === "reuse") {
    // An experiment on a copy changed by hand: run it as it is.
    return {
      cli: [join(ROOT, "bench/.cache/realtime-cli/dist/cli/main.js")],
      label: "the private copy as it is (BENCH_CLI=reuse)",
    };
  }
  const { main, label } = privateCli("realtime-cli");
  return { cli: main, label };
}

/** Soft and hard limits on open files of this process (children inherit them). */
export function openFilesLimit(): { soft: number; hard: number } {
  const line = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync("/proc/self/limits", "utf8"));
  const value = (s: string | undefined): number => (s === "unlimited" ? Infinity : Number(s));
  return { soft: value(line?.[1]), hard: value(line?.[2]) };
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The first match of the `ready` pattern on stdout. */
  match: RegExpExecArray;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `node <args>` as a child; resolves once its stdout matches `ready`. With
 * `needFiles` above the inherited soft limit, it runs under `ulimit -n`.
 */
export async function startNode(
  name: string,
  args: readonly string[],
  ready: RegExp,
  options: { needFiles?: number; ipc?: boolean } = {},
): Promise<Proc> {
  const { soft, hard } = openFilesLimit();
  const need = options.needFiles ?? 0;
  const [command, argv] =
    need > soft
      ? [
          "bash",
          ["-c", `ulimit -n ${Math.min(need, hard)} && exec "$0" "$@"`, process.execPath, ...args],
        ]
      : [process.execPath, [...args]];
  const child = spawn(command, argv, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe", ...(options.ipc ? (["ipc"] as const) : [])],
    // Structured clone over IPC: a round trip of Infinity (no reply) stays Infinity, not null.
    serialization: "advanced",
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-64 * 1024);
  });
  const exited = new Promise<void>((r) =>
    child.once("exit", () => {
      r();
    }),
  );
  const match = await new Promise<RegExpExecArray>((resolveMatch, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout = (stdout + d).slice(-64 * 1024);
      const found = ready.exec(stdout);
      if (found) resolveMatch(found);
    });
    void exited.then(() => {
      reject(new Error(`${name} exited before it was ready: ${stderr.slice(-2000)}`));
    });
  });
  return {
    name,
    child,
    pid: child.pid ?? 0,
    match,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The load generator (realtime-load.ts) in its own process, driven over IPC. */
export interface LoadGenerator {
  pid: number;
  connect(command: Omit<Extract<LoadCommand, { type: "connect" }>, "type">): Promise<{
    open: number;
    failed: number;
    seconds: number;
    firstError: string | null;
  }>;
  /** One step; `onMark` runs when the measured window starts and when it ends (after the drain). */
  step(
    command: Omit<StepCommand, "type">,
    onMark: (phase: "start" | "end") => void,
  ): Promise<StepResult>;
  close(): Promise<void>;
}

export async function startLoadGenerator(needFiles: number): Promise<LoadGenerator> {
  const proc = await startNode(
    "load generator",
    [...TSX, join(ROOT, "bench/realtime-load.ts")],
    /load generator ready/,
    { needFiles, ipc: true },
  );
  const { child } = proc;
  let waiting: ((report: LoadReport) => void) | null = null;
  let markHandler: ((phase: "start" | "end") => void) | null = null;
  let failure: Error | null = null;
  child.on("message", (report: LoadReport) => {
    if (report.type === "mark") {
      markHandler?.(report.phase);
      return;
    }
    if (report.type === "failed") failure = new Error(`load generator: ${report.message}`);
    waiting?.(report);
  });
  const ask = <T extends LoadReport["type"]>(
    command: LoadCommand,
    answer: T,
  ): Promise<Extract<LoadReport, { type: T }>> =>
    new Promise((r, reject) => {
      waiting = (report) => {
        waiting = null;
        if (failure) reject(failure);
        else if (report.type === answer) r(report as Extract<LoadReport, { type: T }>);
      };
      child.send(command);
    });
  return {
    pid: proc.pid,
    connect: (command) => ask({ type: "connect", ...command }, "connected"),
    async step(command, onMark) {
      markHandler = onMark;
      try {
        return await ask({ type: "step", ...command }, "step");
      } finally {
        markHandler = null;
      }
    },
    async close() {
      if (child.connected) await ask({ type: "close" }, "closed").catch(() => undefined);
      await proc.stop();
    },
  };
}
