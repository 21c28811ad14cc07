/**
 * A consumer of the embedded queue: polls its queue in the shared SQLite file,
 * leases up to `concurrency` messages, heartbeats those leases, and recovers
 * messages whose holder died. Polling is cheap (a read; the write lock is taken
 * only to lease), and an enqueue in the same process wakes it at once.
 */
import { asError } from "../../core/index.js";
import type { Consumer, Handler } from "../contract.js";
import { runHandler, trackDelivery, type TrackedDelivery } from "../delivery.js";
import type { QueueLogger } from "../queue-logger.js";
import { newLeaseOwner, ownerIsAlive, type LeaseOwner } from "./lease.js";
import type { ClaimedRow, SqliteQueueStore } from "./store.js";

export interface SqliteTiming {
  /** A lease not renewed for this long is delivered again (ms). */
  leaseMs: number;
  /** Longest wait between polls of an idle queue (ms). */
  pollMs: number;
}

export interface SqliteConsumerDeps<T> {
  store: SqliteQueueStore;
  queue: string;
  handler: Handler<T>;
  concurrency: number;
  timing: SqliteTiming;
  log: QueueLogger;
  /** Subscribes to same-process enqueues of this queue; returns the unsubscribe. */
  onEnqueue(listener: () => void): () => void;
}

/** How often a consumer looks for expired or orphaned leases (ms). */
const RECOVER_EVERY_MS = 250;
/** Pause after a database error before polling again (ms). */
const ERROR_PAUSE_MS = 1000;

export class SqliteConsumer<T> implements Consumer {
  private readonly owner: LeaseOwner = newLeaseOwner();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly loopDone: Promise<void>;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private lastRecovery = 0;

  constructor(private readonly deps: SqliteConsumerDeps<T>) {
    this.unsubscribe = deps.onEnqueue(() => {
      this.wake();
    });
    // A third of the lease: two heartbeats may be missed before anyone steals it.
    this.heartbeat = setInterval(
      () => {
        this.renewLeases();
      },
      Math.max(50, Math.floor(deps.timing.leaseMs / 3)),
    );
    // Not before consume() has returned: a handler may refer to its consumer.
    this.loopDone = Promise.resolve().then(() => this.loop());
  }

  close(): Promise<void> {
    this.closing ??= this.closeGracefully();
    return this.closing;
  }

  /** For the backend's close: stop at once, leaving handlers in flight alone. */
  async stop(): Promise<void> {
    this.halt();
    clearInterval(this.heartbeat);
    await this.loopDone;
    this.owner.release();
  }

  private async closeGracefully(): Promise<void> {
    this.halt();
    await this.loopDone;
    // Leases stay renewed until the last handler has settled.
    await Promise.all(this.inFlight);
    clearInterval(this.heartbeat);
    this.owner.release();
  }

  private halt(): void {
    this.stopped = true;
    this.unsubscribe();
    this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  /** Waits `ms` or until woken (enqueue here, a handler finished, close). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    const { store, queue, concurrency, timing, log } = this.deps;
    while (!this.stopped) {
      if (this.inFlight.size >= concurrency) {
        await this.sleep(Infinity); // a finishing handler wakes us
        continue;
      }
      let pause: number;
      try {
        const now = Date.now();
        this.recoverIfDue(now);
        const row = store.claim(queue, this.owner.name, now, timing.leaseMs);
        if (row) {
          this.start(row);
          continue;
        }
        const due = store.nextDue(queue);
        pause = due === undefined ? timing.pollMs : Math.min(timing.pollMs, due - now);
      } catch (err) {
        log.error({ queue, err: asError(err).message }, "queue poll failed; retrying");
        pause = ERROR_PAUSE_MS;
      }
      await this.sleep(Math.max(1, pause));
    }
  }

  /** Frees leases whose lease ran out or whose owner process is gone. */
  private recoverIfDue(now: number): void {
    if (now - this.lastRecovery < RECOVER_EVERY_MS) return;
    this.lastRecovery = now;
    const { store, queue, log } = this.deps;
    // Reads first: the write lock is taken only when there is something to free.
    const leases = store.leases(queue);
    const dead = leases.filter((lease) => !ownerIsAlive(lease.owner)).map((lease) => lease.owner);
    if (dead.length === 0 && leases.every((lease) => lease.until >= now)) return;
    const released = store.release(queue, now, dead);
    if (released > 0) {
      log.info(
        { queue, released, deadOwners: dead },
        "recovered messages of dead or expired leases",
      );
    }
  }

  private renewLeases(): void {
    if (this.inFlight.size === 0) return;
    const { store, queue, timing, log } = this.deps;
    try {
      const held = store.renew(this.owner.name, Date.now() + timing.leaseMs);
      if (held < this.inFlight.size) {
        log.warn(
          { queue, held, handling: this.inFlight.size },
          "some leases were lost (a handler outlived its lease); those messages may be handled twice",
        );
      }
    } catch (err) {
      log.error({ queue, err: asError(err).message }, "renewing leases failed");
    }
  }

  private start(row: ClaimedRow): void {
    const { queue, handler, log } = this.deps;
    const tracked = this.track(row);
    const context = { queue, id: row.id, attempt: row.attempt };
    const running = (
      tracked ? runHandler(handler, tracked, log, context) : Promise.resolve()
    ).finally(() => {
      this.inFlight.delete(running);
      this.wake();
    });
    this.inFlight.add(running);
  }

  /** The delivery of a claimed row; a row whose payload cannot be read is dead-lettered. */
  private track(row: ClaimedRow): TrackedDelivery<T> | undefined {
    const { store, queue, log } = this.deps;
    const owner = this.owner.name;
    let payload: T;
    try {
      payload = JSON.parse(row.payload) as T;
    } catch (err) {
      const reason = `payload is not valid JSON: ${asError(err).message}`;
      store.deadLetter(row.id, owner, reason, Date.now());
      log.error({ queue, id: row.id }, reason);
      return undefined;
    }
    const lost = (what: string): void => {
      log.warn(
        { queue, id: row.id },
        `${what} ignored: the lease had been lost and the message was delivered again`,
      );
    };
    return trackDelivery(
      { queue, id: row.id, payload, attempt: row.attempt },
      {
        ack: () => {
          if (!store.ack(row.id, owner)) lost("ack");
          return Promise.resolve();
        },
        retry: (delayMs) => {
          if (!store.retry(row.id, owner, Date.now() + delayMs)) lost("retry");
          this.wake();
          return Promise.resolve();
        },
        deadLetter: (reason) => {
          if (!store.deadLetter(row.id, owner, reason, Date.now())) lost("deadLetter");
          return Promise.resolve();
        },
      },
    );
  }
}
