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
 *   the tool runs (checked periodically; the group is killed): E_LIMIT naming
 *   the limit. A log past `maxLogBytes` is cut (`logs.truncated`), not failed.
 *
 * How a run reports (the executor needs exit code, tails and logs even when
 * the run failed, so a failed run is a result, not an exception):
 * - `result` REJECTS (a GamedockError) only when the tool never started:
 *   an invalid input path or output pattern, the sandbox or its logs
 *   directory already existing, a tool path that does not exist or is not
 *   executable (E_PATH_INVALID, retryable: another executor may have it),
 *   an input that cannot be linked, the signal aborted before the start
 *   (E_CANCELLED, or the signal's reason when that is a GamedockError).
 *   Nothing is left on disk then, but cleanup() is still safe to call.
 * - Once the tool started, `result` RESOLVES; `error` is set exactly when the
 *   run did not succeed: E_EXIT_NONZERO (non-zero code or a foreign signal),
 *   E_TASK_TIMEOUT, E_CANCELLED / the abort reason, E_LIMIT (sandbox disk
 *   use, output count or size), E_OUTPUT_MISSING, E_OUTPUT_INVALID. Outputs
 *   are [] whenever `error` is set.
 *
 * Where things live: the sandbox (`request.sandbox`) is the tool's cwd and
 * holds only inputs and what the tool writes. Logs go to a sibling directory
 * `<sandbox>.logs/` (stdout.log, stderr.log), so no output glob can match a
 * log and the tool cannot overwrite one; cleanup() removes both.
 *
 * Output patterns: relative, `/`-separated; `*` is any run of characters
 * inside one path segment, `?` one character, a whole `**` segment is zero
 * or more segments (any depth); nothing else is special. Wildcards match names that
 * begin with a dot too. A glob does not descend into symlinked directories
 * and never matches a path where an input was placed; a pattern without
 * wildcards names one path exactly (an input too, e.g. a file rewritten in
 * place). Several patterns matching one file collect it once.
 */

import type { ErrorCode } from "../../core/index.js";

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
  /**
   * Absolute paths of the whole (possibly cut) logs, valid until cleanup();
   * null for a stream the tool wrote nothing to (no file is made for it).
   */
  logs: { stdout: string | null; stderr: string | null; truncated: boolean };
  /** Collected only when the tool exited 0; [] otherwise. */
  outputs: CollectedOutput[];
  /** Wall time of the tool, from spawn to exit. */
  ms: number;
  /** Why the run failed (see the header); absent when it succeeded. Shaped like GamedockError.toJSON(). */
  error?: RunError;
}

export interface RunError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface ToolRun {
  result: Promise<RunResult>;
  /**
   * Stops the tool if it still runs (SIGKILL to its group), then removes the
   * sandbox and the logs directory — only what this run created. Idempotent.
   */
  cleanup(): Promise<void>;
}
