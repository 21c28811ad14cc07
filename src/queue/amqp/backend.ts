/**
 * The RabbitMQ driver, on amqplib. The connection and reconnecting after it
 * is lost: connection.ts; queue layout and delays: topology.ts; publishing
 * with confirms: publisher.ts; consuming and resuming: consumer.ts.
 */
import type { Channel } from "amqplib";
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
import { AmqpLink, closedError } from "./connection.js";
import { AmqpConsumer } from "./consumer.js";
import { AmqpPublisher, amqpCode } from "./publisher.js";
import { HEADER_ATTEMPT, HEADER_REASON, WAIT_RUNGS_MS } from "./topology.js";
import {
  checkConcurrency,
  checkEnqueueOptions,
  checkQueueName,
  encodePayload,
} from "../options.js";
import type { QueueLogger } from "../queue-logger.js";
import { configError, redactUrl } from "../service-errors.js";

type AmqpConfig = Extract<QueueBackendConfig, { driver: "amqp" }>;

/** AMQP header strings arrive as strings, or as bytes from some clients. */
function headerText(value: unknown): string {
  if (typeof value === "string") return value;
  return Buffer.isBuffer(value) ? value.toString("utf8") : "";
}

class AmqpQueue<T> implements Queue<T> {
  constructor(
    readonly name: string,
    private readonly backend: AmqpBackend,
  ) {}

  async enqueue(payload: T, options?: EnqueueOptions): Promise<void> {
    const checked = checkEnqueueOptions(options);
    const content = Buffer.from(encodePayload(this.name, payload), "utf8");
    await this.backend.publisher.publish(this.name, { content, ...checked });
  }

  consume(handler: Handler<T>, options: ConsumeOptions): Consumer {
    return this.backend.consume(this.name, handler, checkConcurrency(options));
  }

  /**
   * Ready messages in the main and wait queues, plus deliveries this process
   * is handling: AMQP 0-9-1 does not report other consumers' unacked messages.
   */
  async pendingCount(): Promise<number> {
    const names = await this.backend.publisher.declare(this.name);
    const counts = await Promise.all([
      this.backend.readyCount(names.main),
      ...WAIT_RUNGS_MS.map((rung) => this.backend.readyCount(names.wait(rung))),
    ]);
    return counts.reduce((sum, n) => sum + n, this.backend.handling(this.name));
  }

  /** Reads the dead-letter queue without consuming it: got unacked, then requeued. */
  async deadLetters(): Promise<DeadLetter<T>[]> {
    const names = await this.backend.publisher.declare(this.name);
    return this.backend.withChannel(async (channel) => {
      const letters: DeadLetter<T>[] = [];
      const { messageCount } = await channel.checkQueue(names.dead);
      for (let i = 0; i < messageCount; i++) {
        const message = await channel.get(names.dead, { noAck: false });
        if (message === false) break;
        const properties: { messageId?: unknown; headers?: Record<string, unknown> } =
          message.properties;
        letters.push({
          id: typeof properties.messageId === "string" ? properties.messageId : "",
          payload: JSON.parse(message.content.toString("utf8")) as T,
          attempt: Number(properties.headers?.[HEADER_ATTEMPT] ?? 1),
          reason: headerText(properties.headers?.[HEADER_REASON]),
        });
      }
      // Closing the channel (withChannel) requeues everything we got.
      return letters;
    });
  }

  async purge(): Promise<void> {
    const names = await this.backend.publisher.declare(this.name);
    await this.backend.withChannel(async (channel) => {
      await channel.purgeQueue(names.main);
      await channel.purgeQueue(names.dead);
      // Deleting a queue that does not exist is not an error in RabbitMQ.
      for (const rung of WAIT_RUNGS_MS) await channel.deleteQueue(names.wait(rung));
    });
  }
}

export interface AmqpTuning {
  /** How long enqueue and admin calls wait for a lost connection to come back (ms). */
  reconnectWaitMs: number;
}

export const AMQP_DEFAULTS: AmqpTuning = {
  reconnectWaitMs: 30_000, // then enqueue fails with E_SERVICE_UNAVAILABLE (retryable), ms
};

