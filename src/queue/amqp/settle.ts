/**
 * How one RabbitMQ delivery is read and settled. Ack, retry and dead letter
 * act on the channel the message came on: delivery tags are per channel, so a
 * message whose channel was lost (with its connection, or closed by an error)
 * cannot be settled anywhere else. RabbitMQ has requeued it and delivers it
 * again, so its settlement is skipped with a warning and resolves — the
 * handler carries on, and the message is handled at least once.
 */
import { IllegalOperationError, type Channel, type ConsumeMessage } from "amqplib";
import type { SettleActions } from "../delivery.js";
import type { QueueLogger } from "../queue-logger.js";
import type { AmqpPublisher } from "./publisher.js";
import { HEADER_ATTEMPT, HEADER_DEAD_AT, HEADER_REASON } from "./topology.js";

/** The channel a delivery came on, and whether it is still open. */
export interface DeliveryChannel {
  readonly channel: Channel;
  readonly open: boolean;
}

export interface IncomingFields {
  id: string;
  attempt: number;
  priority: number;
}

export function fieldsOf(message: ConsumeMessage): IncomingFields {
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

export interface SettleDeps {
  source: DeliveryChannel;
  message: ConsumeMessage;
  fields: IncomingFields;
  queue: string;
  publisher: AmqpPublisher;
  log: QueueLogger;
}

export function settleActions(deps: SettleDeps): SettleActions {
  const { source, message, fields, queue, publisher, log } = deps;
  const { id, attempt, priority } = fields;

  /** Runs `act` on the delivery's own channel; false (and a warning) when that channel is gone. */
  const onChannel = (what: string, act: (channel: Channel) => void): boolean => {
    if (source.open) {
      try {
        act(source.channel);
        return true;
      } catch (err) {
        // amqplib refuses to send on a closing or closed channel.
        if (!(err instanceof IllegalOperationError) && source.open) throw err;
      }
    }
    log.warn(
      { queue, id, attempt, settle: what },
      "settling skipped: the channel this delivery came on was lost; RabbitMQ delivers it again",
    );
    return false;
  };

  // Retry and dead letter publish a copy (same message id, priority and
  // payload) and ack the original only once RabbitMQ confirmed the copy, so a
  // crash in between duplicates the message rather than losing it. Once the
  // original's channel is lost there is nothing to settle: RabbitMQ requeued
  // it, so no copy is made, and no waiting for the connection either.
  const settleWithCopy = async (what: string, copy: () => Promise<void>): Promise<void> => {
    if (!onChannel(what, () => undefined)) return;
    try {
      await copy();
    } catch (err) {
      // Back to the queue at once rather than stuck unacked on a live channel.
      const requeued = onChannel(what, (channel) => {
        channel.nack(message, false, true);
      });
      if (requeued) throw err;
      return;
    }
    onChannel(what, (channel) => {
      channel.ack(message);
    });
  };

  const copyOf = { content: message.content, messageId: id, front: priority > 0 };
  return {
    ack: () => {
      onChannel("ack", (channel) => {
        channel.ack(message);
      });
      return Promise.resolve();
    },
    retry: (delayMs) =>
      settleWithCopy("retry", () =>
        publisher.publish(queue, { ...copyOf, attempt: attempt + 1, delayMs }, 0),
      ),
    deadLetter: (reason) =>
      settleWithCopy("deadLetter", () =>
        publisher.publish(
          queue,
          {
            ...copyOf,
            attempt,
            delayMs: 0,
            dead: true,
            headers: { [HEADER_REASON]: reason, [HEADER_DEAD_AT]: Date.now() },
          },
          0,
        ),
      ),
  };
}
