/**
 * A pass-through that hashes (sha256, md5) and counts the bytes of an upload
 * as they stream to the store, and cuts the stream off once it passes a
 * limit — so a chunked body of unknown length can never outgrow
 * files.maxUploadBytes, and the digests are ready when the store is done
 * without reading the object back. An `admit` check (the quota) may hold a
 * chunk back until it resolves, or refuse it. The hashing runs on worker
 * threads (hash-workers.ts), beside the network and the disk.
 */
import { Transform, type TransformCallback } from "node:stream";
import { BATCH_BYTES, OffThreadDigests } from "./hash-workers.js";

/** Larger than a socket read, so a slow store still lets the client keep sending. */
const BUFFER_BYTES = 1024 * 1024;
/**
 * What the store is handed at once: socket reads (16–64 KiB) gathered, so a
 * 1 GiB upload is 1,024 writes instead of tens of thousands, each a round
 * trip through libuv's thread pool (profile in docs/benchmarks.md).
 */
const WRITE_BYTES = 1024 * 1024;

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
}

/** Resolves when `total` bytes may pass; rejects with the refusal otherwise. */
export type Admit = (total: number) => Promise<void>;

export class DigestMeter extends Transform {
  #size = 0;
  readonly #hashes = new OffThreadDigests();
  /** Bytes not yet hashed nor handed on: sent together once they reach WRITE_BYTES. */
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  /** The error that cut the stream off (over the limit, or not admitted), if one did. */
  refusal: Error | null = null;

  constructor(
    private readonly limit: number,
    private readonly tooLarge: (size: number) => Error,
    private readonly admit: Admit | null = null,
  ) {
    super({ writableHighWaterMark: BUFFER_BYTES, readableHighWaterMark: BUFFER_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.limit) {
      this.refusal = this.tooLarge(this.#size);
      callback(this.refusal);
      return;
    }
    if (!this.admit) {
      this.pass(chunk, callback);
      return;
    }
    this.admit(this.#size).then(
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

  /** The gathered bytes to the hash workers and on to the store, as one buffer. */
  private handOn(callback: TransformCallback): void {
    if (this.#gatheredBytes === 0) {
      callback();
      return;
    }
    const chunks = this.#gathered;
    const length = this.#gatheredBytes;
    this.#gathered = [];
    this.#gatheredBytes = 0;
    this.hashAll(chunks, length).then(
      () => {
        // On as they came: the store writes them together (one writev).
        for (const chunk of chunks) this.push(chunk);
        callback();
      },
      (err: unknown) => {
        callback(err as Error);
      },
    );
  }

  /** To the hash workers in batches that fit their buffers (a chunk larger than one is sliced). */
  private async hashAll(chunks: readonly Buffer[], length: number): Promise<void> {
    if (length <= BATCH_BYTES) {
      await this.#hashes.update(chunks, length);
      return;
    }
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += BATCH_BYTES) {
        const slice = chunk.subarray(at, at + BATCH_BYTES);
        await this.#hashes.update([slice], slice.length);
      }
    }
  }

  override _flush(callback: TransformCallback): void {
    this.handOn(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (err) this.#hashes.drop();
    callback(err);
  }

  /** Once the stream has ended: the size and both digests. */
  async digests(): Promise<Digests> {
    return { size: this.#size, ...(await this.#hashes.hex()) };
  }
}
