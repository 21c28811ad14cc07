/**
 * gamedock commands as real child processes, for tests that kill them
 * (`kill -9` as a crash, SIGTERM as a stop) and read what they logged:
 * started through the CLI with the arguments a user would type, ready when
 * their banner shows on stdout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "./cli.js";

/** Node's arguments that run the CLI from the sources (bench:cluster passes a compiled one). */
export const TSX_CLI: readonly string[] = ["--import", "tsx", join(ROOT, "src/cli/main.ts")];

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `gamedock <args>` and waits until its stdout matches `ready` (the banner). */
export async function spawnCli(
  args: string[],
  ready: RegExp,
  cli: readonly string[] = TSX_CLI,
  env: NodeJS.ProcessEnv = {},
): Promise<{ process: CliProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [...cli, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      resolve(code);
    });
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const found = ready.exec(stdout);
      if (found) resolve(found);
    });
    void exited.then((code) => {
      reject(
        new Error(`gamedock ${args[0] ?? ""} exited (${code}) before it was ready: ${stderr}`),
      );
    });
  });
  return {
    process: { child, pid: child.pid ?? 0, exited, stderr: () => stderr },
    match,
  };
}

/** SIGKILL, as a crash: nothing of the process runs after it. */
export async function kill9(proc: CliProcess): Promise<void> {
  proc.child.kill("SIGKILL");
  await proc.exited;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Returns the exit code. */
export async function stopGracefully(proc: CliProcess, graceMs = 60_000): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), graceMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** JSON lines of a process's log file (pino). */
export async function logLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
