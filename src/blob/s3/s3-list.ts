/** ListObjectsV2, page after page, as one stream of objects. */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { BlobInfo } from "../contract.js";
import { bareEtag, call, type S3Target } from "./s3-target.js";

/** Every object whose key starts with `prefix` (raw: the store's bookkeeping included). */
export async function* listObjects(target: S3Target, prefix: string): AsyncGenerator<BlobInfo> {
  const { client, bucket } = target;
  let token: string | undefined;
  do {
    const page = await call(target, "list", prefix, undefined, () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix || undefined,
          ContinuationToken: token,
        }),
      ),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      yield {
        key: object.Key,
        size: object.Size ?? 0,
        etag: bareEtag(object.ETag),
        lastModified: object.LastModified ?? new Date(0),
      };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
