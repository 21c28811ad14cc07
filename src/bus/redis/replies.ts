/** Turns the nested arrays Redis answers for streams into the contract's shapes. */
import type { BusEntry, GroupInfo } from "../contract.js";

/** A RESP2 reply as ioredis gives it: bulk strings, integers, nil, arrays of those. */
export type Reply = Buffer | string | number | null | Reply[];

/**
 * The entries of a one-stream XREADGROUP answer: RESP2 nests them as
 * [[name, entries]], a RESP3 map comes flat as [name, entries]; nil is none.
 */
export function readEntries(reply: Reply): Reply[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0];
  const pair = Array.isArray(first) ? first : reply;
  return (pair[1] as Reply[] | undefined) ?? [];
}

/** [id, [field, value, …]] entries of XREADGROUP / XAUTOCLAIM; the payload is field "p". */
export function parseEntries(entries: Reply[], redelivered: boolean): BusEntry[] {
  const out: BusEntry[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry)) continue; // a deleted entry (nil) in older servers' answers
    const [id, fields] = entry as [Buffer, Reply[] | null];
    out.push({ id: id.toString(), payload: field(fields, "p") ?? Buffer.alloc(0), redelivered });
  }
  return out;
}

/** The value of a field in a flat [field, value, …] list. */
export function field(fields: Reply[] | null, name: string): Buffer | undefined {
  if (!fields) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (String(fields[i]) === name) {
      const value = fields[i + 1];
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
    }
  }
  return undefined;
}

/** A flat [field, value, …] list as an object of strings/numbers. */
function record(flat: Reply[]): Record<string, Reply> {
  const out: Record<string, Reply> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]!;
  return out;
}

/** XINFO GROUPS, with XINFO CONSUMERS asked per group. */
export async function parseGroups(
  groups: Reply[],
  consumersOf: (group: string) => Promise<Reply[]>,
): Promise<GroupInfo[]> {
  return Promise.all(
    groups.map(async (flat) => {
      const group = record(flat as Reply[]);
      const name = String(group.name);
      const consumers = (await consumersOf(name)).map((c) => {
        const consumer = record(c as Reply[]);
        return {
          name: String(consumer.name),
          pending: Number(consumer.pending),
          idleMs: Number(consumer.idle),
        };
      });
      // lag is nil when Redis cannot tell (entries deleted from the middle); then 0 is a floor.
      return { name, pending: Number(group.pending), lag: Number(group.lag ?? 0), consumers };
    }),
  );
}
