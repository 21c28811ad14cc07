/**
 * Histories on Redis: a stream whose entry ids are the offsets ("<n>-0")
 * with the time in field "t" and the payload in "p", and a meta hash
 * (`<name>:meta`, same hash tag) holding the epoch and the last offset. Both
 * expire after maxAgeMs without use; the next call then starts a new epoch.
 */
import type { Redis } from "ioredis";
import type { History, HistoryLimits } from "../contract.js";
import { checkHistoryRead, checkLimits } from "../check.js";
import { newEpoch, readResult } from "../history-read.js";
import { field, type Reply } from "./replies.js";
import { script } from "./script-runner.js";
import { HISTORY_APPEND, HISTORY_READ } from "./scripts.js";

const append = script(HISTORY_APPEND);
const read = script(HISTORY_READ);

export function openRedisHistory(
  redis: Redis,
  name: string,
  key: string,
  limits: HistoryLimits,
): History {
  checkLimits(limits);
  const keys = [key, `${key}:meta`];
  const position = async (after: number, limit: number) => {
    const [epoch, offset, entries] = (await read.runBuffer(redis, keys, [
      limits.maxAgeMs,
      newEpoch(),
      after,
      limit,
    ])) as [Buffer, number, Reply[]];
    return {
      now: { epoch: epoch.toString(), offset },
      entries: entries.map((entry) => {
        const [id, fields] = entry as [Buffer, Reply[]];
        return {
          offset: Number(id.toString().split("-")[0]),
          payload: field(fields, "p") ?? Buffer.alloc(0),
        };
      }),
    };
  };
  return {
    name,
    async append(payload) {
      const [epoch, offset] = (await append.run(redis, keys, [
        limits.maxAgeMs,
        newEpoch(),
        payload,
        limits.maxLength,
      ])) as [string, number];
      return { epoch, offset };
    },
    async read(after, limit) {
      checkHistoryRead(after, limit);
      const { now, entries } = await position(after.offset, limit);
      return readResult(now, after, entries);
    },
    async position() {
      return (await position(0, 0)).now;
    },
  };
}
