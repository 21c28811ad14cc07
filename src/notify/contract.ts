/**
 * Notifications: events about pack jobs, delivered to sinks (webhook, redis
 * list, chat robot). Delivery is at least once; every event carries `id`, an
 * idempotency key that a repeat of the same event keeps, so receivers dedupe.
 */

export type NotifyLevel = "none" | "failure" | "summary" | "each";

export interface ChannelOutput {
  key: string;
  size: number;
  sha256: string;
  url: string | null;
}

export type NotifyEvent =
  | {
      id: string; // idempotency key, e.g. "<jobId>:<channel>:done"
      type: "channel.done";
      jobId: string;
      apk: string;
      channel: string;
      output: ChannelOutput;
      at: string; // ISO time
    }
  | {
      id: string;
      type: "channel.failed";
      jobId: string;
      apk: string;
      channel: string;
      error: { code: string; message: string };
      attempts: number;
      at: string;
    }
  | {
      id: string; // "<jobId>:finished"
      type: "job.finished";
      jobId: string;
      apk: string;
      status: "done" | "partial" | "failed" | "cancelled";
      counts: { done: number; failed: number; cancelled: number; total: number };
      failed: { channel: string; code: string; message: string }[];
      at: string;
    }
  | {
      id: string; // "<taskId>:finished:<run>"
      type: "task.finished";
      taskId: string;
      tool: string;
      pool: string;
      status: "done" | "failed" | "timed_out" | "cancelled";
      error: { code: string; message: string } | null;
      exitCode: number | null;
      outputs: { path: string; sha256: string; size: number; url: string }[];
      at: string;
    };

/** Events about pack jobs (they carry the job and its mother). */
export type PackEvent = Exclude<NotifyEvent, { type: "task.finished" }>;

/**
 * A sink sends one event. It retries quick transient failures itself (a few
 * attempts with backoff, each within the timeout) and then throws a
 * GamedockError: E_NOTIFY_PERMANENT when a retry cannot help (4xx other than
 * 408/429, a rejected robot payload), E_NOTIFY_FAILED otherwise — the caller
 * retries those later through the queue.
 */
export interface Sink {
  readonly name: string;
  send(event: NotifyEvent): Promise<void>;
  close(): Promise<void>;
}

/** Sink options as they appear in config (`notifiers.<name>`). */
export type SinkConfig =
  | {
      type: "webhook";
      url: string;
      /** HMAC-SHA256 key for the X-Gamedock-Signature header; "" sends no signature. */
      secret: string;
      timeoutMs: number; // per attempt
      retries: number; // extra attempts inside one send()
      backoffMs: number; // first retry delay, doubled each time
    }
  | {
      type: "redis";
      url: string; // redis://host:port/db
      list: string; // LPUSH target, e.g. "gamedock:events"
    }
  | {
      type: "robot";
      kind: "dingtalk" | "wecom" | "feishu";
      url: string; // the robot's webhook URL
      /** DingTalk / Feishu signing secret ("" when the robot has none). */
      secret: string;
      timeoutMs: number;
      retries: number;
      backoffMs: number;
    };
