/**
 * chat.sendsPerSecond: how many messages one uid may send per second. With
 * a Redis bus the count is shared by every logic worker (one key per uid
 * and second, gone after two); on the memory bus it is this process's.
 */
import type { Redis } from "ioredis";
import { GamedockError } from "../core/index.js";

export class SendRate {
  private second = 0;
  private readonly counts = new Map<string, number>();

  constructor(private readonly perSecond: number) {}

  /** Counts one send of `uid`; E_RATE_LIMITED (retryable) past the limit. */
  async take(uid: string, redis?: Redis): Promise<void> {
    const second = Math.floor(Date.now() / 1000);
    let count: number;
    if (redis) {
      const key = `chat:rate:${uid}:${second}`;
      const [[, incremented]] = (await redis.multi().incr(key).expire(key, 2).exec()) as [
        [Error | null, number],
        [Error | null, number],
      ];
      count = incremented;
    } else {
      if (second !== this.second) {
        this.second = second;
        this.counts.clear();
      }
      count = (this.counts.get(uid) ?? 0) + 1;
      this.counts.set(uid, count);
    }
    if (count > this.perSecond) {
      throw new GamedockError(
        "E_RATE_LIMITED",
        `at most ${this.perSecond} messages a second per user (chat.sendsPerSecond): send it again in a moment`,
        { sendsPerSecond: this.perSecond },
      );
    }
  }
}
