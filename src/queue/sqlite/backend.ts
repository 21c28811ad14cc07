/**
 * The embedded queue driver: durable messages in one SQLite file, shared by
 * every process on the machine that opens it. See store.ts for the
 * table and consumer.ts for leasing, heartbeats and crash recovery.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { resolve } from "node:path";
import { GamedockError } from "../../core/index.js";
import type {
  Consumer,
  ConsumeOptions,
  DeadLetter,
  EnqueueOptions,
  Handler,
  Queue,
  QueueBackend,
} from "../contract.js";
import {
  asPromise,
  checkConcurrency,
  checkEnqueueOptions,
  checkQueueName,
  encodePayload,
} from "../options.js";
import type { QueueLogger } from "../queue-logger.js";
import { configError } from "../service-errors.js";
import { SqliteConsumer, type SqliteTiming } from "./consumer.js";
import { SqliteQueueStore } from "./store.js";

export interface SqliteOptions {
  path: string;
  log: QueueLogger;
  leaseMs?: number;
  pollMs?: number;
}

export const SQLITE_DEFAULTS: SqliteTiming = {
  leaseMs: 30_000, // a consumer that stops heartbeating for this long loses its messages, ms
  pollMs: 50, // longest wait between polls of an idle queue, ms
};

/**
 * Same-process enqueues wake consumers at once instead of at their next poll.
 * Keyed by database file, so two backends on one file still hear each other.
 */
const enqueueSignals = new Map<string, EventEmitter>();

function signalFor(path: string): EventEmitter {
  let signal = enqueueSignals.get(path);
  if (!signal) {
    signal = new EventEmitter();
    signal.setMaxListeners(0); // one listener per consumer; many are normal
    enqueueSignals.set(path, signal);
  }
  return signal;
}

function closedError(path: string): GamedockError {
  return new GamedockError("E_INTERNAL", `queue backend on ${path} is closed`);
}

function positiveMs(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw configError(`sqlite queue ${what} must be a whole number of ms ≥ 1, got ${value}`);
  }
  return value;
}

class SqliteQueue<T> implements Queue<T> {
  constructor(
    readonly name: string,
    private readonly backend: SqliteBackend,
  ) {}

  enqueue(payload: T, options?: EnqueueOptions): Promise<void> {
    return asPromise(() => {
      const checked = checkEnqueueOptions(options);
      this.backend.openStore().insert({
        id: randomUUID(),
        queue: this.name,
        payload: encodePayload(this.name, payload),
        attempt: checked.attempt,
        front: checked.front,
        availableAt: Date.now() + checked.delayMs,
      });
      this.backend.signal.emit(this.name);
    });
  }

  consume(handler: Handler<T>, options: ConsumeOptions): Consumer {
    return this.backend.consume(this.name, handler, checkConcurrency(options));
  }

  pendingCount(): Promise<number> {
    return asPromise(() => this.backend.openStore().pendingCount(this.name));
  }

  deadLetters(): Promise<DeadLetter<T>[]> {
    return asPromise(() =>
      this.backend
        .openStore()
        .deadLetters(this.name)
        .map((row) => ({
          id: row.id,
          payload: JSON.parse(row.payload) as T,
          attempt: row.attempt,
          reason: row.dead_reason,
        })),
    );
  }

  purge(): Promise<void> {
    return asPromise(() => {
      this.backend.openStore().purge(this.name);
    });
  }
}

export class SqliteBackend implements QueueBackend {
  readonly driver = "sqlite" as const;
  readonly store: SqliteQueueStore;
  readonly signal: EventEmitter;
  private readonly consumers = new Set<SqliteConsumer<unknown>>();
  private readonly timing: SqliteTiming;
  private closed = false;

  constructor(private readonly options: SqliteOptions) {
    if (!options.path) throw configError("sqlite queue path is empty: set queues.<name>.path");
    this.timing = {
      leaseMs: positiveMs(options.leaseMs, SQLITE_DEFAULTS.leaseMs, "leaseMs"),
      pollMs: positiveMs(options.pollMs, SQLITE_DEFAULTS.pollMs, "pollMs"),
    };
    const path = resolve(options.path);
    this.store = new SqliteQueueStore(path);
    this.signal = signalFor(path);
  }

  /** The store, or a clear error once the backend is closed. */
  openStore(): SqliteQueueStore {
    if (this.closed) throw closedError(this.store.path);
    return this.store;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so a throw becomes a rejection
  async health(): Promise<string> {
    this.openStore().ping();
    return "sqlite";
  }

  open<T>(name: string): Queue<T> {
    return new SqliteQueue<T>(checkQueueName(name), this);
  }

  consume<T>(queue: string, handler: Handler<T>, concurrency: number): Consumer {
    if (this.closed) throw closedError(this.store.path);
    const consumer = new SqliteConsumer<T>({
      store: this.store,
      queue,
      handler,
      concurrency,
      timing: this.timing,
      log: this.options.log,
      onEnqueue: (listener) => {
        this.signal.on(queue, listener);
        return () => this.signal.off(queue, listener);
      },
    });
    const tracked = consumer as SqliteConsumer<unknown>;
    this.consumers.add(tracked);
    return {
      close: async () => {
        await consumer.close();
        this.consumers.delete(tracked);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
    this.consumers.clear();
    this.store.close();
  }
}

export function openSqliteBackend(options: SqliteOptions): Promise<QueueBackend> {
  return Promise.resolve(new SqliteBackend(options));
}
