/**
 * One run of one task on an executor, after its claim: stage the inputs
 * (staging cache), run the tool in a sandbox (runner), store the outputs and
 * logs in the file service, and report how it ended. Each stage has its
 * deadline; a cancel from the server or the executor's shutdown aborts it.
 */
import { basename, join } from "node:path";
import { isGamedockError } from "../../core/index.js";
import type { TaskSpec } from "../model.js";
import type { Completion, RunReport } from "../reports.js";
import type { RunLimits, RunResult, ToolRun } from "../runner/contract.js";
import { runTool } from "../runner/index.js";
import type { StagingCache, StagingLease } from "../staging/contract.js";
import type { ServerApi } from "./api-client.js";

export interface RunContext {
  api: ServerApi;
  executorId: string;
  cache: StagingCache;
  /** Tool name → absolute path of its binary. */
  tools: Readonly<Record<string, string>>;
  /** The environment every tool starts from (PATH, HOME …); a task's env is added to it. */
  baseEnv: Readonly<Record<string, string>>;
  workDir: string;
  limits: RunLimits;
  /** Outputs and logs are kept this long in the file service. */
  retentionSeconds: number;
}

/** Why a run was aborted from outside: the server cancelled it, or the executor is stopping. */
export type AbortReason = "cancel" | "shutdown";

function withDeadline(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}

async function uploadOutputs(
  ctx: RunContext,
  spec: TaskSpec,
  run: RunResult,
  signal: AbortSignal,
): Promise<RunReport> {
  const outputs = [];
  for (const output of run.outputs) {
    const stored = await ctx.api.putFile(
      output.file,
      basename(output.path),
      ctx.retentionSeconds,
      signal,
    );
    outputs.push({
      path: output.path,
      sha256: stored.sha256,
      size: stored.size,
      fileId: stored.id,
    });
  }
  return { ...(await reportOf(ctx, spec, run, signal)), outputs };
}

/**
 * The run as the server stores it: tails, and the whole logs stored as files
 * — an empty stream is not stored (null), nor is one that could not be.
 */
async function reportOf(
  ctx: RunContext,
  spec: TaskSpec,
  run: RunResult,
  signal: AbortSignal,
): Promise<RunReport> {
  const log = async (path: string | null, stream: string): Promise<string | null> => {
    if (path === null) return null;
    try {
      return (await ctx.api.putFile(path, `${spec.id}.${stream}.log`, ctx.retentionSeconds, signal))
        .id;
    } catch {
      return null; // the tails are in the result; a lost log file is not worth failing the task
    }
  };
  return {
    exitCode: run.exitCode,
    stdout: run.stdoutTail,
    stderr: run.stderrTail,
    outputs: [],
    logs: {
      stdout: await log(run.logs.stdout, "stdout"),
      stderr: await log(run.logs.stderr, "stderr"),
      truncated: run.logs.truncated,
    },
    ms: run.ms,
  };
}

/** Runs a claimed task to its end and returns what to report (the caller sends it). */
export async function runTask(
  ctx: RunContext,
  spec: TaskSpec,
  outer: AbortSignal,
): Promise<Completion> {
  const executor = ctx.executorId;
  const aborted = (): Completion | null => {
    if (!outer.aborted) return null;
    return (outer.reason as AbortReason) === "shutdown"
      ? { kind: "handback", executor }
      : {
          kind: "error",
          executor,
          error: { code: "E_CANCELLED", message: "cancelled while it ran" },
        };
  };
  const tool = ctx.tools[spec.tool];
  if (tool === undefined) {
    return {
      kind: "error",
      executor,
      error: { code: "E_TOOL_UNKNOWN", message: `this executor does not offer ${spec.tool}` },
    };
  }
  let lease: StagingLease | null = null;
  let run: ToolRun | null = null;
  try {
    // Each report is a request: stages with nothing to do are not reported.
    if (spec.inputs.length > 0) await ctx.api.progress(spec.id, executor, "staging");
    const staging = withDeadline(outer, spec.timeouts.stagingMs);
    try {
      lease = await ctx.cache.acquire(spec.inputs, staging);
    } catch (err) {
      const early = aborted();
      if (early) return early;
      if (staging.aborted) {
        return {
          kind: "error",
          executor,
          error: {
            code: "E_STAGING_TIMEOUT",
            message: `the inputs were not staged within ${spec.timeouts.stagingMs} ms`,
          },
        };
      }
      throw err;
    }
    // Claiming a task without inputs already started its run (the server says "running").
    if (spec.inputs.length > 0) await ctx.api.progress(spec.id, executor, "running");
    const held = lease;
    run = runTool({
      tool,
      args: spec.args,
      env: { ...ctx.baseEnv, ...spec.env },
      sandbox: join(ctx.workDir, `${spec.id}-${spec.attempt}`),
      inputs: spec.inputs.map((input) => ({ path: input.path, source: held.pathOf(input.sha256) })),
      outputs: spec.outputs,
      limits: ctx.limits,
      timeoutMs: spec.timeouts.runMs,
      signal: outer,
    });
    const result = await run.result;
    lease.release();
    lease = null;
    const early = aborted();
    if (early) return early;
    if (result.error) {
      // A non-zero exit, a timeout, a limit, a missing output: the run's logs still go back.
      const report = await reportOf(ctx, spec, result, outer);
      return {
        kind: "error",
        executor,
        error: { code: result.error.code, message: result.error.message },
        result: report,
      };
    }
    if (result.outputs.length > 0) await ctx.api.progress(spec.id, executor, "uploading");
    return { kind: "result", executor, result: await uploadOutputs(ctx, spec, result, outer) };
  } catch (err) {
    const early = aborted();
    if (early) return early;
    if (isGamedockError(err))
      return { kind: "error", executor, error: { code: err.code, message: err.message } };
    throw err;
  } finally {
    lease?.release();
    await run?.cleanup();
  }
}
