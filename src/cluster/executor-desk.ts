/**
 * The executor side of the cluster's server: registration and heartbeats, and
 * the calls an executor makes about the tasks it runs — claim (one claim per
 * run wins), progress, and the report that ends a run. Every report comes
 * from a client and is checked against what the server holds: a report about
 * a task the executor no longer holds is refused (E_TASK_STATE).
 */
import { GamedockError } from "../core/index.js";
import {
  ACTIVE_STATUSES,
  type TaskResult,
  type TaskSpec,
  type TaskStatus,
  type TaskView,
} from "./model.js";
import type { Completion, Heartbeat, Registration, RunReport } from "./reports.js";
import type { ClusterService } from "./service.js";
import { executorView } from "./views.js";

export class ExecutorDesk {
  constructor(readonly service: ClusterService) {}

  async register(registration: Registration, remoteAllowed: boolean) {
    if (!remoteAllowed && registration.localKey !== this.service.localKey) {
      throw new GamedockError(
        "E_CONFIG",
        `this server dispatches tasks on a ${this.service.queue.driver} queue (cluster.queue), which only its own executor can consume; remote executors need a redis queue shared with them`,
        { field: "cluster.queue" },
      );
    }
    const row = await this.service.executors.register({
      ...registration,
      labels: registration.labels,
    });
    // A registration is a new process (a restart keeps the id: same cache dir).
    // What the id still holds was left by the process before, which will never
    // report it, and a claim of it by the new one would be refused: run it again.
    const left = await this.service.tasks.heldBy(row.id);
    for (const task of left) await this.service.requeueOrFail(task, row.id, false);
    if (left.length > 0) {
      this.service.logger.warn(
        { event: "executor-restarted", executor: row.id, tasks: left.map((t) => t.id) },
        "executor registered again; the tasks its previous process held are given back",
      );
    }
    this.service.logger.info(
      {
        event: "executor-registered",
        executor: row.id,
        host: row.host,
        pool: row.pool,
        tools: Object.keys(registration.tools),
      },
      "executor registered",
    );
    return { executor: executorView(row), heartbeatMs: this.service.settings.heartbeatMs };
  }

  /** Records a heartbeat; answers the tasks the executor must stop (cancelled, or no longer its). */
  async heartbeat(id: string, beat: Heartbeat): Promise<{ cancel: string[] }> {
    if (
      !(await this.service.executors.heartbeat(id, {
        busy: beat.busy,
        cacheBytes: beat.cacheBytes,
      }))
    ) {
      throw new GamedockError(
        "E_EXECUTOR_NOT_FOUND",
        `executor ${id} is not registered (or was declared lost): register again`,
        { id },
      );
    }
    const cancel: string[] = [];
    for (const taskId of beat.running) {
      const task = await this.service.tasks.get(taskId);
      const mine =
        task?.executor_id === id &&
        (ACTIVE_STATUSES as readonly TaskStatus[]).includes(task.status);
      if (!mine || task.cancel_requested === 1) cancel.push(taskId);
    }
    return { cancel };
  }

  async deregister(id: string): Promise<void> {
    if (!(await this.service.executors.deregister(id)))
      throw new GamedockError("E_EXECUTOR_NOT_FOUND", `no executor ${id}`, { id });
    // What it still held goes back to the queue at once.
    for (const task of await this.service.tasks.heldBy(id))
      await this.service.requeueOrFail(task, id, true);
  }

  async claim(taskId: string, executorId: string): Promise<TaskSpec | null> {
    const executor = await this.service.executors.get(executorId);
    if (executor?.state !== "alive") {
      throw new GamedockError(
        "E_EXECUTOR_NOT_FOUND",
        `executor ${executorId} is not registered: register again`,
        { id: executorId },
      );
    }
    const row = await this.service.tasks.claim(
      taskId,
      executorId,
      async (holder) => (await this.service.executors.get(holder))?.state !== "alive",
    );
    if (!row) return null;
    this.service.logger.info(
      { event: "task-claimed", taskId, executor: executorId, attempt: row.attempts },
      "task claimed",
    );
    return {
      id: row.id,
      tool: row.tool,
      args: JSON.parse(row.args) as string[],
      inputs: JSON.parse(row.inputs) as TaskSpec["inputs"],
      outputs: JSON.parse(row.outputs) as string[],
      env: JSON.parse(row.env) as Record<string, string>,
      timeouts: JSON.parse(row.timeouts) as TaskSpec["timeouts"],
      attempt: row.attempts,
    };
  }

  async progress(
    taskId: string,
    executorId: string,
    status: "staging" | "running" | "uploading",
  ): Promise<void> {
    if (!(await this.service.tasks.progress(taskId, executorId, status)))
      throw notYours(taskId, executorId);
  }

  async complete(taskId: string, completion: Completion): Promise<TaskView> {
    const task = await this.service.mustGet(taskId);
    if (
      task.executor_id !== completion.executor ||
      !(ACTIVE_STATUSES as readonly TaskStatus[]).includes(task.status)
    ) {
      throw notYours(taskId, completion.executor);
    }
    if (completion.kind === "handback") {
      await this.service.requeueOrFail(task, completion.executor, true);
      return this.service.get(taskId);
    }
    const result = completion.result ? toResult(completion.result) : null;
    let ended: boolean;
    if (completion.kind === "result" && completion.result.exitCode === 0) {
      ended = await this.service.endTask(taskId, completion.executor, {
        status: "done",
        result: JSON.stringify(result),
      });
      if (ended && task.cache_digest)
        await this.service.results.put(task.cache_digest, taskId, JSON.stringify(result));
    } else {
      const error =
        completion.kind === "error"
          ? completion.error
          : {
              code: "E_EXIT_NONZERO",
              message: `${task.tool} exited with code ${completion.result.exitCode ?? "none"}${completion.result.stderr ? `: ${lastLine(completion.result.stderr)}` : ""}`,
            };
      const status =
        task.cancel_requested === 1 || error.code === "E_CANCELLED"
          ? "cancelled"
          : error.code === "E_TASK_TIMEOUT" || error.code === "E_STAGING_TIMEOUT"
            ? "timed_out"
            : "failed";
      ended = await this.service.endTask(taskId, completion.executor, {
        status,
        result: result === null ? null : JSON.stringify(result),
        error:
          status === "cancelled"
            ? { code: "E_CANCELLED", message: "cancelled while it ran" }
            : error,
      });
    }
    if (!ended) throw notYours(taskId, completion.executor);
    return this.service.get(taskId);
  }

  async listExecutors() {
    return (await this.service.executors.list()).map(executorView);
  }
}

function toResult(report: RunReport): TaskResult {
  return {
    exitCode: report.exitCode,
    stdout: report.stdout,
    stderr: report.stderr,
    outputs: report.outputs.map((o) => ({ ...o, url: `/files/${encodeURIComponent(o.fileId)}` })),
    logs: report.logs,
    ms: report.ms,
  };
}

const lastLine = (text: string): string => text.trimEnd().split("\n").at(-1)?.slice(0, 200) ?? "";

function notYours(taskId: string, executor: string): GamedockError {
  return new GamedockError(
    "E_TASK_STATE",
    `task ${taskId} is not held by executor ${executor} any more (it finished, was cancelled, or went to another executor)`,
    { id: taskId },
  );
}
