/**
 * Argument checks every driver makes before touching its store. The bus's
 * callers are gamedock's own modules, so a bad value is a bug there:
 * E_INTERNAL naming the argument, never a silent no-op.
 */
import { GamedockError } from "../core/index.js";
import type { ClaimOptions, HistoryLimits, ReadOptions } from "./contract.js";

const MAX_NAME = 512;

function bad(message: string): GamedockError {
  return new GamedockError("E_INTERNAL", `bus: ${message}`);
}

export function checkName(what: string, name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME) {
    throw bad(`${what} name must be 1-${MAX_NAME} characters, got ${JSON.stringify(name)}`);
  }
}

const wholeAtLeast = (value: number, min: number): boolean =>
  Number.isSafeInteger(value) && value >= min;

export function checkTtl(ttlMs: number): void {
  if (!wholeAtLeast(ttlMs, 1)) throw bad(`ttlMs must be a whole number ≥ 1, got ${ttlMs}`);
}

export function checkRead(options: ReadOptions): void {
  if (!wholeAtLeast(options.count, 1)) throw bad(`read count must be ≥ 1, got ${options.count}`);
  if (!wholeAtLeast(options.blockMs, 0))
    throw bad(`read blockMs must be ≥ 0, got ${options.blockMs}`);
}

export function checkClaim(options: ClaimOptions): void {
  if (!wholeAtLeast(options.count, 1)) throw bad(`claim count must be ≥ 1, got ${options.count}`);
  if (!wholeAtLeast(options.minIdleMs, 0)) {
    throw bad(`claim minIdleMs must be ≥ 0, got ${options.minIdleMs}`);
  }
}

export function checkLimits(limits: HistoryLimits): void {
  if (!wholeAtLeast(limits.maxLength, 1)) {
    throw bad(`history maxLength must be ≥ 1, got ${limits.maxLength}`);
  }
  if (!wholeAtLeast(limits.maxAgeMs, 1)) {
    throw bad(`history maxAgeMs must be ≥ 1, got ${limits.maxAgeMs}`);
  }
}

export function checkHistoryRead(after: { epoch: string; offset: number }, limit: number): void {
  if (typeof after.epoch !== "string") throw bad(`history epoch must be a string`);
  if (!wholeAtLeast(after.offset, 0)) throw bad(`history offset must be ≥ 0, got ${after.offset}`);
  if (!wholeAtLeast(limit, 1)) throw bad(`history read limit must be ≥ 1, got ${limit}`);
}
