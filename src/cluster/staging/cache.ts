/**
 * openStagingCache: the contract's StagingCache over a directory (layout.ts),
 * composed of the ledger (what is held, what counts, what to evict), the
 * admission queue (waiting for room, first come first served), the flights
 * (one download per content however many wait) and the download itself.
 *
 * An acquire: checks its inputs (inputs.ts) → is admitted, which pins them
 * and reserves room for the missing ones → joins one flight per input (a
 * reuse check of a cached file, or a download) → gets a lease once all are
 * ready. Any failure unpins everything it pinned and withdraws from its
 * flights; a flight nobody waits for stops and keeps its partial bytes.
 */
import { mkdir, rm } from "node:fs/promises";
import { resolve } from "node:path";
import {
  GamedockError,
  asError,
  directoryError,
  fsError,
  makeDirectory,
  systemClock,
  type Clock,
  type Logger,
} from "../../core/index.js";
import { AdmissionQueue } from "./admission.js";
import type {
  InputRef,
  InputSource,
  StagingCache,
  StagingLease,
  StagingStats,
} from "./contract.js";
import { lockCacheDir, type DirLock } from "./dir-lock.js";
import { downloadInput } from "./download.js";
import { abortReason, badInput, cacheClosed, sizeMismatch } from "./errors.js";
import { Flights } from "./flights.js";
import { checkFits, distinctInputs } from "./inputs.js";
import { cacheLayout, fileLength, scanLayout, type CacheLayout } from "./layout.js";
import { Ledger, type Entry } from "./ledger.js";
import { checkCachedFile } from "./reuse-check.js";

export interface StagingCacheOptions {
  /** The cache's own directory (created level by level if missing). */
  dir: string;
  /** Bound on verified files plus downloads in progress, in bytes. */
  maxBytes: number;
  source: InputSource;
  clock?: Clock;
  logger?: Logger;
  /** Attempts in a row that bring no new byte before a dropped or unavailable source fails (default 5). */
  retries?: number;
  /** Pause before the first retry, doubled for each further one up to 10 s (default 500 ms). */
  retryDelayMs?: number;
}

export async function openStagingCache(options: StagingCacheOptions): Promise<StagingCache> {
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    const message = `the staging cache's size must be a positive number of bytes, not ${maxBytes}`;
    throw new GamedockError("E_CONFIG", message, { maxBytes });
  }
  const dir = resolve(options.dir);
  await makeDirectory(dir, directoryError("staging cache directory"));
  const lock = await lockCacheDir(dir).catch((err: unknown) => {
    throw fsError(err, dir, "staging cache directory");
  });
  try {
    const layout = cacheLayout(dir);
    await mkdir(layout.objects, { recursive: true });
    await mkdir(layout.partial, { recursive: true });
    const found = await scanLayout(layout);
    const ledger = new Ledger(maxBytes);
    for (const { sha256, size, lastUsed } of found.objects) {
      ledger.addFound({ sha256, state: "ready", size, diskBytes: 0, lastUsed });
    }
    for (const { sha256, bytes, lastUsed } of found.partials) {
      ledger.addFound({ sha256, state: "partial", size: 0, diskBytes: bytes, lastUsed });
    }
    return new DirectoryCache(dir, layout, ledger, lock, options);
  } catch (err) {
    await lock.release();
    throw fsError(err, dir, "staging cache directory");
  }
}

