/**
 * A PATCH body into the meter that hashes it on its way to the store.
 */
import type { Readable, Writable } from "node:stream";

/**
 * Pipes `source` into `meter`. A source that fails (the client went away)
 * or closes before its end ends the meter instead of destroying it: the
 * bytes the meter already hashed still reach the store, so the stored offset
 * and the digests stay in step and the next PATCH continues them. Resolves
 * with the source's failure, or null at its end.
 */
export function feed(source: Readable, meter: Writable): Promise<Error | null> {
  return new Promise((resolve) => {
    const stop = (err: Error): void => {
      source.unpipe(meter);
      if (!meter.writableEnded) meter.end();
      resolve(err);
    };
    source.once("error", stop);
    source.once("close", () => {
      if (!source.readableEnded) stop(new Error("the request body closed before its end"));
    });
    source.once("end", () => {
      resolve(null);
    });
    source.pipe(meter);
  });
}
