/**
 * The Redis driver, on BullMQ. One BullMQ queue per gamedock queue, keys under
 * config.prefix. Deliveries are settled by hand from inside the processor
 * (moveToCompleted / moveToDelayed / moveToFailed with the worker's lock
 * token), so `await delivery.ack()` resolves once Redis has recorded it; the
 * processor then throws DelayedError, BullMQ's signal that the job was moved
 * by hand. Crash redelivery is BullMQ's stalled-job check, driven by lockMs.
 */
import { randomUUID } from "node:crypto";
import { DelayedError, Queue as BullQueue, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import { GamedockError, asError } from "../../core/index.js";
import type {
  Consumer,
  ConsumeOptions,
  DeadLetter,
  EnqueueOptions,
  Handler,
  Queue,
  QueueBackend,
  QueueBackendConfig,
} from "../contract.js";
import { runHandler, trackDelivery } from "../delivery.js";
import {
  checkConcurrency,
  checkEnqueueOptions,
  checkQueueName,
  encodePayload,
} from "../options.js";
import type { QueueLogger } from "../queue-logger.js";
import { configError, redactUrl, serviceUnavailable, withTimeout } from "../service-errors.js";

type RedisConfig = Extract<QueueBackendConfig, { driver: "redis" }>;

/** What a BullMQ job carries: the payload and the attempt the contract counts. */
interface Envelope {
  payload: unknown;
  attempt: number;
}

/**
 * Every job is prioritized, front ones higher. BullMQ runs jobs without a
 * priority (and `lifo` ones) before all prioritized jobs, so mixing the two
 * would break the order; with priorities, front and normal jobs are each FIFO.
 */
const FRONT_PRIORITY = 1;
const NORMAL_PRIORITY = 2;
/** A job that crashes its worker this many times in a row is failed by BullMQ. */
const MAX_STALLED_COUNT = 1000;
const CONNECT_TIMEOUT_MS = 5000;

const JOB_OPTIONS = { attempts: 1, removeOnComplete: true, removeOnFail: false } as const;

function checkConfig(config: RedisConfig): void {
  if (!/^rediss?:\/\//.test(config.url)) {
    throw configError(
      `redis queue url must start with redis:// or rediss://, got ${redactUrl(config.url)}`,
    );
  }
  if (!config.prefix || /\s/.test(config.prefix)) {
    throw configError(
      `redis queue prefix must be non-empty without spaces, got "${config.prefix}"`,
    );
  }
  if (!Number.isInteger(config.lockMs) || config.lockMs < 100) {
    throw configError(
      `redis queue lockMs must be a whole number of ms ≥ 100, got ${config.lockMs}`,
    );
  }
}

class RedisQueue<T> implements Queue<T> {
  constructor(
    readonly name: string,
    private readonly bull: BullQueue<Envelope>,
    private readonly backend: RedisBackend,
  ) {}

  async enqueue(payload: T, options?: EnqueueOptions): Promise<void> {
    const checked = checkEnqueueOptions(options);
    encodePayload(this.name, payload); // the same refusal as the other drivers
    await this.backend.call(() =>
      this.bull.add(
        "message",
        { payload, attempt: checked.attempt },
        {
          ...JOB_OPTIONS,
          // BullMQ's own ids count from 1 again after a purge; a UUID never repeats.
          jobId: randomUUID(),
          priority: checked.front ? FRONT_PRIORITY : NORMAL_PRIORITY,
          ...(checked.delayMs > 0 ? { delay: checked.delayMs } : {}),
        },
      ),
    );
  }

  consume(handler: Handler<T>, options: ConsumeOptions): Consumer {
    return this.backend.consume(this.name, handler, checkConcurrency(options));
  }

  async pendingCount(): Promise<number> {
    const counts = await this.backend.call(() =>
      this.bull.getJobCounts("waiting", "prioritized", "delayed", "active"),
    );
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  async deadLetters(): Promise<DeadLetter<T>[]> {
    const jobs = await this.backend.call(() => this.bull.getFailed(0, -1));
    return jobs
      .sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0))
      .map((job) => ({
        id: job.id ?? "",
        payload: job.data.payload as T,
        attempt: job.data.attempt,
        reason: job.failedReason,
      }));
  }

  async purge(): Promise<void> {
    // force: also while a job is active; its worker's later settle just fails.
    await this.backend.call(() => this.bull.obliterate({ force: true }));
  }
}

/** A health check waits this long for Redis to answer PING. */
const HEALTH_TIMEOUT_MS = 2000;

export class RedisBackend implements QueueBackend {
  readonly driver = "redis" as const;
  private readonly queues = new Map<string, BullQueue<Envelope>>();
  private readonly workers = new Set<Worker<Envelope>>();
  private closed = false;

  constructor(
    private readonly config: RedisConfig,
    /** Producer and admin commands; shared by every BullMQ Queue of this backend. */
    private readonly connection: Redis,
    /** Template that each Worker duplicates for its own (blocking) connections. */
    private readonly workerTemplate: Redis,
    private readonly log: QueueLogger,
  ) {}