class DirectoryCache implements StagingCache {
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #admission: AdmissionQueue;
  readonly #flights: Flights;
  /** Deletions of evicted or dropped files, by content: a new download of it waits for them. */
  readonly #removals = new Map<string, Promise<void>>();
  #fetchedBytes = 0;
  #closing: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly layout: CacheLayout,
    readonly ledger: Ledger,
    readonly lock: DirLock,
    readonly options: StagingCacheOptions,
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger?.child({ component: "staging" });
    const now = () => this.#clock.now();
    this.#admission = new AdmissionQueue(
      ledger,
      now,
      (entries) => {
        this.#evict(entries);
      },
      (refs, need) => {
        this.#logger?.info(
          { inputs: refs.length, need, used: ledger.used(), maxBytes: ledger.maxBytes },
          "waiting for room in the staging cache",
        );
      },
    );
    this.#flights = new Flights({
      onStart: (sha256) => {
        ledger.setBusy(sha256, true);
      },
      onEnd: (sha256) => {
        ledger.setBusy(sha256, false);
        const entry = ledger.get(sha256);
        if (entry) ledger.settle(entry);
        this.#admission.pump();
      },
    });
    // A smaller --cache-max than last time: evict down to it now.
    this.#evict(ledger.shrinkToFit());
  }

  async acquire(inputs: readonly InputRef[], signal: AbortSignal): Promise<StagingLease> {
    if (this.#closing) throw cacheClosed(this.dir);
    const refs = distinctInputs(inputs);
    checkFits(refs, this.ledger.maxBytes);
    if (signal.aborted) throw abortReason(signal);
    await this.#admission.admit(refs, signal);
    if (this.#closing) {
      this.ledger.unpin(refs, this.#clock.now());
      throw cacheClosed(this.dir);
    }
    const interests = refs.map((ref) =>
      this.#flights.join(ref.sha256, (flightSignal) => this.#makeReady(ref, flightSignal)),
    );
    try {
      await untilAborted(Promise.all(interests.map((interest) => interest.result)), signal);
      for (const ref of refs) {
        const entry = this.ledger.get(ref.sha256);
        if (entry?.state !== "ready")
          throw new GamedockError("E_INTERNAL", `input ${ref.sha256} is not ready`);
        if (entry.size !== ref.size) throw sizeMismatch(ref, entry.size);
      }
    } catch (err) {
      for (const interest of interests) interest.withdraw();
      this.ledger.unpin(refs, this.#clock.now());
      this.#admission.pump();
      throw signal.aborted ? abortReason(signal) : err;
    }
    return this.#lease(refs);
  }

  stats(): StagingStats {
    return {
      bytes: this.ledger.used(),
      maxBytes: this.ledger.maxBytes,
      files: this.ledger.readyCount(),
      fetchedBytes: this.#fetchedBytes,
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = cacheClosed(this.dir);
      this.#admission.failAll(closed);
      await this.#flights.abortAll(closed);
      await Promise.all(this.#removals.values());
      await this.lock.release();
    })();
    return this.#closing;
  }

  #lease(refs: readonly InputRef[]): StagingLease {
    const held = new Set(refs.map((ref) => ref.sha256));
    let released = false;
    return {
      pathOf: (sha256) => {
        const key = sha256.toLowerCase();
        if (!held.has(key)) {
          throw badInput(`input ${sha256} is not held by this staging lease`, { sha256 });
        }
        return this.layout.objectPath(key);
      },
      release: () => {
        if (released) return;
        released = true;
        this.ledger.unpin(refs, this.#clock.now());
        this.#admission.pump();
      },
    };
  }

  /** The work of one flight: reuse the cached file if it is intact, else download. */
  async #makeReady(ref: InputRef, signal: AbortSignal): Promise<void> {
    const { sha256 } = ref;
    await this.#removals.get(sha256);
    const entry = this.ledger.get(sha256);
    if (!entry) throw new GamedockError("E_INTERNAL", `input ${sha256} is not pinned`);
    if (entry.state === "ready") {
      const cached = { sha256, size: entry.size };
      const path = this.layout.objectPath(sha256);
      const verdict = await checkCachedFile(path, cached, this.#clock.now());
      if (verdict === "intact") return;
      if (verdict === "rehashed") {
        this.#logger?.info({ sha256 }, "cached input was touched but still matches; reused");
        return;
      }
      this.#logger?.warn(
        { sha256, verdict },
        "cached input changed on disk (written through a sandbox's hard link?); fetching it again",
      );
      await rm(path, { force: true });
      entry.state = "partial";
      entry.size = ref.size;
      entry.diskBytes = 0;
    }
    try {
      await downloadInput({
        ref,
        layout: this.layout,
        source: this.options.source,
        signal,
        retries: this.options.retries ?? 5,
        retryDelayMs: this.options.retryDelayMs ?? 500,
        onFetched: (bytes) => (this.#fetchedBytes += bytes),
        now: () => this.#clock.now(),
        logger: this.#logger,
      });
      entry.state = "ready";
      entry.size = ref.size;
      entry.diskBytes = 0;
    } finally {
      // What is left on disk counts until the download resumes or the bytes are evicted.
      if (entry.state === "partial") {
        entry.diskBytes = await fileLength(this.layout.partialPath(sha256)).catch(() => 0);
      }
    }
  }

  #evict(entries: readonly Entry[]): void {
    for (const entry of entries) {
      const path =
        entry.state === "ready"
          ? this.layout.objectPath(entry.sha256)
          : this.layout.partialPath(entry.sha256);
      this.#logger?.debug(
        { sha256: entry.sha256, state: entry.state },
        "evicted from the staging cache",
      );
      this.#remove(entry.sha256, path);
    }
  }

  #remove(sha256: string, path: string): void {
    const previous = this.#removals.get(sha256) ?? Promise.resolve();
    const removal: Promise<void> = previous
      .then(() => rm(path, { force: true }))
      .catch((err: unknown) => this.#logger?.error({ err, path }, "cannot delete an evicted input"))
      .finally(() => {
        if (this.#removals.get(sha256) === removal) this.#removals.delete(sha256);
      });
    this.#removals.set(sha256, removal);
  }
}

/** `promise`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => {
      reject(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(asError(err));
      },
    );
  });
}
