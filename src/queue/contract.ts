/**
 * The JobQueue contract, in gamedock's terms. Every driver (sqlite, redis,
 * amqp) keeps these promises; test/queue/conformance.ts checks them against
 * all three with real servers.
 *
 * - Durable: a message that `enqueue` resolved for survives a crash of any
 *   process (the embedded driver commits it to SQLite; redis and amqp persist it).
 * - At least once: a delivery that is neither acked, retried nor dead-lettered
 *   (its consumer process died) is delivered again. Handlers are idempotent.
 * - Concurrency: one consumer never runs more than `concurrency` handlers at once.
 * - Front: `enqueue(..., { front: true })` is delivered before every message
 *   waiting without `front` (recovered work runs ahead of new work).
 * - Retry: `delivery.retry({ delayMs })` delivers the same payload again, no
 *   sooner than `delayMs` later, with `attempt` one higher. Backoff policy is the
 *   caller's (see retry-policy.ts); the queue only keeps the delay.
 * - Dead letter: `delivery.deadLetter(reason)` removes the message from delivery
 *   and keeps it, with the reason, in `deadLetters()`.
 */

export interface EnqueueOptions {
  /** Deliver ahead of every message waiting without `front`. */
  front?: boolean;
  /** Do not deliver before this many milliseconds from now. */
  delayMs?: number;
  /** Attempt number the first delivery reports (default 1). */
  attempt?: number;
}

export interface Delivery<T> {
  /** Driver-assigned id, stable across redeliveries of the same message. */
  readonly id: string;
  readonly payload: T;
  /** 1 on first delivery; +1 for every retry(). Redelivery after a crash keeps it. */
  readonly attempt: number;
  /** Done with the message: it is never delivered again. */
  ack(): Promise<void>;
  /** Deliver again after `delayMs` with attempt + 1. */
  retry(options: { delayMs: number }): Promise<void>;
  /** Stop delivering it; keep it in the dead-letter store with `reason`. */
  deadLetter(reason: string): Promise<void>;
}

/**
 * Handles one delivery and settles it (ack, retry or deadLetter). If the
 * handler throws without settling, the driver dead-letters the message with the
 * error's message, so a poison message cannot loop forever and is never lost.
 */
export type Handler<T> = (delivery: Delivery<T>) => Promise<void>;

export interface ConsumeOptions {
  /** Most handlers running at once in this consumer (≥ 1). */
  concurrency: number;
}

export interface Consumer {
  /** Stops taking new messages and waits for the handlers in flight to settle. */
  close(): Promise<void>;
}

export interface DeadLetter<T> {
  id: string;
  payload: T;
  attempt: number;
  reason: string;
}

export interface Queue<T> {
  readonly name: string;
  enqueue(payload: T, options?: EnqueueOptions): Promise<void>;
  consume(handler: Handler<T>, options: ConsumeOptions): Consumer;
  /** Messages not yet settled: waiting, delayed or being handled. */
  pendingCount(): Promise<number>;
  deadLetters(): Promise<DeadLetter<T>[]>;
  /** Removes every message and dead letter of this queue (tests, `reset` tools). */
  purge(): Promise<void>;
}

/** One connection to a queue backend; queues are opened by name on it. */
export interface QueueBackend {
  readonly driver: QueueDriverName;
  open<T>(name: string): Queue<T>;
  /** Closes consumers' connections; handlers in flight are not waited for (close consumers first). */
  close(): Promise<void>;
}

export type QueueDriverName = "sqlite" | "redis" | "amqp";

/** Driver options as they appear in config (`queues.<name>`). */
export type QueueBackendConfig =
  | { driver: "sqlite"; /** SQLite file; default <data>/queue.db */ path: string }
  | {
      driver: "redis";
      url: string; // redis://host:port/db
      prefix: string; // BullMQ key prefix
      /** A delivery whose consumer stops renewing its lock for this long is redelivered (ms). */
      lockMs: number;
    }
  | { driver: "amqp"; url: string; /** queue-name prefix */ prefix: string };
