/**
 * The one confirm channel an amqp backend publishes and declares on, always on
 * the link's live connection. A publish resolves when RabbitMQ confirmed it
 * (the message is then durable). A channel closed by an error, or lost with
 * its connection, is replaced on next use, and the queues are declared again
 * on the new one (the broker may have restarted without them).
 */
import { randomUUID } from "node:crypto";
import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import { GamedockError, asError, isGamedockError } from "../../core/index.js";
import type { QueueLogger } from "../queue-logger.js";
import { pause, reconnectDelay, type AmqpLink } from "./connection.js";
import {
  DEAD_QUEUE_OPTIONS,
  HEADER_ATTEMPT,
  MAIN_QUEUE_OPTIONS,
  rungFor,
  topology,
  waitQueueOptions,
  type QueueTopology,
} from "./topology.js";

export interface OutgoingMessage {
  content: Buffer;
  /** Delivery.id; kept when the message is retried or dead-lettered. */
  messageId?: string;
  attempt: number;
  front: boolean;
  delayMs: number;
  /** To the dead-letter queue instead (delayMs is then ignored). */
  dead?: boolean;
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

interface OpenChannel {
  model: ChannelModel;
  channel: Promise<ConfirmChannel>;
}

export class AmqpPublisher {
  private open: OpenChannel | undefined;
  /** Channels that closed: a publish cut off on one of them is sent again. */
  private readonly closedChannels = new WeakSet<ConfirmChannel>();
  /** Per channel: queues whose main and dead queues were declared on it. */
  private readonly declared = new WeakMap<ConfirmChannel, Map<string, Promise<void>>>();

  constructor(
    private readonly link: AmqpLink,
    private readonly prefix: string,
    private readonly log: QueueLogger,
  ) {}

  /** The confirm channel on the live connection, opened anew when the connection changed. */
  private async confirmChannel(deadline: number): Promise<ConfirmChannel> {
    const model = await this.link.ready(deadline);
    if (this.open?.model !== model) {
      const opening = model.createConfirmChannel().then((channel) => {
        channel.on("error", (err: Error) => {
          this.log.warn({ err: err.message }, "amqp publish channel error");
        });
        channel.on("close", () => {
          this.closedChannels.add(channel);
          if (this.open?.channel === opening) this.open = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.open?.channel === opening) this.open = undefined;
      });
      this.open = { model, channel: opening };
    }
    return this.open.channel;
  }

  private defaultDeadline(): number {
    return Date.now() + this.link.waitMs;
  }

  /**
   * Declares the main and dead queues of `name` once per channel; returns
   * their names. Waits for a lost connection until `deadline`.
   */
  async declare(name: string, deadline = this.defaultDeadline()): Promise<QueueTopology> {
    return this.declareOn(await this.confirmChannel(deadline), name);
  }

  private async declareOn(channel: ConfirmChannel, name: string): Promise<QueueTopology> {
    const names = topology(this.prefix, name);
    let onChannel = this.declared.get(channel);
    if (!onChannel) {
      onChannel = new Map();
      this.declared.set(channel, onChannel);
    }
    const declared = onChannel;
    let declaring = declared.get(name);
    if (!declaring) {
      const started = (async () => {
        await channel.assertQueue(names.main, MAIN_QUEUE_OPTIONS);
        await channel.assertQueue(names.dead, DEAD_QUEUE_OPTIONS);
      })();
      declaring = started;
      declared.set(name, started);
      started.catch(() => declared.delete(name));
    }
    try {
      await declaring;
    } catch (err) {
      throw declareError(names.main, err);
    }
    return names;
  }

  /**
   * Publishes to `name`'s main queue, its wait ladder when delayed, or its
   * dead-letter queue, and resolves once RabbitMQ confirmed it. A publish cut
   * off by a lost channel or connection is sent again (same message id) on
   * the next one until `waitMs` has passed, so it may be stored twice — at
   * least once, never lost after resolving. `waitMs` 0: one try, no waiting.
   */
  async publish(name: string, message: OutgoingMessage, waitMs = this.link.waitMs): Promise<void> {
    const deadline = Date.now() + waitMs;
    const options: Options.Publish = {
      persistent: true,
      contentType: "application/json",
      messageId: message.messageId ?? randomUUID(),
      priority: message.front ? 1 : 0,
      headers: { ...message.headers, [HEADER_ATTEMPT]: message.attempt },
    };
    for (let tries = 1; ; tries++) {
      let channel: ConfirmChannel | undefined;
      try {
        channel = await this.confirmChannel(deadline);
        const names = await this.declareOn(channel, name);
        if (message.dead === true) {
          await send(channel, names.dead, message.content, options);
        } else if (message.delayMs <= 0) {
          await send(channel, names.main, message.content, options);
        } else {
          const wait = await declareWait(channel, names, rungFor(message.delayMs));
          const expiration = String(message.delayMs);
          await send(channel, wait, message.content, { ...options, expiration });
        }
        return;
      } catch (err) {
        // A refusal (bad delay, queue declared with other arguments, a nack)
        // is the answer; only a lost channel or connection is worth a new try.
        const cutOff =
          !isGamedockError(err) && (channel === undefined || this.closedChannels.has(channel));
        if (!cutOff) throw err;
        if (Date.now() >= deadline) throw this.link.current() ? err : this.link.unavailable();
        this.log.debug(
          { queue: name, tries, err: asError(err).message },
          "publish cut off by a lost channel; publishing again",
        );
        await pause(Math.min(reconnectDelay(tries), deadline - Date.now()));
      }
    }
  }
}

/** Declares (or renews) one wait queue of `names`; returns its name. */
async function declareWait(
  channel: ConfirmChannel,
  names: QueueTopology,
  rungMs: number,
): Promise<string> {
  const wait = names.wait(rungMs);
  try {
    await channel.assertQueue(wait, waitQueueOptions(names.main, rungMs));
  } catch (err) {
    throw declareError(wait, err);
  }
  return wait;
}

/** Publishes straight to one queue; resolves on RabbitMQ's confirm. */
function send(
  channel: ConfirmChannel,
  queue: string,
  content: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    channel.sendToQueue(queue, content, options, (err: unknown) => {
      if (err) reject(asError(err));
      else resolve();
    });
  });
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
