/**
 * Opened mothers, per job: layout and manifest parsed once, and the SHA-256
 * state of the bytes every child shares (the mother before its signing block).
 * A child's digest is then that state copied and fed the child's few-KB tail:
 * one read of the mother per job instead of one read of every child.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { openApk, requireSigned, type ApkLayout, type ManifestInfo } from "../apk/index.js";

export interface OpenedMother {
  layout: ApkLayout;
  manifest: ManifestInfo;
  /** SHA-256 state after the first `bytes` bytes of the mother. */
  prefixHash(bytes: number): Promise<Hash>;
  /**
   * SHA-256 (hex) of the whole mother: the state after `prefixBytes` (a
   * prefix the children need anyway) fed the rest, so the mother is read once.
   */
  digest(prefixBytes: number): Promise<string>;
}

const KEEP = 8; // mothers kept open; jobs beyond this reopen theirs (a few ms)

export class MotherCache {
  readonly #entries = new Map<string, Promise<OpenedMother>>();

  get(jobId: string, path: string): Promise<OpenedMother> {
    let entry = this.#entries.get(jobId);
    if (entry) {
      // Refresh its place: Map keeps insertion order, the oldest is evicted first.
      this.#entries.delete(jobId);
    } else {
      entry = open(path);
      entry.catch(() => this.#entries.delete(jobId));
    }
    this.#entries.set(jobId, entry);
    while (this.#entries.size > KEEP) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return entry;
  }

  forget(jobId: string): void {
    this.#entries.delete(jobId);
  }
}

async function open(path: string): Promise<OpenedMother> {
  const { layout, manifest } = await openApk(path);
  requireSigned(layout, false);
  const hashes = new Map<number, Promise<Hash>>();
  let whole: Promise<string> | null = null;
  const mother: OpenedMother = {
    layout,
    manifest,
    prefixHash(bytes: number) {
      let hash = hashes.get(bytes);
      if (!hash) {
        hash = hashRange(path, createHash("sha256"), 0, bytes);
        hash.catch(() => hashes.delete(bytes));
        hashes.set(bytes, hash);
      }
      return hash;
    },
    digest(prefixBytes: number) {
      if (whole) return whole;
      const next = (async () => {
        const prefix = (await mother.prefixHash(prefixBytes)).copy();
        const rest = await hashRange(path, prefix, prefixBytes, layout.size);
        return rest.digest("hex");
      })();
      next.catch(() => {
        whole = null;
      });
      whole = next;
      return next;
    },
  };
  return mother;
}

/** Feeds `hash` the bytes [start, end) of the file. */
async function hashRange(path: string, hash: Hash, start: number, end: number): Promise<Hash> {
  if (end <= start) return hash;
  const stream = createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash;
}
