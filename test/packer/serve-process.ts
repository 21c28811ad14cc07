/**
 * `gamedock serve` (or `worker`) as a real child process, for tests that
 * `kill -9` it: started through the CLI with a config file, its URL read from
 * the banner it prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/cli.js";

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr: () => string;
}

export async function spawnGamedock(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      resolve(code);
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const match = /listening on (http:\/\/\S+)|running stages/.exec(stdout);
      if (match) resolve(match[1] ?? "");
    });
    void exited.then((code) => {
      reject(
        new Error(`gamedock ${args[0] ?? ""} exited (${code}) before it was ready: ${stderr}`),
      );
    });
  });
  return { child, url, exited, stderr: () => stderr };
}

export async function kill9(process: ServeProcess): Promise<void> {
  process.child.kill("SIGKILL");
  await process.exited;
}
