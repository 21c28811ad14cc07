/**
 * A consumer of one RabbitMQ queue on its own channel, prefetch = concurrency,
 * so RabbitMQ itself never hands it more unacked messages than handlers may
 * run. If the process dies, RabbitMQ requeues those messages when the
 * connection drops.
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { asError } from "../../core/index.js";
import type { Consumer, Handler } from "../contract.js";
import { runHandler, trackDelivery } from "../delivery.js";
import { HEADER_ATTEMPT, HEADER_DEAD_AT, HEADER_REASON } from "./topology.js";
import type { AmqpPublisher } from "./publisher.js";
import type { QueueLogger } from "../queue-logger.js";

export interface AmqpConsumerDeps<T> {
  connection: ChannelModel;
  publisher: AmqpPublisher;
  queue: string;
  handler: Handler<T>;
  concurrency: number;
  log: QueueLogger;
  /** Counts this process's unsettled deliveries of the queue, for pendingCount(). */
  inFlight: { add(delta: number): void };
}

interface IncomingFields {
  id: string;
  attempt: number;
  priority: number;
}

function fieldsOf(message: ConsumeMessage): IncomingFields {
  const properties: { messageId?: unknown; priority?: unknown; headers?: Record<string, unknown> } =
    message.properties;
  const attempt = Number(properties.headers?.[HEADER_ATTEMPT] ?? 1);
  return {
    id:
      typeof properties.messageId === "string"
        ? properties.messageId
        : `delivery-${message.fields.deliveryTag}`,
    attempt: Number.isInteger(attempt) && attempt >= 1 ? attempt : 1,
    priority: typeof properties.priority === "number" ? properties.priority : 0,
  };
}

export class AmqpConsumer<T> implements Consumer {
  private readonly running = new Set<Promise<void>>();
  /**
   * Messages delivered while every handler slot is busy. Prefetch alone does
   * not bound handlers: an ack frees a prefetch slot while its handler may
   * still be finishing.
   */
  private readonly backlog: { channel: Channel; message: ConsumeMessage }[] = [];
  private active = 0;
  private readonly ready: Promise<{ channel: Channel; tag: string } | undefined>;
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: AmqpConsumerDeps<T>) {
    this.ready = this.start().catch((err: unknown) => {
      deps.log.error(
        { queue: deps.queue, err: asError(err).message },
        "amqp consumer could not start",
      );
      return undefined;
    });
  }

  private async start(): Promise<{ channel: Channel; tag: string }> {
    const { connection, publisher, queue, concurrency, log } = this.deps;
    const names = await publisher.declare(queue);
    const channel = await connection.createChannel();
    channel.on("error", (err: Error) => {
      log.warn({ queue, err: err.message }, "amqp consumer channel error");
    });
    await channel.prefetch(concurrency);
    const { consumerTag } = await channel.consume(
      names.main,
      (message) => {
        if (message === null) {
          log.warn({ queue }, "RabbitMQ cancelled the consumer (queue deleted?)");
          return;
        }
        this.deps.inFlight.add(1);
        if (this.active < concurrency) this.handle(channel, message);
        else this.backlog.push({ channel, message });
      },
      { noAck: false },
    );
    return { channel, tag: consumerTag };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const started = await this.ready;
      if (!started) return;
      try {
        await started.channel.cancel(started.tag);
      } catch {
        // The channel is already gone; its unacked messages were requeued.
      }
      // Messages not yet handed to a handler go back to the queue with the channel.
      this.deps.inFlight.add(-this.backlog.splice(0).length);
      await Promise.all(this.running);
      await started.channel.close().catch(() => undefined);
    })();
    return this.closing;
  }

  /** Runs the handler on one message, then the next waiting one, if any. */
  private handle(channel: Channel, message: ConsumeMessage): void {
    this.active++;
    this.track(
      this.deliver(channel, message).finally(() => {
        this.active--;
        this.deps.inFlight.add(-1);
        const next = this.closing === undefined ? this.backlog.shift() : undefined;
        if (next) this.handle(next.channel, next.message);
      }),
    );
  }

  private deliver(channel: Channel, message: ConsumeMessage): Promise<void> {
    const { publisher, queue, handler, log } = this.deps;
    const { id, attempt, priority } = fieldsOf(message);
    const context = { queue, id, attempt };
    // Retry and dead letter publish a copy (same message id, priority and
    // payload) and ack the original only once RabbitMQ confirmed the copy, so
    // a crash in between duplicates the message rather than losing it.
    const retry = async (delayMs: number): Promise<void> => {
      await publisher.publish(queue, {
        content: message.content,
        messageId: id,
        attempt: attempt + 1,
        front: priority > 0,
        delayMs,
      });
      channel.ack(message);
    };
    const deadLetter = async (reason: string): Promise<void> => {
      const names = await publisher.declare(queue);
      await publisher.send(names.dead, message.content, {
        persistent: true,
        contentType: "application/json",
        messageId: id,
        priority,
        headers: {
          [HEADER_ATTEMPT]: attempt,
          [HEADER_REASON]: reason,
          [HEADER_DEAD_AT]: Date.now(),
        },
      });
      channel.ack(message);
    };

    let payload: T;
    try {
      payload = JSON.parse(message.content.toString("utf8")) as T;
    } catch (err) {
      return deadLetter(`payload is not valid JSON: ${asError(err).message}`).catch(
        (e: unknown) => {
          log.error({ ...context, err: asError(e).message }, "dead-lettering failed");
        },
      );
    }
    const tracked = trackDelivery(
      { queue, id, payload, attempt },
      {
        ack: () => {
          channel.ack(message);
          return Promise.resolve();
        },
        retry,
        deadLetter,
      },
    );
    return runHandler(handler, tracked, log, context);
  }

  private track(work: Promise<void>): void {
    const done = work.finally(() => this.running.delete(done));
    this.running.add(done);
  }
}
