/**
 * Listeners by key — an event name or a push msgId — without Node's
 * EventEmitter, which browsers lack. A listener that throws does not stop
 * the others or the client: the error goes to `onListenerError`.
 */
import type { Unsubscribe } from "./types.js";

type Listener = (...args: never[]) => void;

export class Listeners<Key> {
  private readonly byKey = new Map<Key, Set<Listener>>();

  constructor(private readonly onListenerError: (err: unknown, key: Key) => void) {}

  add(key: Key, listener: Listener): Unsubscribe {
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    };
  }

  has(key: Key): boolean {
    return (this.byKey.get(key)?.size ?? 0) > 0;
  }

  emit(key: Key, ...args: unknown[]): void {
    const set = this.byKey.get(key);
    if (!set) return;
    // A copy: a listener may unsubscribe itself (or another) while this runs.
    for (const listener of [...set]) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (err) {
        this.onListenerError(err, key);
      }
    }
  }
}
