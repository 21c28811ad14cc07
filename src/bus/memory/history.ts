/** Histories in memory: numbered entries, trimmed by length and age, under an epoch. */
import type { History, HistoryLimits, HistoryPosition, HistoryRead } from "../contract.js";
import { checkHistoryRead, checkLimits } from "../check.js";
import { newEpoch, readResult } from "../history-read.js";

interface Stored {
  epoch: string;
  /** Offset of the newest entry ever appended. */
  offset: number;
  entries: { offset: number; at: number; payload: Buffer }[];
  /** When it was last used: untouched for maxAgeMs, it is gone. */
  touchedAt: number;
}

export class MemoryHistories {
  private readonly stored = new Map<string, Stored>();

  open(name: string, limits: HistoryLimits): History {
    checkLimits(limits);
    return {
      name,
      append: (payload) => Promise.resolve(this.append(name, payload, limits)),
      read: (after, limit) => {
        checkHistoryRead(after, limit);
        return Promise.resolve(this.read(name, after, limit, limits));
      },
      position: () => Promise.resolve(position(this.current(name, limits))),
    };
  }

  private current(name: string, limits: HistoryLimits): Stored {
    const now = Date.now();
    let stored = this.stored.get(name);
    if (!stored || now - stored.touchedAt >= limits.maxAgeMs) {
      stored = { epoch: newEpoch(), offset: 0, entries: [], touchedAt: now };
      this.stored.set(name, stored);
    }
    stored.touchedAt = now;
    const oldest = now - limits.maxAgeMs;
    while (stored.entries.length > 0 && stored.entries[0]!.at <= oldest) stored.entries.shift();
    return stored;
  }

  private append(name: string, payload: Buffer, limits: HistoryLimits): HistoryPosition {
    const stored = this.current(name, limits);
    stored.offset += 1;
    stored.entries.push({ offset: stored.offset, at: Date.now(), payload: Buffer.from(payload) });
    if (stored.entries.length > limits.maxLength) {
      stored.entries.splice(0, stored.entries.length - limits.maxLength);
    }
    return position(stored);
  }

  private read(
    name: string,
    after: { epoch: string; offset: number },
    limit: number,
    limits: HistoryLimits,
  ): HistoryRead {
    const stored = this.current(name, limits);
    const entries = stored.entries
      .filter((e) => e.offset > after.offset)
      .slice(0, limit)
      .map(({ offset, payload }) => ({ offset, payload }));
    return readResult(position(stored), after, entries);
  }

  /** Forgets every history, as a bus restarted empty would. */
  clear(): void {
    this.stored.clear();
  }
}

const position = (stored: Stored): HistoryPosition => ({
  epoch: stored.epoch,
  offset: stored.offset,
});
