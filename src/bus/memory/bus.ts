/**
 * The memory driver: the embedded default, for everything in one process
 * (`gamedock serve`). Same promises as the Redis driver, kept in maps; gone
 * with the process, so a restart starts every history on a new epoch.
 */
import { asError } from "../../core/index.js";
import type { Bus, BusReader, OnceItem } from "../contract.js";
import { checkClaim, checkName, checkRead, checkTtl } from "../check.js";
import { MemoryHistories } from "./history.js";
import { MemoryStreams } from "./streams.js";

/** Runs a synchronous step as a promise: a failed check rejects, as the Redis driver's do. */
function settle<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (err) {
    return Promise.reject(asError(err));
  }
}

export function openMemoryBus(): Bus {
  const streams = new MemoryStreams();
  const histories = new MemoryHistories();
  const markers = new Map<string, number>();
  /** uid → gatewayId → expiry (ms since epoch). */
  const presence = new Map<string, Map<string, number>>();
  const readers = new Set<BusReader>();
  const sets = new Map<string, Set<string>>();
  /** name → value and expiry (ms since epoch). */
  const records = new Map<string, { payload: Buffer; until: number }>();

  const isMarked = (marker: string): boolean => {
    const until = markers.get(marker);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    markers.delete(marker);
    return false;
  };

  const appendOnceMany = (
    stream: string,
    items: readonly OnceItem[],
    ttlMs: number,
  ): (string | null)[] => {
    checkName("stream", stream);
    checkTtl(ttlMs);
    for (const { marker } of items) checkName("marker", marker);
    return items.map(({ payload, marker }) => {
      if (isMarked(marker)) return null;
      markers.set(marker, Date.now() + ttlMs);
      return streams.append(stream, payload);
    });
  };

  const openReader = (): BusReader => {
    let cancelWait: (() => void) | null = null;
    let closed = false;
    const reader: BusReader = {
      join: (stream, group, from) =>
        settle(() => {
          checkName("stream", stream);
          checkName("group", group);
          streams.join(stream, group, from);
        }),
      async read(stream, group, consumer, options) {
        checkName("consumer", consumer);
        checkRead(options);
        const deadline = Date.now() + options.blockMs;
        for (;;) {
          if (closed) return [];
          const entries = streams.readNew(stream, group, consumer, options.count, options.noAck);
          const left = deadline - Date.now();
          if (entries.length > 0 || left <= 0) return entries;
          await streams.wait(stream, left, (cancel) => (cancelWait = cancel));
          cancelWait = null;
        }
      },
      close() {
        closed = true;
        cancelWait?.();
        readers.delete(reader);
        return Promise.resolve();
      },
    };
    readers.add(reader);
    return reader;
  };

  return {
    driver: "memory",
    append: (stream, payload) =>
      settle(() => {
        checkName("stream", stream);
        return streams.append(stream, payload);
      }),
    appendMany: (stream, payloads) =>
      settle(() => {
        checkName("stream", stream);
        return payloads.map((payload) => streams.append(stream, payload));
      }),
    appendOnce: (stream, payload, marker, ttlMs) =>
      settle(() => appendOnceMany(stream, [{ payload, marker }], ttlMs)[0] ?? null),
    appendOnceMany: (stream, items, ttlMs) => settle(() => appendOnceMany(stream, items, ttlMs)),
    marked(marker) {
      return Promise.resolve(isMarked(marker));
    },
    reader: () => Promise.resolve(openReader()),
    ack(stream, group, ids) {
      return Promise.resolve(streams.ack(stream, group, ids));
    },
    claimIdle: (stream, group, consumer, options) =>
      settle(() => {
        checkName("consumer", consumer);
        checkClaim(options);
        return streams.claimIdle(stream, group, consumer, options);
      }),
    groups: (stream) => Promise.resolve(streams.groups(stream)),
    length: (stream) => Promise.resolve(streams.length(stream)),
    removeConsumer(stream, group, consumer) {
      streams.removeConsumer(stream, group, consumer);
      return Promise.resolve();
    },
    trimAcknowledged: (stream) => Promise.resolve(streams.trimAcknowledged(stream)),
    deleteStream(stream) {
      streams.delete(stream);
      return Promise.resolve();
    },
    history(name, limits) {
      checkName("history", name);
      return histories.open(name, limits);
    },
    touchPresence: (uids, gatewayId, ttlMs) =>
      settle(() => {
        checkTtl(ttlMs);
        for (const uid of uids) {
          let gateways = presence.get(uid);
          if (!gateways) presence.set(uid, (gateways = new Map<string, number>()));
          gateways.set(gatewayId, Date.now() + ttlMs);
        }
      }),
    leavePresence(uid, gatewayId) {
      const gateways = presence.get(uid);
      gateways?.delete(gatewayId);
      if (gateways?.size === 0) presence.delete(uid);
      return Promise.resolve();
    },
    presence(uids) {
      const now = Date.now();
      const found = new Map<string, string[]>();
      for (const uid of uids) {
        const gateways = presence.get(uid);
        if (!gateways) continue;
        for (const [gatewayId, until] of gateways) if (until <= now) gateways.delete(gatewayId);
        if (gateways.size === 0) presence.delete(uid);
        else found.set(uid, [...gateways.keys()]);
      }
      return Promise.resolve(found);
    },
    addMember: (set, member) =>
      settle(() => {
        checkName("set", set);
        let members = sets.get(set);
        if (!members) sets.set(set, (members = new Set<string>()));
        const added = !members.has(member);
        members.add(member);
        return added;
      }),
    removeMember(set, member) {
      const members = sets.get(set);
      const removed = members?.delete(member) ?? false;
      if (members?.size === 0) sets.delete(set);
      return Promise.resolve(removed);
    },
    members: (set) => Promise.resolve([...(sets.get(set) ?? [])]),
    putRecord: (name, payload, ttlMs) =>
      settle(() => {
        checkName("record", name);
        checkTtl(ttlMs);
        records.set(name, { payload: Buffer.from(payload), until: Date.now() + ttlMs });
      }),
    getRecords(names) {
      const now = Date.now();
      return Promise.resolve(
        names.map((name) => {
          const record = records.get(name);
          if (record && record.until <= now) records.delete(name);
          return record && record.until > now ? record.payload : null;
        }),
      );
    },
    deleteRecord(name) {
      records.delete(name);
      return Promise.resolve();
    },
    async close() {
      await Promise.all([...readers].map((r) => r.close()));
    },
  };
}
