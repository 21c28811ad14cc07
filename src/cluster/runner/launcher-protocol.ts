/**
 * Messages between a runner (launcher.ts, in the executor) and its launcher
 * process (launcher-main.ts), over Node's IPC channel with the "advanced"
 * serialization (structured clone: strings keep any byte).
 */
import type { ToolExit } from "./process-group.js";

export interface StreamLog {
  path: string;
  /** Bytes kept in the file; past them the output is read and dropped. */
  maxBytes: number;
  /** Bytes of the output's end kept for the result, past the cut too. */
  tailBytes: number;
}

export type ToLauncher =
  | {
      op: "start";
      id: number;
      tool: string;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      stdout: StreamLog;
      stderr: StreamLog;
      /** Where to write the run record (run-record.ts), naming `owner` as the executor. */
      record: { dir: string; owner: number };
    }
  /** SIGTERM to the group, SIGKILL after the grace. */
  | { op: "stop"; id: number }
  /** SIGKILL to the group now. */
  | { op: "kill"; id: number };

export interface CapturedLog {
  tail: string;
  /** Whether anything reached the file (a silent stream leaves none). */
  written: boolean;
  truncated: boolean;
  /** Why writing the file failed (ENOSPC, EIO), if it did. */
  failure: { code: string | undefined; message: string } | null;
}

export type FromLauncher =
  /** The launcher listens: requests may be sent. */
  | { op: "ready" }
  | { op: "started"; id: number; pid: number }
  /** The tool did not start: errno (ENOENT, EACCES…) or "invalid" (argv or env Node refuses). */
  | { op: "refused"; id: number; reason: string; message: string }
  /** The leader exited; SIGKILL has gone to the rest of its group. */
  | ({ op: "exited"; id: number } & ToolExit)
  /** Both output streams ended (or were given up on), the last message of a run. */
  | { op: "logs"; id: number; stdout: CapturedLog; stderr: CapturedLog };
