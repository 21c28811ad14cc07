/**
 * GET /api/v1/tasks/:id/events: a task's progress as server-sent events —
 * `task` (the task as GET returns it) whenever it changed, `end` once it is
 * finished. One poll per task every `pollMs`, shared by all its subscribers;
 * subscribers that do not read are dropped (core's SseSink), and open streams
 * are capped.
 */
import type { FastifyReply } from "fastify";
import { GamedockError, SseSink, writeSseHead, type SseSubscriber } from "../core/index.js";
import { FINAL_STATUSES, type TaskStatus } from "./model.js";
import type { ClusterService } from "./service.js";
import { taskView } from "./views.js";

export interface StreamSettings {
  maxSubscribers: number;
  pollMs: number;
  maxBufferedBytes: number;
}

const frame = (name: string, data: unknown): string =>
  `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

class TaskWatch {
  readonly subscribers = new Set<SseSubscriber>();
  #last = -1;
  #frame = "";
  #timer: NodeJS.Timeout | null = null;
  #ended = false;

  constructor(
    private readonly service: ClusterService,
    readonly taskId: string,
    private readonly pollMs: number,
    private readonly onStop: () => void,
  ) {}

  get ended(): boolean {
    return this.#ended;
  }

  async poll(): Promise<boolean> {
    const row = await this.service.tasks.get(this.taskId);
    if (!row) return false;
    if (row.updated_at !== this.#last) {
      this.#last = row.updated_at;
      this.#frame = frame("task", taskView(row));
      for (const s of this.subscribers) s.write(this.#frame);
    }
    if ((FINAL_STATUSES as readonly TaskStatus[]).includes(row.status)) {
      this.#ended = true;
      const end = frame("end", { id: row.id, status: row.status });
      for (const s of [...this.subscribers]) {
        s.write(end);
        s.end();
      }
      this.stop();
    }
    return true;
  }

  add(subscriber: SseSubscriber): void {
    this.subscribers.add(subscriber);
    subscriber.write(this.#frame);
    if (this.#ended) {
      subscriber.write(frame("end", { id: this.taskId }));
      subscriber.end();
      return;
    }
    this.#schedule();
  }

  remove(subscriber: SseSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.onStop();
  }

  #schedule(): void {
    if (this.#timer || this.#ended) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.poll()
        .catch(() => undefined)
        .finally(() => {
          if (this.subscribers.size > 0) this.#schedule();
        });
    }, this.pollMs);
    this.#timer.unref();
  }
}

export class TaskStreams {
  readonly #watches = new Map<string, TaskWatch>();
  #open = 0;

  constructor(
    private readonly service: ClusterService,
    private readonly settings: StreamSettings,
  ) {}

  async serve(taskId: string, reply: FastifyReply): Promise<void> {
    if (this.#open >= this.settings.maxSubscribers) {
      throw new GamedockError(
        "E_SUBSCRIBERS_LIMIT",
        `this server already streams events to ${this.settings.maxSubscribers} clients; poll GET /api/v1/tasks/${taskId} or retry later`,
        {
          limit: this.settings.maxSubscribers,
        },
      );
    }
    let watch = this.#watches.get(taskId);
    if (!watch) {
      const created: TaskWatch = new TaskWatch(this.service, taskId, this.settings.pollMs, () => {
        if (this.#watches.get(taskId) === created) this.#watches.delete(taskId);
      });
      if (!(await created.poll())) {
        throw new GamedockError("E_TASK_NOT_FOUND", `no task with id ${JSON.stringify(taskId)}`, {
          id: taskId,
        });
      }
      // A finished task needs no watch kept: this one answers and ends.
      if (!created.ended) this.#watches.set(taskId, created);
      watch = created;
    }
    reply.hijack();
    const res = reply.raw;
    writeSseHead(res);
    this.#open++;
    const current = watch;
    const sink = new SseSink(
      res,
      this.settings.maxBufferedBytes,
      Math.max(5000, this.settings.pollMs * 10),
      () => {
        this.#open--;
        current.remove(sink);
      },
    );
    current.add(sink);
  }
}
