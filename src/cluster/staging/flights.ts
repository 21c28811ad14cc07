/**
 * Dedupe in flight (the note's boundaries 3 and 6: one download, many
 * callbacks): the work that makes one content ready runs once however many
 * acquires want it at the same time; each joins the running flight and gets
 * its result or its failure.
 *
 * A flight belongs to no single acquire, so one caller's signal cannot cancel
 * work others wait for: the flight aborts only when every acquire that joined
 * it has withdrawn (each timed out or failed elsewhere), or when the cache
 * closes. Its partial bytes stay on disk as a resume point. An acquire that
 * arrives while an aborted flight is still winding down starts a new flight
 * that waits for the old one to finish first, so two never write one file.
 */

export interface Interest {
  /** Settles with the flight: fulfilled when the content is ready. */
  result: Promise<void>;
  /** This acquire no longer waits; the last one out aborts the flight. Idempotent. */
  withdraw(): void;
}

interface Flight {
  controller: AbortController;
  interest: number;
  result: Promise<void>;
  /** Settles when the work is over; never rejects. */
  done: Promise<void>;
}

export interface FlightHooks {
  /** A flight for `key` begins (synchronously, inside join). */
  onStart(key: string): void;
  /** The newest flight for `key` has ended, whatever its outcome. */
  onEnd(key: string): void;
}

/** Why a flight stops when nobody waits for it any more; only the flight itself sees it. */
class Unwanted extends Error {
  constructor() {
    super("no acquire waits for this input any more");
  }
}

export class Flights {
  readonly #flights = new Map<string, Flight>();

  constructor(readonly hooks: FlightHooks) {}

  /** Joins the running flight for `key`, or starts one that runs `work`. */
  join(key: string, work: (signal: AbortSignal) => Promise<void>): Interest {
    let flight = this.#flights.get(key);
    if (!flight || flight.controller.signal.aborted) flight = this.#start(key, work, flight?.done);
    const joined = flight;
    joined.interest++;
    let withdrawn = false;
    return {
      result: joined.result,
      withdraw: () => {
        if (withdrawn) return;
        withdrawn = true;
        joined.interest--;
        if (joined.interest === 0 && this.#flights.get(key) === joined) {
          joined.controller.abort(new Unwanted());
        }
      },
    };
  }

  /** Aborts every flight with `reason` and waits until their work is over. */
  async abortAll(reason: unknown): Promise<void> {
    const running = [...this.#flights.values()];
    for (const flight of running) flight.controller.abort(reason);
    await Promise.all(running.map((flight) => flight.done));
  }

  #start(
    key: string,
    work: (signal: AbortSignal) => Promise<void>,
    previous: Promise<void> | undefined,
  ): Flight {
    const controller = new AbortController();
    const { signal } = controller;
    const result = (async () => {
      await previous;
      signal.throwIfAborted();
      try {
        await work(signal);
      } catch (err) {
        // Whatever an aborted step threw (an AbortError, a reset socket), the reason is the abort.
        throw signal.aborted ? signal.reason : err;
      }
    })();
    const flight: Flight = { controller, interest: 0, result, done: Promise.resolve() };
    const ended = () => {
      this.#ended(key, flight);
    };
    flight.done = result.then(ended, ended);
    this.#flights.set(key, flight);
    this.hooks.onStart(key);
    return flight;
  }

  #ended(key: string, flight: Flight): void {
    if (this.#flights.get(key) !== flight) return; // a newer flight took over
    this.#flights.delete(key);
    this.hooks.onEnd(key);
  }
}
