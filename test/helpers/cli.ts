/**
 * Runs the real `gamedock` CLI (src/cli/main.ts through tsx) as a child process,
 * optionally without root's power to ignore file permissions (setpriv drops
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so permission tests mean something
 * when the suite runs as root, wherever the checkout lives.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before } from "node:test";

export const ROOT = resolve(import.meta.dirname, "../..");
export const FIXTURES = join(ROOT, "test/fixtures");
export const fixture = (name: string): string => join(FIXTURES, name);
const MAIN = join(ROOT, "src/cli/main.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const isRoot = (): boolean => process.getuid?.() === 0;
const DROP_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--"];

export function runCli(
  args: string[],
  options: {
    cwd?: string;
    unprivileged?: boolean;
    env?: NodeJS.ProcessEnv;
    /** Written to the CLI's stdin, which then ends. */
    input?: string;
    /** Kills the CLI when aborted: pass a test's `t.signal` so a hung CLI dies with its test. */
    signal?: AbortSignal;
  } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const node = [process.execPath, "--import", "tsx", MAIN, ...args];
    const command = options.unprivileged && isRoot() ? ["setpriv", ...DROP_DAC, ...node] : node;
    const child = spawn(command[0]!, command.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      signal: options.signal,
    });
    // Without input, stdin is at its end at once, as when run with </dev/null.
    child.stdin.on("error", () => undefined); // EPIPE: the CLI exited without reading it
    child.stdin.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Parses `gamedock: CODE: message` from stderr. */
export function errorCode(result: CliResult): string | undefined {
  return /gamedock: (E_[A-Z0-9_]+):/.exec(result.stderr)?.[1];
}

export async function tempDir(prefix = "gamedock-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A scratch directory for the enclosing suite: created before it, removed after. */
export function useTempDir(onReady: (dir: string) => void, prefix?: string): void {
  let dir = "";
  before(async () => {
    dir = await tempDir(prefix);
    onReady(dir);
  });
  after(async () => {
    await removeDir(dir);
  });
}
