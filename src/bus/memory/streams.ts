/**
 * Work streams in memory, with the semantics of Redis Streams consumer
 * groups that the contract promises: one delivery per group, a pending list
 * per group, claims by idle time, trimming of what every group acknowledged.
 */
import type { BusEntry, ClaimOptions, GroupInfo } from "../contract.js";

interface StoredEntry {
  id: string;
  ms: number;
  seq: number;
  payload: Buffer;
}

interface Pending {
  consumer: string;
  deliveredAt: number;
}

interface Group {
  /** The newest entry delivered to a consumer of the group. */
  lastDelivered: { ms: number; seq: number };
  pending: Map<string, Pending>;
  consumers: Map<string, { seenAt: number }>;
}

interface Stream {
  entries: StoredEntry[];
  groups: Map<string, Group>;
  last: { ms: number; seq: number };
  /** Blocked reads to wake on the next append. */
  waiters: Set<() => void>;
}

const compare = (a: { ms: number; seq: number }, b: { ms: number; seq: number }): number =>
  a.ms - b.ms || a.seq - b.seq;

export class MemoryStreams {
  private readonly streams = new Map<string, Stream>();

  private stream(name: string): Stream {
    let stream = this.streams.get(name);
    if (!stream) {
      stream = { entries: [], groups: new Map(), last: { ms: 0, seq: 0 }, waiters: new Set() };
      this.streams.set(name, stream);
    }
    return stream;
  }

  append(name: string, payload: Buffer): string {
    const stream = this.stream(name);
    const now = Date.now();
    const ms = Math.max(now, stream.last.ms);
    const seq = ms === stream.last.ms ? stream.last.seq + 1 : 0;
    stream.last = { ms, seq };
    const id = `${ms}-${seq}`;
    stream.entries.push({ id, ms, seq, payload: Buffer.from(payload) });
    for (const wake of [...stream.waiters]) wake();
    return id;
  }

  join(name: string, group: string, from: "begin" | "end"): void {
    const stream = this.stream(name);
    if (stream.groups.has(group)) return;
    stream.groups.set(group, {
      lastDelivered: from === "begin" ? { ms: 0, seq: 0 } : { ...stream.last },
      pending: new Map(),
      consumers: new Map(),
    });
  }

  /** Delivers new entries now; [] when there are none (the caller waits with `wait`). */
  readNew(
    name: string,
    groupName: string,
    consumer: string,
    count: number,
    noAck = false,
  ): BusEntry[] {
    const stream = this.streams.get(name);
    const group = stream?.groups.get(groupName);
    if (!stream || !group) throw new Error(`NOGROUP ${groupName} on ${name}`);
    const now = Date.now();
    group.consumers.set(consumer, { seenAt: now });
    const out: BusEntry[] = [];
    // Entries are in id order: start after the last delivered, not from the first kept.
    for (let i = firstAfter(stream.entries, group.lastDelivered); i < stream.entries.length; i++) {
      if (out.length >= count) break;
      const entry = stream.entries[i]!;
      group.lastDelivered = { ms: entry.ms, seq: entry.seq };
      if (!noAck) group.pending.set(entry.id, { consumer, deliveredAt: now });
      out.push({ id: entry.id, payload: entry.payload, redelivered: false });
    }
    return out;
  }

  hasGroup(name: string, group: string): boolean {
    return this.streams.get(name)?.groups.has(group) ?? false;
  }

