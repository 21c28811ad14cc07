/**
 * Waiting for room. An acquire is admitted when all of its inputs can be
 * pinned at once (its missing inputs reserved, least recently used unpinned
 * files evicted for them); until then it holds nothing. That is what keeps
 * acquires from deadlocking when several together need more than the cache:
 * no acquire sits on part of its inputs while waiting for the rest, and every
 * pin is held either by an admitted acquire (whose downloads end) or by a
 * lease (released when its task ends), so room comes back.
 *
 * Order is first come, first served: the first waiter is admitted before any
 * later one that needs room, so a large set is not starved by a stream of
 * small ones. An acquire that needs no room (everything it names is cached or
 * already being fetched) does not queue: it only adds pins.
 */
import type { InputRef } from "./contract.js";
import { abortReason } from "./errors.js";
import type { Entry, Ledger } from "./ledger.js";

interface Waiter {
  refs: readonly InputRef[];
  admitted(): void;
  fail(err: Error): void;
}

export class AdmissionQueue {
  readonly #waiting: Waiter[] = [];

  constructor(
    readonly ledger: Ledger,
    readonly now: () => number,
    /** Deletes the files of evicted entries. */
    readonly evict: (entries: readonly Entry[]) => void,
    readonly onWait: (refs: readonly InputRef[], need: number) => void,
  ) {}

  /** Resolves once `refs` are pinned; rejects with the signal's reason if it aborts first. */
  admit(refs: readonly InputRef[], signal: AbortSignal): Promise<void> {
    if (this.#waiting.length === 0 || this.ledger.need(refs) <= 0) {
      if (this.#tryAdmit(refs)) return Promise.resolve();
    }
    this.onWait(refs, this.ledger.need(refs));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(abortReason(signal));
        this.pump(); // those behind it may fit now
      };
      const waiter: Waiter = {
        refs,
        admitted: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        fail: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Admits waiters from the front while they fit. Call whenever pins drop or bytes are freed. */
  pump(): void {
    for (let head = this.#waiting[0]; head; head = this.#waiting[0]) {
      if (!this.#tryAdmit(head.refs)) return;
      this.#waiting.shift();
      head.admitted();
    }
  }

  /** Rejects every waiter (the cache is closing). */
  failAll(err: Error): void {
    for (const waiter of this.#waiting.splice(0)) waiter.fail(err);
  }

  #tryAdmit(refs: readonly InputRef[]): boolean {
    const admission = this.ledger.admit(refs, this.now());
    if (!admission.ok) return false;
    if (admission.evicted.length > 0) this.evict(admission.evicted);
    return true;
  }
}
