/** Public surface of the tool runner: run one task's tool in a sandbox (promises in contract.ts). */
export { runTool } from "./run-tool.js";
export { KILL_GRACE_MS } from "./process-group.js";
export { logsDirectoryOf } from "./sandbox.js";
export type {
  CollectedOutput,
  RunError,
  RunLimits,
  RunRequest,
  RunResult,
  SandboxInput,
  ToolRun,
} from "./contract.js";
export { reapAbandonedRuns } from "./abandoned.js";
