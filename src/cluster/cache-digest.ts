/**
 * The result cache's key: everything that decides what a run produces — the
 * tool (by name and by the sha256 of the binary the pool's executors run),
 * argv, env, the inputs (path and content) and the outputs asked for.
 */
import { createHash } from "node:crypto";
import type { NewTask } from "./model.js";

export function cacheDigest(task: NewTask, toolSha256: string): string {
  const canonical = JSON.stringify({
    tool: task.tool,
    binary: toolSha256,
    args: task.args,
    env: Object.entries(task.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    inputs: [...task.inputs]
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .map((i) => [i.path, i.sha256, i.size]),
    outputs: task.outputs,
  });
  return createHash("sha256").update(canonical).digest("hex");
}