  /** Resolves on the next append to the stream, or after ms. */
  wait(name: string, ms: number, onCancel: (cancel: () => void) => void): Promise<void> {
    const stream = this.stream(name);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stream.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stream.waiters.add(done);
      onCancel(done);
    });
  }

  ack(name: string, groupName: string, ids: readonly string[]): number {
    const group = this.streams.get(name)?.groups.get(groupName);
    if (!group) return 0;
    let acked = 0;
    for (const id of ids) if (group.pending.delete(id)) acked++;
    return acked;
  }

  claimIdle(name: string, groupName: string, consumer: string, options: ClaimOptions): BusEntry[] {
    const stream = this.streams.get(name);
    const group = stream?.groups.get(groupName);
    if (!stream || !group) throw new Error(`NOGROUP ${groupName} on ${name}`);
    const now = Date.now();
    group.consumers.set(consumer, { seenAt: now });
    const byId = new Map(stream.entries.map((e) => [e.id, e]));
    const claimed: BusEntry[] = [];
    const ids = [...group.pending.keys()].sort((a, b) => compare(parseId(a), parseId(b)));
    for (const id of ids) {
      if (claimed.length >= options.count) break;
      const pending = group.pending.get(id)!;
      if (now - pending.deliveredAt < options.minIdleMs) continue;
      const entry = byId.get(id);
      if (!entry) {
        group.pending.delete(id); // trimmed meanwhile (Redis drops these too)
        continue;
      }
      group.pending.set(id, { consumer, deliveredAt: now });
      claimed.push({ id, payload: entry.payload, redelivered: true });
    }
    return claimed;
  }

  groups(name: string): GroupInfo[] {
    const stream = this.streams.get(name);
    if (!stream) return [];
    const now = Date.now();
    return [...stream.groups].map(([groupName, group]) => {
      const perConsumer = new Map<string, number>();
      for (const p of group.pending.values()) {
        perConsumer.set(p.consumer, (perConsumer.get(p.consumer) ?? 0) + 1);
      }
      return {
        name: groupName,
        pending: group.pending.size,
        lag: stream.entries.filter((e) => compare(e, group.lastDelivered) > 0).length,
        consumers: [...group.consumers].map(([consumer, { seenAt }]) => ({
          name: consumer,
          pending: perConsumer.get(consumer) ?? 0,
          idleMs: now - seenAt,
        })),
      };
    });
  }

  length(name: string): number {
    return this.streams.get(name)?.entries.length ?? 0;
  }

  removeConsumer(name: string, groupName: string, consumer: string): void {
    const group = this.streams.get(name)?.groups.get(groupName);
    if (!group) return;
    group.consumers.delete(consumer);
    for (const [id, p] of group.pending) if (p.consumer === consumer) group.pending.delete(id);
  }

  /** Removes entries at or before every group's first unacknowledged one. */
  trimAcknowledged(name: string): number {
    const stream = this.streams.get(name);
    if (!stream || stream.groups.size === 0) return 0;
    let keepFrom: { ms: number; seq: number } | null = null;
    for (const group of stream.groups.values()) {
      const bound = firstUnacknowledged(group);
      if (!keepFrom || compare(bound, keepFrom) < 0) keepFrom = bound;
    }
    const before = stream.entries.length;
    stream.entries = stream.entries.filter((e) => compare(e, keepFrom!) >= 0);
    return before - stream.entries.length;
  }

  delete(name: string): void {
    const stream = this.streams.get(name);
    if (stream) for (const wake of [...stream.waiters]) wake();
    this.streams.delete(name);
  }
}

/** The smallest id the group still needs: its oldest pending entry, else the one after the last delivered. */
function firstUnacknowledged(group: Group): { ms: number; seq: number } {
  let oldest: { ms: number; seq: number } | null = null;
  for (const id of group.pending.keys()) {
    const parsed = parseId(id);
    if (!oldest || compare(parsed, oldest) < 0) oldest = parsed;
  }
  return oldest ?? { ms: group.lastDelivered.ms, seq: group.lastDelivered.seq + 1 };
}

function parseId(id: string): { ms: number; seq: number } {
  const [ms, seq] = id.split("-");
  return { ms: Number(ms), seq: Number(seq) };
}

/** The index of the first entry after `position` (entries in id order): a binary search. */
function firstAfter(
  entries: readonly StoredEntry[],
  position: { ms: number; seq: number },
): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(entries[middle]!, position) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