export class AmqpBackend implements QueueBackend {
  readonly driver = "amqp" as const;
  readonly publisher: AmqpPublisher;
  private readonly consumers = new Set<AmqpConsumer<unknown>>();
  private readonly inFlight = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly link: AmqpLink,
    config: AmqpConfig,
    private readonly log: QueueLogger,
  ) {
    this.publisher = new AmqpPublisher(link, config.prefix, log);
  }

  /** The `connection_name` RabbitMQ lists for this backend's connection. */
  get connectionName(): string {
    return this.link.name;
  }

  health(): Promise<string> {
    if (this.closed) return Promise.reject(closedError());
    // No round trip: the link knows whether its connection is up right now.
    if (!this.link.current()) return Promise.reject(this.link.unavailable());
    return Promise.resolve("amqp");
  }

  open<T>(name: string): Queue<T> {
    return new AmqpQueue<T>(checkQueueName(name), this);
  }

  handling(queue: string): number {
    return this.inFlight.get(queue) ?? 0;
  }

  consume<T>(queue: string, handler: Handler<T>, concurrency: number): Consumer {
    if (this.closed) throw closedError();
    const consumer = new AmqpConsumer<T>({
      link: this.link,
      publisher: this.publisher,
      queue,
      handler,
      concurrency,
      log: this.log,
      inFlight: {
        add: (delta) => {
          this.inFlight.set(queue, this.handling(queue) + delta);
        },
      },
    });
    const tracked = consumer as AmqpConsumer<unknown>;
    this.consumers.add(tracked);
    return {
      close: async () => {
        await consumer.close();
        this.consumers.delete(tracked);
      },
    };
  }

  /**
   * Ready messages in `queue`, 0 if it does not exist. Checking a missing
   * queue costs RabbitMQ's closing the channel, hence a channel per check
   * (cheap, and run in parallel) rather than declaring queues just to count.
   */
  async readyCount(queue: string): Promise<number> {
    const connection = await this.link.ready();
    const channel = await connection.createChannel();
    channel.on("error", () => undefined); // a 404 closes the channel; it is the answer
    try {
      const { messageCount } = await channel.checkQueue(queue);
      await channel.close().catch(() => undefined);
      return messageCount;
    } catch (err) {
      if (amqpCode(err) === 404) return 0;
      await channel.close().catch(() => undefined);
      throw err;
    }
  }

  /** Runs `use` on a short-lived channel; closing it requeues whatever it got. */
  async withChannel<R>(use: (channel: Channel) => Promise<R>): Promise<R> {
    const connection = await this.link.ready();
    const channel = await connection.createChannel();
    channel.on("error", (err: Error) => {
      this.log.warn({ err: err.message }, "amqp channel error");
    });
    try {
      return await use(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) consumer.stop();
    this.consumers.clear();
    // Closing the connection closes every channel and stops reconnecting;
    // RabbitMQ requeues the messages of handlers still in flight.
    await this.link.close();
  }
}

function checkConfig(config: AmqpConfig): void {
  if (!/^amqps?:\/\//.test(config.url)) {
    throw configError(
      `amqp queue url must start with amqp:// or amqps://, got ${redactUrl(config.url)}`,
    );
  }
  if (typeof config.prefix !== "string" || !/^[A-Za-z0-9_.:-]*$/.test(config.prefix)) {
    throw configError(
      `amqp queue prefix may hold only A-Z a-z 0-9 _ . : -, got "${config.prefix}"`,
    );
  }
}

function checkTuning(tuning: Partial<AmqpTuning>): AmqpTuning {
  const waitMs = tuning.reconnectWaitMs ?? AMQP_DEFAULTS.reconnectWaitMs;
  if (!Number.isInteger(waitMs) || waitMs < 0) {
    throw configError(`amqp reconnectWaitMs must be a whole number of ms ≥ 0, got ${waitMs}`);
  }
  return { reconnectWaitMs: waitMs };
}

export async function openAmqpBackend(
  config: AmqpConfig,
  log: QueueLogger,
  tuning: Partial<AmqpTuning> = {},
): Promise<AmqpBackend> {
  checkConfig(config);
  const { reconnectWaitMs } = checkTuning(tuning);
  const link = await AmqpLink.open({
    url: config.url,
    prefix: config.prefix,
    waitMs: reconnectWaitMs,
    log,
  });
  return new AmqpBackend(link, config, log);
}
