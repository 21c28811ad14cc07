/**
 * The JobQueue contract, in gamedock's terms. Every driver (sqlite, redis,
 * amqp) keeps these promises; test/queue/conformance.ts checks them, and no
 * more, against all three with real servers.
 *
 * - Durable: a message that `enqueue` resolved for survives a crash of any
 *   process (the embedded driver commits it to SQLite; redis and amqp persist it).
 * - At least once: a delivery that is neither acked, retried nor dead-lettered
 *   (its consumer process died, or the amqp connection it came on was lost) is
 *   delivered again: the same message — same id, same payload. Handlers are
 *   idempotent, and may see a message again even after settling it when the
 *   settlement could not reach the server (see Delivery.ack).
 * - Who counts attempts: `attempt` counts `retry()` calls, plus the `attempt`
 *   given at enqueue. It is not guaranteed to grow when a message is delivered
 *   again after a crash: brokers cannot all count deliveries (RabbitMQ classic
 *   queues do not), so a redelivery carries an attempt no lower than before,
 *   and a driver may leave it unchanged. A caller that needs a limit across
 *   crashes counts in its own durable store (the packer counts a channel's
 *   attempts in its task rows), or a poison message that kills its worker
 *   every time would be tried forever.
 * - Concurrency: one consumer never runs more than `concurrency` handlers at once.
 * - Front: `enqueue(..., { front: true })` is delivered before every message
 *   waiting without `front` (recovered work runs ahead of new work).
 * - Retry: `delivery.retry({ delayMs })` delivers the same payload again, no
 *   sooner than `delayMs` later, with `attempt` one higher. Backoff policy is the
 *   caller's (see retry-policy.ts); the queue only keeps the delay.
 * - Dead letter: `delivery.deadLetter(reason)` removes the message from delivery
 *   and keeps it, with the reason, in `deadLetters()`.
 * - A lost server: the redis and amqp drivers reconnect on their own and their
 *   consumers resume. An `enqueue` while the server is unreachable fails, after
 *   waiting for it up to a bound, with a retryable E_SERVICE_UNAVAILABLE.
 */

export interface EnqueueOptions {
  /** Deliver ahead of every message waiting without `front`. */
  front?: boolean;
  /** Do not deliver before this many milliseconds from now. */
  delayMs?: number;
  /**
   * Attempt number the first delivery reports (default 1). A caller that
   * moves a message to another queue to retry it passes its count on here.
   */
  attempt?: number;
}

export interface Delivery<T> {
  /** Driver-assigned id, stable across redeliveries of the same message. */
  readonly id: string;
  readonly payload: T;
  /**
   * The `attempt` given at enqueue (default 1), +1 for every retry(). Not a
   * delivery count: a redelivery after a crash carries an attempt no lower than
   * before, possibly the same. Count across crashes in your own store.
   */
  readonly attempt: number;
  /**
   * Done with the message: it is not delivered again. If the server can no
   * longer take the ack (the delivery's lease or amqp channel was lost), the
   * message has been or will be delivered again and the ack changes nothing;
   * the sqlite and amqp drivers then resolve with a warning in the log.
   */
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
  /**
   * Asks the backend's server (Redis, RabbitMQ) or file (SQLite) for a sign of
   * life, for health checks (the dashboard's overview); answers the driver's
   * name, throws why not (E_SERVICE_UNAVAILABLE, or closed).
   */
  health(): Promise<string>;
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
