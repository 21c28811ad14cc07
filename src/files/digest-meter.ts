/**
 * A pass-through that hashes (sha256, md5) and counts the bytes of an upload
 * as they stream to the store, and cuts the stream off once it passes a
 * limit — so a chunked body of unknown length can never outgrow
 * files.maxUploadBytes, and the digests are ready when the store is done
 * without reading the object back. An `admit` check (the quota) may hold a
 * chunk back until it resolves, or refuse it. The hashing runs on a worker
 * thread (hash-workers.ts), beside the network and the disk.
 */
import { Transform, type TransformCallback } from "node:stream";
import { OffThreadDigests } from "./hash-workers.js";

/** Larger than a socket read, so a slow store still lets the client keep sending. */
const BUFFER_BYTES = 1024 * 1024;
/**
 * What the store is handed at once: socket reads (16–64 KiB) gathered, so a
 * 1 GiB upload is 1,024 writes instead of tens of thousands, each a round
 * trip through libuv's thread pool (profile in docs/benchmarks.md).
 */
const WRITE_BYTES = 1024 * 1024;
/** Chunks the meter holds for its reader: a gathered batch is 16–64 socket reads. */
const READABLE_CHUNKS = 64;

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
}

/** Resolves when `total` bytes may pass; rejects with the refusal otherwise. */
export type Admit = (total: number) => Promise<void>;

export interface MeterOptions {
  /** Bytes past which the stream is cut off with `tooLarge` (default: no limit). */
  limit?: number;
  tooLarge?: (size: number) => Error;
  /** The quota's check: may hold a chunk back, or refuse it. */
  admit?: Admit | null;
  /**
   * Digests to continue, kept by the caller (a tus upload's, across its
   * PATCHes); null: count and batch only. Default: a job of the meter's own,
   * dropped if the stream fails.
   */
  hashes?: OffThreadDigests | null;
}

export class DigestMeter extends Transform {
  #size = 0;
  #handed = 0;
  readonly #hashes: OffThreadDigests | null;
  readonly #ownsHashes: boolean;
  readonly #limit: number;
  readonly #tooLarge: (size: number) => Error;
  readonly #admit: Admit | null;
  /** Bytes not yet hashed nor handed on: sent together once they reach WRITE_BYTES. */
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  /** The error that cut the stream off (over the limit, or not admitted), if one did. */
  refusal: Error | null = null;

  constructor(options: MeterOptions = {}) {
    // Object mode on the way out: a reader takes the chunks one by one. In byte
    // mode read() — and so every for-await over the meter — concatenates all
    // that is buffered into a new Buffer: a copy of every byte, and garbage.
    super({
      writableHighWaterMark: BUFFER_BYTES,
      readableObjectMode: true,
      readableHighWaterMark: READABLE_CHUNKS,
    });
    this.#limit = options.limit ?? Infinity;
    this.#tooLarge = options.tooLarge ?? ((size) => new Error(`too large at ${size} bytes`));
    this.#admit = options.admit ?? null;
    this.#ownsHashes = options.hashes === undefined;
    this.#hashes = options.hashes === undefined ? new OffThreadDigests() : options.hashes;
  }

  /** Bytes hashed and handed on to the store so far. */
  get handed(): number {
    return this.#handed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      this.refusal = this.#tooLarge(this.#size);
      callback(this.refusal);
      return;
    }
    if (!this.#admit) {
      this.pass(chunk, callback);
      return;
    }
    this.#admit(this.#size).then(
      () => {
        this.pass(chunk, callback);
      },
      (err: unknown) => {
        this.refusal = err instanceof Error ? err : new Error(String(err));
        callback(this.refusal);
      },
    );
  }

  private pass(chunk: Buffer, callback: TransformCallback): void {
    this.#gathered.push(chunk);
    this.#gatheredBytes += chunk.length;
    if (this.#gatheredBytes >= WRITE_BYTES) this.handOn(callback);
    else callback();
  }

  /** The gathered bytes to the hash worker and on to the store, as one buffer. */
  private handOn(callback: TransformCallback): void {
    if (this.#gatheredBytes === 0) {
      callback();
      return;
    }
    const chunks = this.#gathered;
    const length = this.#gatheredBytes;
    this.#gathered = [];
    this.#gatheredBytes = 0;
    (this.#hashes?.update(chunks, length) ?? Promise.resolve()).then(
      () => {
        // On as they came: the store writes them together (one writev).
        for (const chunk of chunks) this.push(chunk);
        this.#handed += length;
        callback();
      },
      (err: unknown) => {
        callback(err as Error);
      },
    );
  }

  override _flush(callback: TransformCallback): void {
    this.handOn(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (err && this.#ownsHashes) this.#hashes?.drop();
    callback(err);
  }

  /** Once the stream has ended: the size and both digests (of the meter's own job). */
  async digests(): Promise<Digests> {
    if (!this.#ownsHashes || !this.#hashes) throw new Error("the meter's digests are its caller's");
    return { size: this.#size, ...(await this.#hashes.hex()) };
  }
}
