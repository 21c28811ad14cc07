/**
 * Public surface of the queue module: the JobQueue contract, a loader that
 * opens a backend by driver name, and the retry backoff policy. Drivers are
 * imported on demand, so the embedded default never loads BullMQ or amqplib.
 */
import type { QueueBackend, QueueBackendConfig } from "./contract.js";
import { SILENT_LOGGER, withFields, type QueueLogger } from "./queue-logger.js";
import { configError } from "./service-errors.js";

export type {
  ConsumeOptions,
  Consumer,
  DeadLetter,
  Delivery,
  EnqueueOptions,
  Handler,
  Queue,
  QueueBackend,
  QueueBackendConfig,
  QueueDriverName,
} from "./contract.js";
export type { QueueLogger } from "./queue-logger.js";
export { backoffDelay, canRetry, type BackoffOptions, type RetryPolicy } from "./retry-policy.js";

export interface OpenQueueOptions {
  /**
   * A pino logger fits; pass `logger.child({ component: "queue" })`. Lines add
   * `driver` and `queue`; the drivers log lease recovery, lost locks,
   * connection trouble and failed settles.
   */
  logger?: QueueLogger;
  /** Tuning of the embedded driver, not part of the config file. */
  sqlite?: {
    /** A delivery whose consumer stops heartbeating for this long is redelivered (ms, default 30 000). */
    leaseMs?: number;
    /** Longest wait between polls of an idle queue (ms, default 50). */
    pollMs?: number;
  };
  /** Tuning of the amqp driver, not part of the config file. */
  amqp?: {
    /**
     * How long enqueue and admin calls wait for a lost RabbitMQ connection to
     * come back before failing with E_SERVICE_UNAVAILABLE (retryable)
     * (ms, default 30 000). Consumers wait as long as it takes.
     */
    reconnectWaitMs?: number;
  };
}

/**
 * Opens a queue backend. Throws GamedockError E_CONFIG for a bad config and
 * E_SERVICE_UNAVAILABLE when Redis or RabbitMQ does not answer. An amqp
 * backend reconnects on its own after its connection is lost.
 */
export async function openQueueBackend(
  config: QueueBackendConfig,
  options: OpenQueueOptions = {},
): Promise<QueueBackend> {
  // component comes from the caller's child logger: pino would repeat a key
  // set both there and here.
  const log = withFields(options.logger ?? SILENT_LOGGER, { driver: config.driver });
  switch (config.driver) {
    case "sqlite": {
      const { openSqliteBackend } = await import("./sqlite/backend.js");
      return openSqliteBackend({ path: config.path, log, ...options.sqlite });
    }
    case "redis": {
      const { openRedisBackend } = await import("./redis/backend.js");
      return openRedisBackend(config, log);
    }
    case "amqp": {
      const { openAmqpBackend } = await import("./amqp/backend.js");
      return openAmqpBackend(config, log, options.amqp);
    }
    default: {
      const driver = (config as { driver?: unknown }).driver;
      throw configError(
        `unknown queue driver ${JSON.stringify(driver)}: use "sqlite", "redis" or "amqp"`,
      );
    }
  }
}
