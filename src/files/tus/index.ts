/** The tus 1.0 upload handler of the file service (mounted by the /files routes). */
export { createTusHandler, type TusHandler, type TusHandlerOptions } from "./handler.js";
export { openRedisLocker } from "./open-redis-locker.js";
export type { RedisLocker, RedisLockerOptions } from "./redis-locker.js";
export { CHECKSUM_ALGORITHMS } from "./checksum.js";
