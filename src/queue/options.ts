/**
 * Checks of what callers pass to enqueue, consume and open, shared by the
 * drivers so every driver rejects the same mistakes with the same message.
 */
import { GamedockError } from "../core/index.js";
import type { ConsumeOptions, EnqueueOptions } from "./contract.js";

export interface CheckedEnqueue {
  front: boolean;
  delayMs: number;
  attempt: number;
}

export function checkEnqueueOptions(options: EnqueueOptions | undefined): CheckedEnqueue {
  const delayMs = options?.delayMs ?? 0;
  const attempt = options?.attempt ?? 1;
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `enqueue delayMs must be a number ≥ 0, got ${String(delayMs)}`,
    );
  }
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `enqueue attempt must be an integer ≥ 1, got ${String(attempt)}`,
    );
  }
  return { front: options?.front === true, delayMs: Math.round(delayMs), attempt };
}

export function checkConcurrency(options: ConsumeOptions): number {
  const { concurrency } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `consume concurrency must be an integer ≥ 1, got ${String(concurrency)}`,
    );
  }
  return concurrency;
}

/** Queue names become SQLite values, Redis keys and AMQP queue names alike. */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `queue name "${name}" is invalid: use 1-128 of A-Z a-z 0-9 _ . -`,
    );
  }
  return name;
}

/** JSON text of a payload; a payload JSON cannot carry is refused at enqueue. */
export function encodePayload(queue: string, payload: unknown): string {
  const text = JSON.stringify(payload);
  if (text === undefined) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `queue "${queue}": payload must be JSON-serialisable, got ${typeof payload}`,
    );
  }
  return text;
}

/**
 * Runs a synchronous driver operation behind the contract's Promise API, so a
 * throw reaches the caller as a rejection (`.catch` works) like every driver.
 */
export function asPromise<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
