/**
 * get for s3: GetObject with a Range header, streamed. HTTP lets a server
 * ignore Range (answering 200 with everything) or serve more than asked (s3rver
 * serves "bytes=0-0" as the whole object), so the answer is checked against
 * Content-Range and cut to the bytes asked for.
 */
import { Readable } from "node:stream";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { GamedockError } from "../../core/index.js";
import type { BlobKey, ByteRange } from "../contract.js";
import { validateBlobKey } from "../keys.js";
import { checkRangeShape, clampRange, rangeNotSatisfiable, sliceStream } from "../range.js";
import { s3ErrorName, s3Status } from "./s3-errors.js";
import { call, type S3Target } from "./s3-target.js";

interface ServedRange {
  start: number;
  end: number;
  size: number;
}

function parseContentRange(header: string | undefined): ServedRange | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? "");
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}

/** Exactly the asked bytes of `body`, whatever part of the object the store sent. */
function trimToRange(
  key: BlobKey,
  range: ByteRange,
  body: Readable,
  served: ServedRange,
): Readable {
  const want = clampRange(key, range, served.size);
  if (served.start === want.start && served.end === want.end) return body;
  if (served.start > want.start || served.end < want.end) {
    throw new GamedockError(
      "E_INTERNAL",
      `the store answered bytes ${served.start}-${served.end} of ${JSON.stringify(key)} for a request of ${want.start}-${want.end}`,
      { key },
    );
  }
  return sliceStream(body, want.start - served.start, want.end - want.start + 1);
}

export async function getFromS3(
  target: S3Target,
  key: BlobKey,
  range?: ByteRange,
): Promise<Readable> {
  validateBlobKey(key);
  if (range) checkRangeShape(key, range);
  const answer = await call(target, "read", key, undefined, async () => {
    try {
      return await target.client.send(
        new GetObjectCommand({
          Bucket: target.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
    } catch (err) {
      const name = s3ErrorName(err);
      if (name === "NoSuchKey" || (s3Status(err) === 404 && name !== "NoSuchBucket")) {
        throw new GamedockError(
          "E_NOT_FOUND",
          `object not found: ${JSON.stringify(key)} in s3 bucket ${JSON.stringify(target.bucket)} at ${target.endpoint}`,
          { key, bucket: target.bucket, endpoint: target.endpoint },
        );
      }
      if (range && (name === "InvalidRange" || s3Status(err) === 416)) {
        throw rangeNotSatisfiable(key, range);
      }
      throw err;
    }
  });
  const body = answer.Body;
  if (!(body instanceof Readable)) {
    throw new GamedockError(
      "E_INTERNAL",
      `GetObject of ${JSON.stringify(key)} returned no stream`,
      { key },
    );
  }
  if (!range) return body;
  try {
    // No Content-Range: the store ignored Range and sent the whole object.
    const served = parseContentRange(answer.ContentRange) ?? {
      start: 0,
      end: (answer.ContentLength ?? 0) - 1,
      size: answer.ContentLength ?? 0,
    };
    return trimToRange(key, range, body, served);
  } catch (err) {
    body.destroy();
    throw err;
  }
}
