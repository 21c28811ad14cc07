/**
 * The Redis driver: work streams are Redis Streams with consumer groups
 * (XADD, XREADGROUP, XACK, XAUTOCLAIM), histories are streams whose ids are
 * their offsets ("<offset>-0") with a meta hash holding the epoch, presence
 * is a hash per uid. Keys are `<prefix>:<name>`; names carry hash tags
 * (keys.ts) and every multi-key call stays inside one, for Redis Cluster.
 *
 * One connection serves every non-blocking call; each reader has its own,
 * since XREADGROUP … BLOCK holds the connection it runs on.
 */
import { Redis, type RedisOptions } from "ioredis";
import { GamedockError, redactUrl, serviceUnavailable, withTimeout } from "../../core/index.js";
import type { Bus, BusConfig, BusReader, GroupInfo, OnceItem } from "../contract.js";
import { checkClaim, checkName, checkRead, checkTtl } from "../check.js";
import { parseEntries, parseGroups, readEntries, type Reply } from "./replies.js";
import { openRedisHistory } from "./history.js";
import { busKeys } from "../keys.js";
import { script } from "./script-runner.js";
import { APPEND_ONCE_MANY, PRESENCE_READ, PRESENCE_TOUCH, TRIM_ACKNOWLEDGED } from "./scripts.js";

const appendOnceMany = script(APPEND_ONCE_MANY);
const trimAcknowledged = script(TRIM_ACKNOWLEDGED);
const touchPresence = script(PRESENCE_TOUCH);
const readPresence = script(PRESENCE_READ);

type RedisBusConfig = Extract<BusConfig, { driver: "redis" }>;

export interface BusLogger {
  warn(fields: object, message: string): void;
}

const CONNECT_TIMEOUT_MS = 5000;

function checkConfig(config: RedisBusConfig): void {
  if (!/^rediss?:\/\//.test(config.url)) {
    throw new GamedockError(
      "E_CONFIG",
      `redis bus url must start with redis:// or rediss://, got ${redactUrl(config.url)}`,
    );
  }
  if (!config.prefix || /[\s{}]/.test(config.prefix)) {
    throw new GamedockError(
      "E_CONFIG",
      `redis bus prefix must be non-empty, without spaces or braces (the hash tags are the bus's), got ${JSON.stringify(config.prefix)}`,
    );
  }
}

async function connect(url: string, options: RedisOptions, log: BusLogger): Promise<Redis> {
  const connection = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...options,
  });
  let lastError: Error | undefined;
  connection.on("error", (err: Error) => {
    lastError = err;
    log.warn({ url: redactUrl(url), err: err.message }, "redis bus connection error");
  });
  try {
    await withTimeout(connection.connect(), CONNECT_TIMEOUT_MS * 2, "connecting");
    await connection.ping();
  } catch (err) {
    connection.disconnect();
    throw serviceUnavailable("Redis", url, lastError ?? err);
  }
  return connection;
}

