/**
 * tus upload locks shared by every instance through Redis, so two instances
 * never write one upload at once (@tus/server takes a lock around every
 * request that touches an upload).
 *
 * - Acquire: SET key token NX PX ttl. The holder renews the expiry every
 *   ttl/3, so a long PATCH keeps its lock and a dead instance's lock lapses
 *   within ttl.
 * - Release: a Lua script deletes the key only if it still holds our token,
 *   so a lock that lapsed and was taken by another request is never freed by
 *   its former holder.
 * - Takeover: a client whose connection died may still hold the lock through a
 *   half-open request. A waiter publishes the upload id on `<prefix>:release`;
 *   the instance holding it calls tus's requestRelease callback, which ends
 *   that request (after lockDrainTimeout) and unlocks. Unlocks are published
 *   on `<prefix>:unlocked` so waiters retry at once instead of polling.
 */
import { randomBytes } from "node:crypto";
import { ERRORS, type Lock, type Locker, type RequestRelease } from "@tus/server";
import { Redis } from "ioredis";
import { GamedockError, asError, type Logger } from "../../core/index.js";
import { throwTus } from "./tus-errors.js";

const RELEASE_IF_OURS = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW_IF_OURS = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisLockerOptions {
  url: string;
  /** Key and channel prefix; instances that share uploads must share it. */
  prefix: string;
  /** Expiry of a lock that is not renewed (its holder died), ms. */
  ttlMs?: number;
  /** A request that cannot get the lock in this time fails (503), ms. */
  acquireTimeoutMs?: number;
  /** Longest wait between two attempts when no unlock is announced, ms. */
  retryMs?: number;
  logger: Logger;
}

export class RedisLocker implements Locker {
  readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed: Promise<void>;
  /** Locks this process holds, by upload id: whom to ask for a release. */
  readonly held = new Map<string, RedisLock>();
  /** Waiters of this process, by upload id, woken by an unlock. */
  private readonly waiters = new Map<string, Set<() => void>>();
  readonly ttlMs: number;
  readonly acquireTimeoutMs: number;
  readonly retryMs: number;

  constructor(readonly options: RedisLockerOptions) {
    this.ttlMs = options.ttlMs ?? 15_000;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    this.retryMs = options.retryMs ?? 250;
    const redisOptions = { maxRetriesPerRequest: 2, connectTimeout: 5000 };
    this.client = new Redis(options.url, redisOptions);
    this.subscriber = new Redis(options.url, redisOptions);
    for (const connection of [this.client, this.subscriber]) {
      connection.on("error", (err: Error) => {
        options.logger.warn({ event: "tus-lock-redis-error", err: err.message }, "tus lock Redis");
      });
    }
    this.subscriber.on("message", (channel: string, id: string) => {
      if (channel === this.channel("release")) this.held.get(id)?.releaseRequested();
      else if (channel === this.channel("unlocked")) this.wake(id);
    });
    this.subscribed = this.subscriber
      .subscribe(this.channel("release"), this.channel("unlocked"))
      .then(() => undefined);
    // Surfaced by the first lock(); unobserved until then.
    this.subscribed.catch(() => undefined);
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
  }

  key(id: string): string {
    return `${this.options.prefix}:lock:${id}`;
  }

  channel(name: "release" | "unlocked"): string {
    return `${this.options.prefix}:${name}`;
  }

  ready(): Promise<void> {
    return this.subscribed;
  }

  /** Resolves on an unlock of `id`, after `ms`, or when `signal` aborts. */
  waitForUnlock(id: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiters = set;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  private wake(id: string): void {
    for (const waiter of [...(this.waiters.get(id) ?? [])]) waiter();
  }

  async eval(script: string, key: string, ...args: string[]): Promise<number> {
    return Number(await this.client.eval(script, 1, key, ...args));
  }

  async close(): Promise<void> {
    for (const lock of this.held.values()) lock.stopRenewing();
    await Promise.all(
      [this.client, this.subscriber].map(async (connection) => {
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }),
    );
  }
}

class RedisLock implements Lock {
  private token: string | null = null;
  private requestRelease: RequestRelease | null = null;
  private renewal: NodeJS.Timeout | null = null;

  constructor(
    private readonly locker: RedisLocker,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { locker, id } = this;
    await locker.ready();
    const key = locker.key(id);
    const token = randomBytes(16).toString("hex");
    const deadline = Date.now() + locker.acquireTimeoutMs;
    for (;;) {
      if (signal.aborted) throwTus(ERRORS.ERR_LOCK_TIMEOUT);
      const taken = await this.command(() =>
        locker.client.set(key, token, "PX", locker.ttlMs, "NX"),
      );
      if (taken === "OK") break;
      // Ask the holder, wherever it runs, to let go (it may be a stale connection).
      await this.command(() => locker.client.publish(locker.channel("release"), id));
      const left = deadline - Date.now();
      if (left <= 0) throwTus(ERRORS.ERR_LOCK_TIMEOUT);
      await locker.waitForUnlock(id, Math.min(left, locker.retryMs), signal);
    }
    this.token = token;
    this.requestRelease = requestRelease;
    locker.held.set(id, this);
    this.renewal = setInterval(
      () => {
        void this.renew();
      },
      Math.max(100, Math.floor(locker.ttlMs / 3)),
    );
    this.renewal.unref();
  }

  async unlock(): Promise<void> {
    const { locker, id, token } = this;
    this.stopRenewing();
    if (token === null) return;
    this.token = null;
    this.requestRelease = null;
    if (locker.held.get(id) === this) locker.held.delete(id);
    // The request's work is done: a failure here must not fail it. A lock that
    // cannot be deleted lapses after ttlMs.
    try {
      const released = await locker.eval(RELEASE_IF_OURS, locker.key(id), token);
      if (released === 0) {
        locker.options.logger.warn(
          { event: "tus-lock-lapsed", id },
          "a tus upload lock had lapsed before its request ended (Redis unreachable or the request stalled past the lock TTL)",
        );
      }
      await locker.client.publish(locker.channel("unlocked"), id);
    } catch (err) {
      locker.options.logger.warn(
        { event: "tus-unlock-failed", id, err: asError(err).message },
        "releasing a tus upload lock failed; it lapses by itself",
      );
    }
  }

  /** Another request wants this upload: tus ends ours and unlocks. */
  releaseRequested(): void {
    const release = this.requestRelease;
    if (!release) return;
    void Promise.resolve()
      .then(release)
      .catch((err: unknown) => {
        this.locker.options.logger.warn(
          { event: "tus-lock-release-failed", id: this.id, err },
          "ending the request that holds a tus upload lock failed",
        );
      });
  }

  stopRenewing(): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = null;
  }

  private async renew(): Promise<void> {
    const { locker, id, token } = this;
    if (token === null) return;
    try {
      const renewed = await locker.eval(RENEW_IF_OURS, locker.key(id), token, String(locker.ttlMs));
      if (renewed === 0 && this.token === token) {
        // Someone else holds it now: stop writing as soon as tus lets us.
        locker.options.logger.warn({ event: "tus-lock-lost", id }, "a tus upload lock was lost");
        this.stopRenewing();
        this.releaseRequested();
      }
    } catch (err) {
      locker.options.logger.warn(
        { event: "tus-lock-renew-failed", id, err: asError(err).message },
        "renewing a tus upload lock failed; retrying",
      );
    }
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new GamedockError(
        "E_SERVICE_UNAVAILABLE",
        `Redis for tus locks (files.lockRedisUrl) does not answer: ${asError(err).message}`,
      );
    }
  }
}
