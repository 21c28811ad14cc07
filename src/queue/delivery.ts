/**
 * What every driver shares about a delivery: it is settled once (ack, retry or
 * deadLetter), and a handler that throws or returns without settling has its
 * message dead-lettered, so a poison message cannot loop and is never lost.
 * Drivers supply only the three durable operations.
 */
import { GamedockError, asError } from "../core/index.js";
import type { Delivery, Handler } from "./contract.js";
import type { QueueLogger } from "./queue-logger.js";

/** The durable operations behind a delivery, as one driver implements them. */
export interface SettleActions {
  ack(): Promise<void>;
  retry(delayMs: number): Promise<void>;
  deadLetter(reason: string): Promise<void>;
}

export interface DeliveryFields<T> {
  queue: string;
  id: string;
  payload: T;
  attempt: number;
}

/** A delivery plus what the driver needs to see of its settlement. */
export interface TrackedDelivery<T> {
  readonly delivery: Delivery<T>;
  /** The first settlement's promise, or undefined while none was asked for. */
  settlement(): Promise<void> | undefined;
}

export const UNSETTLED_REASON =
  "handler returned without calling ack(), retry() or deadLetter() on its delivery";

export function trackDelivery<T>(
  fields: DeliveryFields<T>,
  actions: SettleActions,
): TrackedDelivery<T> {
  let settledBy: string | undefined;
  let settling: Promise<void> | undefined;

  // Only the first call does anything: a second settlement is a bug in the
  // handler, reported loudly rather than applied on top of the first.
  const settle = (how: string, run: () => Promise<void>): Promise<void> => {
    if (settledBy !== undefined) {
      return Promise.reject(
        new GamedockError(
          "E_INTERNAL",
          `delivery ${fields.id} of queue "${fields.queue}" was already settled with ${settledBy}(); ` +
            `call ack(), retry() or deadLetter() once per delivery`,
          { queue: fields.queue, id: fields.id },
        ),
      );
    }
    settledBy = how;
    try {
      settling = run();
    } catch (err) {
      settling = Promise.reject(asError(err));
    }
    // runHandler awaits it later; until then a handler that did not await its
    // own settlement must not turn a failure into an unhandled rejection.
    settling.catch(() => undefined);
    return settling;
  };

  const delivery: Delivery<T> = {
    id: fields.id,
    payload: fields.payload,
    attempt: fields.attempt,
    ack: () => settle("ack", () => actions.ack()),
    retry: (options) => {
      const delayMs = options.delayMs;
      if (!Number.isFinite(delayMs) || delayMs < 0) {
        return Promise.reject(
          new GamedockError(
            "E_INVALID_REQUEST",
            `retry delayMs must be a number ≥ 0, got ${String(delayMs)}`,
          ),
        );
      }
      return settle("retry", () => actions.retry(Math.round(delayMs)));
    },
    deadLetter: (reason) => settle("deadLetter", () => actions.deadLetter(reason)),
  };
  return { delivery, settlement: () => settling };
}

/**
 * Runs `handler` on a delivery and makes sure the delivery ends settled.
 * Resolves when the handler has returned and its settlement is done, so a
 * consumer's concurrency slot stays taken until then. Never rejects: a
 * settlement that fails leaves the message to be redelivered by the driver.
 */
export async function runHandler<T>(
  handler: Handler<T>,
  tracked: TrackedDelivery<T>,
  log: QueueLogger,
  context: object,
): Promise<void> {
  let failure: Error | undefined;
  try {
    await handler(tracked.delivery);
  } catch (err) {
    failure = asError(err);
  }
  const settling = tracked.settlement();
  if (settling !== undefined) {
    try {
      await settling;
    } catch (err) {
      log.warn(
        { ...context, err: asError(err).message },
        "settling a delivery failed; it will be delivered again",
      );
    }
    if (failure) {
      log.warn({ ...context, err: failure.message }, "handler threw after settling its delivery");
    }
    return;
  }
  const reason = failure ? failure.message || failure.name : UNSETTLED_REASON;
  log.warn({ ...context, reason }, "handler did not settle its delivery; dead-lettering it");
  try {
    await tracked.delivery.deadLetter(reason);
  } catch (err) {
    log.error(
      { ...context, err: asError(err).message },
      "dead-lettering an unsettled delivery failed; it will be delivered again",
    );
  }
}
