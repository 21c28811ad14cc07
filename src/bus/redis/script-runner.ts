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
  /** Several runs written at once (a pipeline); their answers in order. */
  runMany(redis: Redis, calls: readonly ScriptCall[]): Promise<unknown[]>;
}

export interface ScriptCall {
  keys: readonly string[];
  args: readonly ScriptArg[];
}

const isNoScript = (err: unknown): boolean =>
  err instanceof Error && err.message.startsWith("NOSCRIPT");

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
      if (!isNoScript(err)) throw err;
      return send("EVAL", lua);
    }
  };
  const pipelined = async (redis: Redis, calls: readonly ScriptCall[]): Promise<unknown[]> => {
    const pipeline = redis.pipeline();
    for (const { keys, args } of calls) pipeline.evalsha(sha, keys.length, ...keys, ...args);
    return ((await pipeline.exec()) ?? []).map(([err, answer]) => {
      if (err) throw err;
      return answer;
    });
  };
  return {
    run: (redis, keys, args) => call(redis, false, keys, args),
    runBuffer: (redis, keys, args) => call(redis, true, keys, args),
    async runMany(redis, calls) {
      if (calls.length === 0) return [];
      try {
        return await pipelined(redis, calls);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        // The server lost its scripts (a restart): load it once, then again.
        await redis.script("LOAD", lua);
        return pipelined(redis, calls);
      }
    },
  };
}
