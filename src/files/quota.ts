/**
 * Limits on what one client may store: the per-upload size limit (413
 * E_TOO_LARGE) and the per-token quota (413 E_QUOTA: the request is too large
 * for what is left).
 *
 * The quota is enforced by reservations (docs/files.md#quota): an upload holds
 * its bytes before it stores them — the declared length at once; an upload of
 * unknown length (a chunked PUT, a tus upload with a deferred length) as its
 * bytes arrive, a step ahead. Holds are decided atomically per owner in the
 * database (FileMetadata.reserve), so parallel uploads on any number of
 * instances can never together pass the quota. A hold becomes the file's
 * usage when the file is recorded, and is given back when the upload fails,
 * is terminated or expires.
 */
import { type Clock, GamedockError } from "../core/index.js";
import type { FileMetadata } from "./contract.js";

export interface Limits {
  maxUploadBytes: number;
  /** 0 = unlimited. */
  quotaBytes: number;
}

const MiB = 1024 * 1024;
/** An upload of unknown length holds this much more than it has received, at least… */
const MIN_STEP = MiB;
/** …and at most this much (more holds less often; less keeps more room for others). */
const MAX_STEP = 64 * MiB;

export function checkUploadSize(size: number, limits: Limits): void {
  if (size > limits.maxUploadBytes) {
    throw new GamedockError(
      "E_TOO_LARGE",
      `the upload is ${size} bytes; this server accepts at most ${limits.maxUploadBytes} (files.maxUploadBytes)`,
      { size, limit: limits.maxUploadBytes },
    );
  }
}

export function quotaError(size: number, used: number, quota: number): GamedockError {
  return new GamedockError(
    "E_QUOTA",
    `storing ${size} bytes would pass the quota of ${quota} bytes for this token (${used} used by its files and other uploads); delete files or ask for a larger files.quotaBytes`,
    { size, used, quota },
  );
}

/** The space one upload holds against its owner's quota. */
export class QuotaHold {
  #held = 0;
  /** What the owner's files and other uploads used at the last decision. */
  #othersUse = 0;
  #renewedAt: number;

  constructor(
    private readonly metadata: FileMetadata,
    private readonly limits: Limits,
    private readonly clock: Clock,
    readonly id: string,
    readonly owner: string,
    /**
     * How long the hold counts without a tus upload record behind it, ms: a
     * PUT's lease, renewed while bytes arrive; a tus upload's lifetime.
     */
    private readonly leaseMs: number,
  ) {
    this.#renewedAt = clock.now();
  }

  get enabled(): boolean {
    return this.limits.quotaBytes > 0;
  }

  get held(): number {
    return this.#held;
  }

  /** Holds exactly `bytes` (a declared length), or throws E_QUOTA and holds what it held before. */
  async set(bytes: number): Promise<void> {
    if (!this.enabled) return;
    if (!(await this.ask(bytes, bytes))) {
      throw quotaError(bytes, this.#othersUse, this.limits.quotaBytes);
    }
  }

  /**
   * Makes sure `total` bytes are held, asking a step ahead. Returns how many
   * of them may be stored: `total`, or less when the quota ends before it.
   */
  async cover(total: number): Promise<number> {
    if (!this.enabled) return total;
    if (total <= this.#held) {
      await this.renewIfDue();
      return total;
    }
    const step = Math.min(MAX_STEP, Math.max(MIN_STEP, total));
    if (await this.ask(total, total + step)) return total;
    // Not all of it: hold what is left, so the upload stops exactly at the quota.
    const left = this.limits.quotaBytes - this.#othersUse;
    if (left > this.#held) await this.ask(left, left);
    return Math.min(total, this.#held);
  }

  /** Like cover, but all or nothing: E_QUOTA unless every one of `total` bytes is held. */
  async require(total: number): Promise<void> {
    if ((await this.cover(total)) < total) {
      throw quotaError(total, this.#othersUse, this.limits.quotaBytes);
    }
  }

  /** Gives the space back (the upload failed or went away). */
  async release(): Promise<void> {
    if (!this.enabled) return;
    this.#held = 0;
    await this.metadata.releaseReservation(this.id);
  }

  private async ask(bytes: number, upTo: number): Promise<boolean> {
    const now = this.clock.now();
    const outcome = await this.metadata.reserve({
      id: this.id,
      owner: this.owner,
      bytes,
      upTo,
      quotaBytes: this.limits.quotaBytes,
      now: new Date(now),
      expiresAt: new Date(now + this.leaseMs),
    });
    this.#othersUse = outcome.othersUse;
    if (outcome.held === null) return false;
    this.#held = outcome.held;
    this.#renewedAt = now;
    return true;
  }

  /** A long upload keeps its lease: pushed forward once a third of it has passed. */
  private async renewIfDue(): Promise<void> {
    const now = this.clock.now();
    if (now - this.#renewedAt < this.leaseMs / 3) return;
    this.#renewedAt = now;
    await this.metadata.renewReservation(this.id, new Date(now + this.leaseMs));
  }
}

/** Makes holds for one file service (its metadata, limits and clock). */
export class Quota {
  constructor(
    private readonly metadata: FileMetadata,
    private readonly limits: Limits,
    private readonly clock: Clock,
  ) {}

  hold(id: string, owner: string, leaseMs: number): QuotaHold {
    return new QuotaHold(this.metadata, this.limits, this.clock, id, owner, leaseMs);
  }

  /** Gives back the hold of upload `id`, whoever made it. */
  async release(id: string): Promise<void> {
    if (this.limits.quotaBytes > 0) await this.metadata.releaseReservation(id);
  }
}
