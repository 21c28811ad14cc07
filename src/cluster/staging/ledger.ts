/**
 * The staging cache's index in memory: which contents it holds, how many bytes
 * each counts against `maxBytes`, which are pinned, and the LRU order. No I/O
 * here: the cache does the file work and tells the ledger; the ledger decides
 * what fits and what to evict, synchronously, so two acquires never both
 * count on the same free bytes.
 *
 * What an entry counts:
 * - a verified file: its size;
 * - a partial download that someone wants (pinned) or that is being worked
 *   on (busy): the input's whole size — room is reserved when the download
 *   starts, so the bound holds while it runs;
 * - an idle partial download (a resume point nobody waits for): its bytes on
 *   disk. It is evictable like an unpinned verified file.
 */
import type { InputRef } from "./contract.js";

export interface Entry {
  sha256: string;
  state: "ready" | "partial";
  /** Verified size (ready), the size acquires ask for (partial), or 0 when not known yet. */
  size: number;
  /** Bytes of a partial download on disk (partial only; kept current by the cache). */
  diskBytes: number;
  /** Acquires in progress and held leases that include this content. */
  pins: number;
  lastUsed: number;
  /** Tie-break for equal lastUsed (a manual clock): later use, higher number. */
  useOrder: number;
}

export type Admission = { ok: true; evicted: Entry[] } | { ok: false };

export class Ledger {
  readonly #entries = new Map<string, Entry>();
  readonly #busy = new Set<string>();
  #useOrder = 0;

  constructor(readonly maxBytes: number) {}

  get(sha256: string): Entry | undefined {
    return this.#entries.get(sha256);
  }

  /** Adds what the cache found on disk at open. */
  addFound(entry: Omit<Entry, "pins" | "useOrder">): void {
    this.#entries.set(entry.sha256, { ...entry, pins: 0, useOrder: 0 });
  }

  /** A flight (download or reuse check) works on this content: it is never evicted meanwhile. */
  setBusy(sha256: string, busy: boolean): void {
    if (busy) this.#busy.add(sha256);
    else this.#busy.delete(sha256);
  }

  counted(entry: Entry): number {
    if (entry.state === "ready") return entry.size;
    if (entry.pins > 0 || this.#busy.has(entry.sha256)) {
      return Math.max(entry.size, entry.diskBytes);
    }
    return entry.diskBytes;
  }

  used(): number {
    let total = 0;
    for (const entry of this.#entries.values()) total += this.counted(entry);
    return total;
  }

  readyCount(): number {
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.state === "ready") count++;
    return count;
  }

  /** Bytes that admitting `refs` adds to used() (0 or less: everything is held or on its way). */
  need(refs: readonly InputRef[]): number {
    let need = 0;
    for (const ref of refs) {
      const entry = this.#entries.get(ref.sha256);
      if (!entry) {
        need += ref.size;
      } else if (entry.state === "partial" && !this.#busy.has(ref.sha256)) {
        need += Math.max(ref.size, entry.diskBytes) - this.counted(entry);
      }
    }
    return need;
  }

  /**
   * Pins every input of one acquire at once, evicting least recently used
   * unpinned entries (never the acquire's own) to make room — or changes
   * nothing and says it does not fit yet.
   */
  admit(refs: readonly InputRef[], now: number): Admission {
    const need = this.need(refs);
    const free = this.maxBytes - this.used();
    const evicted: Entry[] = [];
    if (need > free) {
      const own = new Set(refs.map((ref) => ref.sha256));
      const candidates = [...this.#entries.values()]
        .filter((entry) => this.#evictable(entry) && !own.has(entry.sha256))
        .sort(leastRecentFirst);
      let room = free;
      for (const entry of candidates) {
        if (room >= need) break;
        room += this.counted(entry);
        evicted.push(entry);
      }
      if (room < need) return { ok: false };
      for (const entry of evicted) this.#entries.delete(entry.sha256);
    }
    for (const ref of refs) {
      let entry = this.#entries.get(ref.sha256);
      if (!entry) {
        entry = {
          sha256: ref.sha256,
          state: "partial",
          size: ref.size,
          diskBytes: 0,
          pins: 0,
          lastUsed: now,
          useOrder: 0,
        };
        this.#entries.set(ref.sha256, entry);
      } else if (entry.state === "partial" && !this.#busy.has(ref.sha256)) {
        entry.size = ref.size;
      }
      entry.pins++;
      this.touch(entry, now);
    }
    return { ok: true, evicted };
  }

  unpin(refs: readonly InputRef[], now: number): void {
    for (const ref of refs) {
      const entry = this.#entries.get(ref.sha256);
      if (!entry) continue;
      entry.pins = Math.max(0, entry.pins - 1);
      this.touch(entry, now);
      this.settle(entry);
    }
  }

  touch(entry: Entry, now: number): void {
    entry.lastUsed = now;
    entry.useOrder = ++this.#useOrder;
  }

  /** Forgets a partial entry that holds no bytes and that nobody wants. */
  settle(entry: Entry): void {
    const idle = entry.pins === 0 && !this.#busy.has(entry.sha256);
    if (idle && entry.state === "partial" && entry.diskBytes === 0) {
      this.#entries.delete(entry.sha256);
    }
  }

  /** Evicts least recently used entries until used() fits maxBytes (a smaller cap after a restart). */
  shrinkToFit(): Entry[] {
    const evicted: Entry[] = [];
    let used = this.used();
    const candidates = [...this.#entries.values()]
      .filter((entry) => this.#evictable(entry))
      .sort(leastRecentFirst);
    for (const entry of candidates) {
      if (used <= this.maxBytes) break;
      used -= this.counted(entry);
      this.#entries.delete(entry.sha256);
      evicted.push(entry);
    }
    return evicted;
  }

  #evictable(entry: Entry): boolean {
    return entry.pins === 0 && !this.#busy.has(entry.sha256);
  }
}

function leastRecentFirst(a: Entry, b: Entry): number {
  return a.lastUsed - b.lastUsed || a.useOrder - b.useOrder;
}
