/**
 * Running one task's tool in a sandbox directory of its own.
 *
 * - The tool is an absolute path the executor's config maps a tool name to;
 *   argv goes to the process as given (execFile-style), never through a shell.
 * - Inputs are hard-linked into the sandbox at their relative paths from the
 *   staging cache (read-only files: the cache's own inode); a copy is made
 *   only when a hard link is impossible (another file system).
 * - The process runs in its own process group; a timeout or an abort kills
 *   the whole group (SIGTERM, then SIGKILL after a grace period), so no
 *   grandchild survives.
 * - stdout and stderr are captured to log files (cut at `maxLogBytes`, saying
 *   so) and their last `tailBytes` are returned.
 * - Outputs are paths or globs relative to the sandbox; each must resolve to
 *   regular files inside it (a symlink that leaves the sandbox is refused:
 *   E_OUTPUT_INVALID); a pattern that matches nothing is E_OUTPUT_MISSING.
 * - Limits: number and total size of outputs, disk use of the sandbox while
 *   the tool runs (checked periodically; the group is killed), log size:
 *   E_LIMIT naming the limit.
 */

export interface SandboxInput {
  /** Relative path inside the sandbox (already validated: no "..", not absolute). */
  path: string;
  /** Absolute path of the verified file to link there. */
  source: string;
}

export interface RunLimits {
  maxOutputs: number;
  maxOutputBytes: number; // all outputs together
  maxSandboxBytes: number; // disk use of the sandbox while the tool runs
  maxLogBytes: number; // each of stdout and stderr
  tailBytes: number; // returned in the result
}

export interface RunRequest {
  /** Absolute path of the tool binary. */
  tool: string;
  args: readonly string[];
  /** The whole environment of the process (the executor builds it from an allowlist). */
  env: Readonly<Record<string, string>>;
  /** A fresh directory the runner creates and owns; removed by cleanup(). */
  sandbox: string;
  inputs: readonly SandboxInput[];
  /** Paths or globs (`*`, `**`, `?`) relative to the sandbox. */
  outputs: readonly string[];
  limits: RunLimits;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface CollectedOutput {
  /** Relative path in the sandbox. */
  path: string;
  /** Absolute path of the file, valid until cleanup(). */
  file: string;
  size: number;
  sha256: string;
}

export interface RunResult {
  exitCode: number | null;
  /** The signal that ended the tool, if one did. */
  signal: string | null;
  /** "exited" normally, or why the runner stopped it. */
  ended: "exited" | "timed_out" | "aborted" | "limit";
  stdoutTail: string;
  stderrTail: string;
  /** Absolute paths of the whole (possibly cut) logs, valid until cleanup(). */
  logs: { stdout: string; stderr: string; truncated: boolean };
  /** Collected only when the tool exited 0; [] otherwise. */
  outputs: CollectedOutput[];
  ms: number;
}

export interface ToolRun {
  result: Promise<RunResult>;
  /** Removes the sandbox and everything in it. Idempotent. */
  cleanup(): Promise<void>;
}
