/**
 * The one confirm channel an amqp backend publishes and declares on. A publish
 * resolves when RabbitMQ confirms it (the message is then durable); a channel
 * closed by an error is replaced on next use.
 */
import { randomUUID } from "node:crypto";
import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import { GamedockError, asError } from "../../core/index.js";
import {
  DEAD_QUEUE_OPTIONS,
  HEADER_ATTEMPT,
  MAIN_QUEUE_OPTIONS,
  rungFor,
  topology,
  waitQueueOptions,
  type QueueTopology,
} from "./topology.js";
import type { QueueLogger } from "../queue-logger.js";

export interface OutgoingMessage {
  content: Buffer;
  /** Delivery.id; kept when the message is retried or dead-lettered. */
  messageId?: string;
  attempt: number;
  front: boolean;
  delayMs: number;
  headers?: Record<string, unknown>;
}

/** An error code RabbitMQ put on a failed channel operation, if any. */
export function amqpCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = err.code;
    return typeof code === "number" ? code : undefined;
  }
  return undefined;
}

export class AmqpPublisher {
  private channel: Promise<ConfirmChannel> | undefined;
  /** Queues whose main and dead queues were declared on this connection. */
  private readonly declared = new Map<string, Promise<void>>();

  constructor(
    private readonly connection: ChannelModel,
    private readonly prefix: string,
    private readonly log: QueueLogger,
  ) {}

  private confirmChannel(): Promise<ConfirmChannel> {
    if (!this.channel) {
      const opening = this.connection.createConfirmChannel().then((channel) => {
        channel.on("error", (err: Error) => {
          this.log.warn({ err: err.message }, "amqp publish channel error");
        });
        channel.on("close", () => {
          if (this.channel === opening) this.channel = undefined;
          this.declared.clear();
        });
        return channel;
      });
      opening.catch(() => {
        if (this.channel === opening) this.channel = undefined;
      });
      this.channel = opening;
    }
    return this.channel;
  }

  /** Declares the main and dead queues of `name` once per channel; returns their names. */
  async declare(name: string): Promise<QueueTopology> {
    const names = topology(this.prefix, name);
    let declaring = this.declared.get(name);
    if (!declaring) {
      declaring = (async () => {
        const channel = await this.confirmChannel();
        await channel.assertQueue(names.main, MAIN_QUEUE_OPTIONS);
        await channel.assertQueue(names.dead, DEAD_QUEUE_OPTIONS);
      })();
      this.declared.set(name, declaring);
      declaring.catch(() => this.declared.delete(name));
    }
    try {
      await declaring;
    } catch (err) {
      throw declareError(names.main, err);
    }
    return names;
  }

  /** Declares (or renews) one wait queue of `name`; returns its name. */
  async declareWait(names: QueueTopology, rungMs: number): Promise<string> {
    const channel = await this.confirmChannel();
    const wait = names.wait(rungMs);
    try {
      await channel.assertQueue(wait, waitQueueOptions(names.main, rungMs));
    } catch (err) {
      throw declareError(wait, err);
    }
    return wait;
  }

  /** Publishes to `name`'s main queue, or to its wait ladder when delayed. */
  async publish(name: string, message: OutgoingMessage): Promise<void> {
    const names = await this.declare(name);
    const options: Options.Publish = {
      persistent: true,
      contentType: "application/json",
      messageId: message.messageId ?? randomUUID(),
      priority: message.front ? 1 : 0,
      headers: { ...message.headers, [HEADER_ATTEMPT]: message.attempt },
    };
    if (message.delayMs <= 0) {
      await this.send(names.main, message.content, options);
      return;
    }
    const wait = await this.declareWait(names, rungFor(message.delayMs));
    await this.send(wait, message.content, { ...options, expiration: String(message.delayMs) });
  }

  /** Publishes straight to one queue (dead letters). */
  async send(queue: string, content: Buffer, options: Options.Publish): Promise<void> {
    const channel = await this.confirmChannel();
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(queue, content, options, (err: unknown) => {
        if (err) reject(asError(err));
        else resolve();
      });
    });
  }
}

function declareError(queue: string, err: unknown): unknown {
  if (amqpCode(err) === 406) {
    return new GamedockError(
      "E_CONFIG",
      `RabbitMQ queue ${queue} exists with other arguments than gamedock declares; ` +
        `delete it or choose another queue prefix`,
      { queue },
    );
  }
  return err;
}
