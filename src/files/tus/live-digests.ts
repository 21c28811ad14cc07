/**
 * The running sha256 + md5 of the tus uploads this instance takes PATCHes
 * for, computed natively on the hash worker (hash-workers.ts) and kept in
 * memory between PATCHes with the offset they cover. Node's hashes cannot be
 * saved and loaded elsewhere, so when a PATCH arrives at an offset this
 * instance's digests do not cover — another instance took the upload over,
 * or this one restarted — the stored bytes they miss are read back once and
 * hashed first: from where this instance's digests stopped, else from the
 * start. The bytes of an upload never change once stored (appends only), so
 * digests that covered the first N bytes still do.
 *
 * A store that cannot read an upload in progress (s3) gives no digests then:
 * the upload's digests are computed from the object when it finishes.
 */
import { performance } from "node:perf_hooks";
import type { BlobStore } from "../../blob/index.js";
import type { Logger } from "../../core/index.js";
import { OffThreadDigests } from "../hash-workers.js";

/** Digests kept at most (LRU): an abandoned upload's go first; a miss costs one read back. */
const MAX_LIVE = 1024;

interface Live {
  hashes: OffThreadDigests;
  /** Bytes they cover, from the start of the upload. */
  offset: number;
}

export class LiveDigests {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Digests of the first `offset` bytes of upload `id` (stored at `key`), to
   * continue with the next PATCH; null when the store cannot read the bytes
   * they would need. Taken out while the PATCH runs: give them back with keep().
   */
  async take(id: string, key: string, offset: number): Promise<OffThreadDigests | null> {
    const live = this.live.get(id);
    this.live.delete(id);
    if (live?.offset === offset) return live.hashes;
    if (live && live.offset > offset) live.hashes.drop(); // ahead of the stored bytes: not ours
    const from = live && live.offset < offset ? live.offset : 0;
    const hashes = from > 0 ? live!.hashes : new OffThreadDigests();
    if (offset === 0) return hashes;
    try {
      return (await this.readBack(id, key, hashes, from, offset)) ? hashes : null;
    } catch (err) {
      hashes.drop();
      this.logger.warn(
        { event: "tus-digests-unavailable", id, from, to: offset, err },
        "could not read an upload's stored bytes back; its digests will be read from the object",
      );
      return null;
    }
  }

  /** `hashes` cover the first `offset` bytes of upload `id`: kept for its next PATCH. */
  keep(id: string, hashes: OffThreadDigests, offset: number): void {
    this.forget(id);
    this.live.set(id, { hashes, offset });
    if (this.live.size > MAX_LIVE) {
      const [oldest] = this.live.keys();
      if (oldest !== undefined) this.forget(oldest);
    }
  }

  /** The upload finished, failed or went: its digests are no longer needed. */
  forget(id: string): void {
    this.live.get(id)?.hashes.drop();
    this.live.delete(id);
  }

  /** Hashes the stored bytes [from, to); false when the store cannot read them. */
  private async readBack(
    id: string,
    key: string,
    hashes: OffThreadDigests,
    from: number,
    to: number,
  ): Promise<boolean> {
    const started = performance.now();
    const body = await this.blobs.resumable.read(key, from, to);
    if (body === null) {
      hashes.drop();
      return false;
    }
    let read = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      await hashes.update([chunk], chunk.length);
      read += chunk.length;
    }
    if (read !== to - from) {
      throw new Error(`read ${read} bytes of ${key} back where ${to - from} are stored`);
    }
    this.logger.info(
      { event: "tus-digests-caught-up", id, from, to, ms: Math.round(performance.now() - started) },
      "read an upload's stored bytes back to continue its digests (another instance took PATCHes)",
    );
    return true;
  }
}
