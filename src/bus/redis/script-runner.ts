/**
 * Runs a Lua script by its SHA1 (EVALSHA), loading it with EVAL the first
 * time a server does not know it (NOSCRIPT: a restart, a failover): the
 * script text crosses the network once, not on every call.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export type ScriptArg = string | number | Buffer;

export interface Script {
  run(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
  /** The same, with bulk strings answered as Buffers (binary payloads). */
  runBuffer(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
}

export function script(lua: string): Script {
  const sha = createHash("sha1").update(lua).digest("hex");
  const call = async (
    redis: Redis,
    buffers: boolean,
    keys: readonly string[],
    args: readonly ScriptArg[],
  ): Promise<unknown> => {
    const send = (command: string, first: string) =>
      buffers
        ? redis.callBuffer(command, first, keys.length, ...keys, ...args)
        : redis.call(command, first, keys.length, ...keys, ...args);
    try {
      return await send("EVALSHA", sha);
    } catch (err) {
      if (!(err as Error).message.startsWith("NOSCRIPT")) throw err;
      return send("EVAL", lua);
    }
  };
  return {
    run: (redis, keys, args) => call(redis, false, keys, args),
    runBuffer: (redis, keys, args) => call(redis, true, keys, args),
  };
}