  /** Runs a Redis command; ioredis giving up on an unreachable server is E_SERVICE_UNAVAILABLE. */
  async call<R>(run: () => Promise<R>): Promise<R> {
    try {
      return await run();
    } catch (err) {
      if (asError(err).name === "MaxRetriesPerRequestError") {
        throw serviceUnavailable("Redis", this.config.url, err);
      }
      throw err;
    }
  }

  async health(): Promise<string> {
    if (this.closed) throw new GamedockError("E_INTERNAL", "the redis queue backend is closed");
    try {
      await withTimeout(this.connection.ping(), HEALTH_TIMEOUT_MS, "PING");
    } catch (err) {
      throw serviceUnavailable("Redis", this.config.url, err);
    }
    return "redis";
  }

  open<T>(name: string): Queue<T> {
    return new RedisQueue<T>(checkQueueName(name), this.bullQueue(name), this);
  }

  private bullQueue(name: string): BullQueue<Envelope> {
    let bull = this.queues.get(name);
    if (!bull) {
      bull = new BullQueue<Envelope>(name, {
        connection: this.connection,
        prefix: this.config.prefix,
      });
      bull.on("error", (err) => {
        this.log.warn({ queue: name, err: err.message }, "redis queue error");
      });
      this.queues.set(name, bull);
    }
    return bull;
  }

  consume<T>(queue: string, handler: Handler<T>, concurrency: number): Consumer {
    const log = this.log;
    // Jobs settled by hand whose handler still runs: BullMQ may fail to renew
    // their (already released) lock meanwhile, which is expected, not a fault.
    const settled = new Set<string>();
    const processor = async (job: Job<Envelope>, token?: string): Promise<void> => {
      const id = job.id ?? "";
      const lockToken = token ?? "";
      const { payload, attempt } = job.data;
      const tracked = trackDelivery(
        { queue, id, payload: payload as T, attempt },
        {
          ack: async () => {
            settled.add(id);
            await job.moveToCompleted(null, lockToken, false);
          },
          retry: async (delayMs) => {
            settled.add(id);
            await job.updateData({ payload, attempt: attempt + 1 });
            await job.moveToDelayed(Date.now() + delayMs, lockToken);
          },
          deadLetter: async (reason) => {
            settled.add(id);
            await job.moveToFailed(new UnrecoverableError(reason), lockToken, false);
          },
        },
      );
      try {
        await runHandler(handler, tracked, log, { queue, id, attempt });
      } finally {
        settled.delete(id);
      }
      // Settled by hand (or left for the stalled check when settling failed):
      // the worker must not complete or fail the job itself.
      throw new DelayedError();
    };
    const worker = new Worker<Envelope>(queue, processor, {
      connection: this.workerTemplate,
      prefix: this.config.prefix,
      concurrency,
      lockDuration: this.config.lockMs,
      stalledInterval: Math.max(250, Math.round(this.config.lockMs / 2)),
      maxStalledCount: MAX_STALLED_COUNT,
    });
    worker.on("error", (err) => {
      const lockOf = /could not renew lock for job (\S+)/.exec(err.message)?.[1];
      if (lockOf !== undefined && settled.has(lockOf)) return;
      log.warn({ queue, err: err.message }, "redis worker error");
    });
    this.workers.add(worker);
    return {
      close: async () => {
        await worker.close();
        this.workers.delete(worker);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // force: handlers in flight are abandoned; their jobs' locks expire and the
    // stalled check hands them to another worker.
    await Promise.all([...this.workers].map((worker) => worker.close(true)));
    this.workers.clear();
    await Promise.all([...this.queues.values()].map((bull) => bull.close()));
    this.queues.clear();
    await this.connection.quit().catch(() => undefined);
    this.workerTemplate.disconnect();
  }
}

export async function openRedisBackend(
  config: RedisConfig,
  log: QueueLogger,
): Promise<QueueBackend> {
  checkConfig(config);
  const base: RedisOptions = { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS };
  const connection = new Redis(config.url, { ...base, maxRetriesPerRequest: 3 });
  let lastError: Error | undefined;
  connection.on("error", (err: Error) => {
    lastError = err;
    log.warn({ url: redactUrl(config.url), err: err.message }, "redis connection error");
  });
  try {
    await withTimeout(connection.connect(), CONNECT_TIMEOUT_MS * 2, "connecting");
    await connection.ping();
  } catch (err) {
    connection.disconnect();
    throw serviceUnavailable("Redis", config.url, lastError ?? asError(err));
  }
  // BullMQ requires maxRetriesPerRequest: null for the connections it blocks on.
  const workerTemplate = new Redis(config.url, { ...base, maxRetriesPerRequest: null });
  return new RedisBackend(config, connection, workerTemplate, log);
}
