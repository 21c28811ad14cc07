/** Loads the Redis locker (and ioredis) only when files.lockRedisUrl is set. */
import type { RedisLocker, RedisLockerOptions } from "./redis-locker.js";

export async function openRedisLocker(options: RedisLockerOptions): Promise<RedisLocker> {
  const { RedisLocker } = await import("./redis-locker.js");
  return new RedisLocker(options);
}
