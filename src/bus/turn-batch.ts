/**
 * Bus calls made during one event-loop turn, sent together: each caller
 * awaits its own item's result, and the items that share a key (a stream)
 * go to the bus as one call once the turn is over (setImmediate). Under
 * load this turns one command per message into one per turn — fewer
 * writes, fewer Redis round trips — and adds no wait when idle.
 */
import { asError } from "../core/index.js";

export type BatchCall<K, T, R> = (key: K, items: T[]) => Promise<R[]>;

interface Waiting<T, R> {
  items: T[];
  settle: { resolve: (result: R) => void; reject: (err: unknown) => void }[];
}

export class TurnBatch<K, T, R> {
  private waiting = new Map<K, Waiting<T, R>>();
  private scheduled = false;

  /** `call` answers one result per item, in order; at most `maxItems` items go in one call. */
  constructor(
    private readonly call: BatchCall<K, T, R>,
    private readonly maxItems = 512,
  ) {}

  add(key: K, item: T): Promise<R> {
    let batch = this.waiting.get(key);
    if (!batch) {
      batch = { items: [], settle: [] };
      this.waiting.set(key, batch);
    }
    const { items, settle } = batch;
    items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.send();
      });
    }
    return new Promise<R>((resolve, reject) => settle.push({ resolve, reject }));
  }

  private send(): void {
    const batches = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    for (const [key, { items, settle }] of batches) {
      for (let start = 0; start < items.length; start += this.maxItems) {
        const waiters = settle.slice(start, start + this.maxItems);
        let sent: Promise<R[]>;
        try {
          sent = this.call(key, items.slice(start, start + this.maxItems));
        } catch (err) {
          sent = Promise.reject(asError(err));
        }
        sent.then(
          (results) => {
            waiters.forEach((w, i) => {
              w.resolve(results[i] as R);
            });
          },
          (err: unknown) => {
            waiters.forEach((w) => {
              w.reject(err);
            });
          },
        );
      }
    }
  }
}
