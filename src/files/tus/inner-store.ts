/**
 * The @tus datastore that holds the bytes of uploads in progress, inside the
 * files target so that a finished upload is already a blob of that target
 * (no copy): its key is `tus/<id>`.
 *
 * - fs: @tus/file-store in `<root>/tus`, the upload at `<root>/tus/<id>`, its
 *   info in `<root>/tus/<id>.json` (removed when the upload is registered).
 * - s3: @tus/s3-store in the same bucket with upload id `tus/<id>`: one
 *   multipart upload completed into `tus/<id>`, plus `tus/<id>.info` and a
 *   `tus/<id>.part` for a tail shorter than a part. It is loaded only for an
 *   s3 target, so the embedded default never loads the AWS SDK.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DataStore } from "@tus/server";
import type { BlobKey, BlobTargetConfig } from "../../blob/index.js";
import { GamedockError } from "../../core/index.js";

export const TUS_PREFIX = "tus/";

export interface InnerStore {
  readonly store: DataStore;
  /** The id the inner store knows the upload by. */
  innerId(id: string): string;
  /** Where the finished upload's bytes are, as a key of the files target. */
  storedKey(id: string): BlobKey;
  /** The store's bookkeeping objects for an upload (removed once it is finished or discarded). */
  sidecarKeys(id: string): BlobKey[];
  close(): Promise<void>;
}

export interface InnerStoreOptions {
  /** An unfinished upload expires this long after its creation, ms. */
  expirationMs: number;
  /** Largest upload; sizes the parts of an s3 upload whose length is deferred. */
  maxUploadBytes: number;
}

export async function openInnerStore(
  target: BlobTargetConfig,
  options: InnerStoreOptions,
): Promise<InnerStore> {
  if (target.driver === "fs") {
    if (target.root === "") {
      throw new GamedockError(
        "E_CONFIG",
        "the files target's fs root must be resolved to a directory",
      );
    }
    const directory = join(target.root, "tus");
    // FileStore creates it too, but from its constructor, where a failure is an uncaught throw.
    await mkdir(directory, { recursive: true });
    const { FileStore } = await import("@tus/file-store");
    const store = new FileStore({
      directory,
      expirationPeriodInMilliseconds: options.expirationMs,
    });
    return {
      store,
      innerId: (id) => id,
      storedKey: (id) => `${TUS_PREFIX}${id}`,
      sidecarKeys: (id) => [`${TUS_PREFIX}${id}.json`],
      close: () => Promise.resolve(),
    };
  }
  const { openS3InnerStore } = await import("./inner-s3.js");
  return openS3InnerStore(target, options);
}
