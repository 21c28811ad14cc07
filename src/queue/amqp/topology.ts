/**
 * RabbitMQ queues behind one gamedock queue `<prefix><name>`:
 *
 * - `<q>`            durable, x-max-priority 1; front messages carry priority 1.
 * - `<q>.dead`       dead letters, the reason in a header.
 * - `<q>.wait.<ms>`  delayed messages, one queue per rung of a fixed ladder of
 *                    delays (100 ms · 2^k). A message waits there with its own
 *                    `expiration` (its exact delay) and is dead-lettered by
 *                    RabbitMQ into `<q>` when it expires.
 *
 * RabbitMQ expires only the message at the head of a queue, so a long delay
 * would hold back shorter ones queued behind it; a rung holds delays in
 * (rung/2, rung], which bounds that wait to twice the delay asked for. A fixed
 * ladder also means the wait queues can be named without being remembered,
 * which pendingCount() and purge() need.
 */
import { GamedockError } from "../../core/index.js";
import type { Options } from "amqplib";

export const HEADER_ATTEMPT = "x-gamedock-attempt";
export const HEADER_REASON = "x-gamedock-reason";
export const HEADER_DEAD_AT = "x-gamedock-dead-at";

const FIRST_RUNG_MS = 100;
/** 100 ms · 2^25 ≈ 38.8 days, under RabbitMQ's 2^32-1 ms limit on expiration. */
const RUNG_COUNT = 26;
/** A wait queue unused this much longer than its rung is deleted by RabbitMQ (ms). */
const WAIT_QUEUE_SPARE_MS = 10 * 60_000;

export const WAIT_RUNGS_MS: readonly number[] = Array.from(
  { length: RUNG_COUNT },
  (_, k) => FIRST_RUNG_MS * 2 ** k,
);

export const MAX_DELAY_MS = WAIT_RUNGS_MS[WAIT_RUNGS_MS.length - 1] ?? FIRST_RUNG_MS;

/** The smallest rung that holds `delayMs` (> 0). */
export function rungFor(delayMs: number): number {
  const rung = WAIT_RUNGS_MS.find((ms) => ms >= delayMs);
  if (rung === undefined) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `delay of ${delayMs} ms is longer than the amqp queue driver allows (${MAX_DELAY_MS} ms)`,
    );
  }
  return rung;
}

export interface QueueTopology {
  main: string;
  dead: string;
  wait(rungMs: number): string;
}

export function topology(prefix: string, name: string): QueueTopology {
  const main = `${prefix}${name}`;
  return { main, dead: `${main}.dead`, wait: (rungMs) => `${main}.wait.${rungMs}` };
}

export const MAIN_QUEUE_OPTIONS: Options.AssertQueue = {
  durable: true,
  arguments: { "x-max-priority": 1 },
};

export const DEAD_QUEUE_OPTIONS: Options.AssertQueue = { durable: true };

export function waitQueueOptions(main: string, rungMs: number): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": main,
      // Publishing does not count as use, so every publish redeclares the
      // queue; its last message expires within one rung of that.
      "x-expires": rungMs + WAIT_QUEUE_SPARE_MS,
    },
  };
}
