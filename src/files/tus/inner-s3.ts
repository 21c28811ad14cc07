/** @tus/s3-store on an s3 files target (see inner-store.ts for the layout). */
import type { KvStore } from "@tus/server";
import { S3Store, type MetadataValue } from "@tus/s3-store";
import type { BlobTargetConfig } from "../../blob/index.js";
import { TUS_PREFIX, type InnerStore, type InnerStoreOptions } from "./inner-store.js";

type S3Config = Extract<BlobTargetConfig, { driver: "s3" }>;

/**
 * S3Store caches each upload's info object in memory by default. With several
 * instances that copy goes stale (a deferred length declared elsewhere), and
 * it is never evicted for uploads that are abandoned; reading the info object
 * again is one small GET per request.
 */
class NoCache implements KvStore<MetadataValue> {
  get(): Promise<MetadataValue | undefined> {
    return Promise.resolve(undefined);
  }
  set(): Promise<void> {
    return Promise.resolve();
  }
  delete(): Promise<void> {
    return Promise.resolve();
  }
}

class GamedockS3Store extends S3Store {
  constructor(
    options: ConstructorParameters<typeof S3Store>[0],
    /** Upper bound of a deferred-length upload. */
    private readonly sizeBound: number,
  ) {
    super(options);
  }

  /**
   * For a deferred length S3Store assumes 5 TiB and cuts 550 MB parts, each
   * staged in a temp file; our uploads cannot pass files.maxUploadBytes.
   */
  protected override calcOptimalPartSize(size?: number): number {
    return super.calcOptimalPartSize(size ?? this.sizeBound);
  }

  close(): void {
    this.client.destroy();
  }
}

export function openS3InnerStore(target: S3Config, options: InnerStoreOptions): InnerStore {
  // Same client settings as the blob driver (src/blob/s3.ts).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const store = new GamedockS3Store(
    {
      partSize: target.partSize,
      expirationPeriodInMilliseconds: options.expirationMs,
      // Expiry is swept from our metadata; object tags are not implemented by
      // every S3-compatible store (s3rver, older OSS/KS3).
      useTags: false,
      cache: new NoCache(),
      s3ClientConfig: {
        bucket: target.bucket,
        endpoint: target.endpoint,
        region: target.region,
        forcePathStyle: target.forcePathStyle,
        credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
        // CRC32 checksums are refused by many S3-compatible stores.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      },
    },
    options.maxUploadBytes,
  );
  return {
    store,
    innerId: (id) => `${TUS_PREFIX}${id}`,
    storedKey: (id) => `${TUS_PREFIX}${id}`,
    sidecarKeys: (id) => [`${TUS_PREFIX}${id}.info`, `${TUS_PREFIX}${id}.part`],
    close: () => {
      store.close();
      return Promise.resolve();
    },
  };
}
