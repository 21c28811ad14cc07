/**
 * An executor: registers with the server (tools with the sha256 of each
 * binary, pool, slots, cache), heartbeats, takes task messages from the queue
 * of each (pool, tool) it offers — at most `slots` running at once — claims
 * each task on the server (one claim wins), runs it, reports how it ended,
 * then acknowledges the message. The server's answer to a heartbeat names the
 * tasks to stop (cancelled, or given to another executor). On stop it takes
 * no more work, gives back what it runs, and deregisters.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { hostname } from "node:os";
import { asError, isGamedockError, type Logger } from "../../core/index.js";
import type { Consumer, Delivery, QueueBackend } from "../../queue/index.js";
import { taskQueueName, type TaskMessage } from "../model.js";
import type { Registration } from "../reports.js";
import type { StagingCache } from "../staging/contract.js";
import { reapAbandonedRuns } from "../runner/index.js";
import { ServerApi } from "./api-client.js";
import { runTask, type AbortReason, type RunContext } from "./run-task.js";
import { Slots } from "./slots.js";

export interface ExecutorOptions {
  id: string;
  server: string;
  token: string | null;
  pool: string;
  slots: number;
  tools: Readonly<Record<string, string>>;
  labels?: Record<string, string>;
  queue: QueueBackend;
  cache: StagingCache;
  workDir: string;
  baseEnv: Readonly<Record<string, string>>;
  limits: RunContext["limits"];
  retentionSeconds: number;
  /** `serve`'s key for its in-process executor (it may consume a non-Redis queue). */
  localKey?: string;
  logger: Logger;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export class Executor {
  readonly api: ServerApi;
  readonly #slots: Slots;
  readonly #running = new Map<string, AbortController>();
  readonly #consumers: Consumer[] = [];
  #heartbeat: NodeJS.Timeout | null = null;
  #stopping = false;
  #registration: Registration | null = null;

  constructor(readonly options: ExecutorOptions) {
    this.api = new ServerApi(options.server, options.token);
    this.#slots = new Slots(options.slots);
  }

  get runningTasks(): string[] {
    return [...this.#running.keys()];
  }

  async start(): Promise<void> {
    const { options } = this;
    // Tools a killed predecessor left running on this work directory are stopped first.
    const reaped = await reapAbandonedRuns(options.workDir);
    if (reaped > 0) {
      options.logger.warn(
        { event: "abandoned-runs", reaped },
        "stopped the runs of a killed executor",
      );
    }
    const tools: Record<string, string> = {};
    for (const [name, path] of Object.entries(options.tools)) tools[name] = await sha256Of(path);
    this.#registration = {
      id: options.id,
      host: hostname(),
      pool: options.pool,
      tools,
      labels: options.labels ?? {},
      slots: options.slots,
      cache: { bytes: options.cache.stats().bytes, max: options.cache.stats().maxBytes },
      ...(options.localKey ? { localKey: options.localKey } : {}),
    };
    const { heartbeatMs } = await this.api.register(this.#registration);
    this.#heartbeat = setInterval(() => {
      void this.#beat();
    }, heartbeatMs);
    this.#heartbeat.unref();
    for (const tool of Object.keys(options.tools)) {
      const queue = options.queue.open<TaskMessage>(taskQueueName(options.pool, tool));
      this.#consumers.push(
        queue.consume((delivery) => this.#handle(delivery), { concurrency: options.slots }),
      );
    }
    options.logger.info(
      {
        event: "executor-started",
        executor: options.id,
        pool: options.pool,
        tools: Object.keys(tools),
      },
      "executor started",
    );
  }

  async #beat(): Promise<void> {
    const { options } = this;
    try {
      const { cancel } = await this.api.heartbeat(options.id, {
        busy: this.#slots.busy,
        cacheBytes: options.cache.stats().bytes,
        running: this.runningTasks,
      });
      for (const id of cancel) this.#running.get(id)?.abort("cancel" satisfies AbortReason);
    } catch (err) {
      if (
        isGamedockError(err) &&
        err.code === "E_EXECUTOR_NOT_FOUND" &&
        this.#registration &&
        !this.#stopping
      ) {
        // Declared lost (a long pause): its tasks went elsewhere; stop them and join again.
        for (const controller of this.#running.values())
          controller.abort("cancel" satisfies AbortReason);
        await this.api.register(this.#registration).catch(() => undefined);
        return;
      }
      options.logger.warn(
        { event: "heartbeat-failed", err: asError(err).message },
        "heartbeat failed",
      );
    }
  }

  async #handle(delivery: Delivery<TaskMessage>): Promise<void> {
    const { options } = this;
    await this.#slots.take();
    try {
      if (this.#stopping) {
        await delivery.retry({ delayMs: 0 }); // not ours to start any more
        return;
      }
      const spec = await this.api.claim(delivery.payload.taskId, options.id);
      if (!spec) {
        await delivery.ack(); // finished, cancelled or taken: nothing to do
        return;
      }
      const controller = new AbortController();
      this.#running.set(spec.id, controller);
      const log = options.logger.child({ taskId: spec.id, attempt: spec.attempt });
      try {
        const context: RunContext = { ...options, api: this.api, executorId: options.id };
        const completion = await runTask(context, spec, controller.signal);
        await this.api.complete(spec.id, completion).catch((err: unknown) => {
          // E_TASK_STATE: the server gave it to someone else meanwhile; nothing to keep.
          if (!isGamedockError(err) || err.code !== "E_TASK_STATE") throw err;
        });
        log.info(
          {
            event: "task-run",
            kind: completion.kind,
            code: completion.kind === "error" ? completion.error.code : undefined,
          },
          "task run reported",
        );
      } finally {
        this.#running.delete(spec.id);
      }
      await delivery.ack();
    } catch (err) {
      // The server did not answer: the message comes back and the claim sorts it out.
      options.logger.warn(
        { event: "task-handling-failed", err: asError(err).message },
        "task handling failed; retrying the message",
      );
      await delivery.retry({ delayMs: 1000 });
    } finally {
      this.#slots.give();
    }
  }

  /** Takes no more work, gives back what runs, and deregisters. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const controller of this.#running.values())
      controller.abort("shutdown" satisfies AbortReason);
    await Promise.all(this.#consumers.map((c) => c.close()));
    await this.api.deregister(this.options.id).catch(() => undefined);
    await this.options.cache.close();
  }
}