export async function openRedisBus(config: RedisBusConfig, log: BusLogger): Promise<Bus> {
  checkConfig(config);
  const redis = await connect(config.url, { maxRetriesPerRequest: 3 }, log);
  const key = (name: string): string => `${config.prefix}:${name}`;
  const readers = new Set<BusReader>();

  const openReader = async (): Promise<BusReader> => {
    // A blocked read must not be cut by a retry limit: it waits as long as it takes.
    const connection = await connect(config.url, { maxRetriesPerRequest: null }, log);
    let closed = false;
    const reader: BusReader = {
      async join(stream, group, from) {
        checkName("stream", stream);
        checkName("group", group);
        try {
          await connection.call(
            "XGROUP",
            "CREATE",
            key(stream),
            group,
            from === "begin" ? "0" : "$",
            "MKSTREAM",
          );
        } catch (err) {
          if (!(err as Error).message.startsWith("BUSYGROUP")) throw err;
        }
      },
      async read(stream, group, consumer, options) {
        checkName("consumer", consumer);
        checkRead(options);
        if (closed) return [];
        // BLOCK 0 would mean "for ever": no wait is no BLOCK at all.
        const block = options.blockMs > 0 ? ["BLOCK", options.blockMs] : [];
        const noAck = options.noAck ? ["NOACK"] : [];
        try {
          const reply = (await connection.callBuffer(
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "COUNT",
            options.count,
            ...block,
            ...noAck,
            "STREAMS",
            key(stream),
            ">",
          )) as Reply;
          return parseEntries(readEntries(reply), false);
        } catch (err) {
          if (closed) return [];
          throw err;
        }
      },
      close() {
        closed = true;
        readers.delete(reader);
        connection.disconnect();
        return Promise.resolve();
      },
    };
    readers.add(reader);
    return reader;
  };

  const appendOnceItems = async (
    stream: string,
    items: readonly OnceItem[],
    ttlMs: number,
  ): Promise<(string | null)[]> => {
    checkName("stream", stream);
    checkTtl(ttlMs);
    if (items.length === 0) return [];
    const keys = [key(stream)];
    const args: Buffer[] = [];
    for (const { payload, marker } of items) {
      checkName("marker", marker);
      keys.push(key(marker));
      args.push(payload);
    }
    const ids = (await appendOnceMany.run(redis, keys, [ttlMs, ...args])) as (string | null)[];
    return ids.map((id) => id ?? null);
  };

  return {
    driver: "redis",
    async append(stream, payload) {
      checkName("stream", stream);
      return (await redis.call("XADD", key(stream), "*", "p", payload)) as string;
    },
    async appendMany(stream, payloads) {
      checkName("stream", stream);
      // One write for all (a pipeline); plain XADDs cost Redis far less than a script.
      const pipeline = redis.pipeline();
      for (const payload of payloads) pipeline.xadd(key(stream), "*", "p", payload);
      const results = (await pipeline.exec()) ?? [];
      return results.map(([err, id]) => {
        if (err) throw err;
        return id as string;
      });
    },
    async appendOnce(stream, payload, marker, ttlMs) {
      return (await appendOnceItems(stream, [{ payload, marker }], ttlMs))[0] ?? null;
    },
    appendOnceMany: appendOnceItems,
    async marked(marker) {
      return (await redis.exists(key(marker))) === 1;
    },
    reader: openReader,
    async ack(stream, group, ids) {
      if (ids.length === 0) return 0;
      return Number(await redis.call("XACK", key(stream), group, ...ids));
    },
    async claimIdle(stream, group, consumer, options) {
      checkName("consumer", consumer);
      checkClaim(options);
      const claimed = [];
      let cursor = "0-0";
      do {
        const reply = (await redis.callBuffer(
          "XAUTOCLAIM",
          key(stream),
          group,
          consumer,
          options.minIdleMs,
          cursor,
          "COUNT",
          options.count - claimed.length,
        )) as [Buffer, Reply[], Reply[]];
        cursor = reply[0].toString();
        claimed.push(...parseEntries(reply[1], true));
      } while (cursor !== "0-0" && claimed.length < options.count);
      return claimed;
    },
    async groups(stream): Promise<GroupInfo[]> {
      let groups: Reply[];
      try {
        groups = (await redis.call("XINFO", "GROUPS", key(stream))) as Reply[];
      } catch (err) {
        if (/no such key/i.test((err as Error).message)) return [];
        throw err;
      }
      return parseGroups(
        groups,
        (group) => redis.call("XINFO", "CONSUMERS", key(stream), group) as Promise<Reply[]>,
      );
    },
    async length(stream) {
      return redis.xlen(key(stream));
    },
    async removeConsumer(stream, group, consumer) {
      await redis.call("XGROUP", "DELCONSUMER", key(stream), group, consumer);
    },
    async trimAcknowledged(stream) {
      return Number(await trimAcknowledged.run(redis, [key(stream)], []));
    },
    async deleteStream(stream) {
      await redis.del(key(stream));
    },
    history(name, limits) {
      checkName("history", name);
      return openRedisHistory(redis, name, key(name), limits);
    },
    async touchPresence(uids, gatewayId, ttlMs) {
      checkTtl(ttlMs);
      // One write for all of them (their keys are in different slots: one script each).
      await touchPresence.runMany(
        redis,
        uids.map((uid) => ({ keys: [key(busKeys.userPresence(uid))], args: [gatewayId, ttlMs] })),
      );
    },
    async leavePresence(uid, gatewayId) {
      await redis.hdel(key(busKeys.userPresence(uid)), gatewayId);
    },
    async presence(uids) {
      // One script per uid (their keys are in different slots), sent together:
      // ioredis writes them without waiting for each answer.
      const replies = await Promise.all(
        uids.map((uid) => readPresence.run(redis, [key(busKeys.userPresence(uid))], [])),
      );
      const found = new Map<string, string[]>();
      replies.forEach((gateways, i) => {
        const list = gateways as string[];
        if (list.length > 0) found.set(uids[i]!, list);
      });
      return found;
    },
    async addMember(set, member) {
      checkName("set", set);
      return (await redis.sadd(key(set), member)) === 1;
    },
    async removeMember(set, member) {
      return (await redis.srem(key(set), member)) === 1;
    },
    async members(set) {
      return redis.smembers(key(set));
    },
    async putRecord(name, payload, ttlMs) {
      checkName("record", name);
      checkTtl(ttlMs);
      await redis.set(key(name), payload, "PX", ttlMs);
    },
    async getRecords(names) {
      // One GET per record (different slots on a cluster), written together.
      return Promise.all(names.map((name) => redis.getBuffer(key(name))));
    },
    async deleteRecord(name) {
      await redis.del(key(name));
    },
    async close() {
      await Promise.all([...readers].map((r) => r.close()));
      redis.disconnect();
    },
  };
}
