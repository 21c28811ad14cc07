/**
 * The tus checksum extension: a PATCH may carry `Upload-Checksum: <algorithm>
 * <base64 digest>` over its body. Neither @tus/server nor its stores check it,
 * so we do: the body is spooled to a temp file (disk, never memory) while it is
 * hashed, and only a body whose digest matches is passed on to the store. A
 * mismatch discards the spool, so the upload's offset does not move (460).
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GamedockError, claimTempPath, releaseTemp } from "../../core/index.js";

/** Advertised in Tus-Checksum-Algorithm, in this order. */
export const CHECKSUM_ALGORITHMS = ["sha1", "md5", "sha256"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { sha1: 20, md5: 16, sha256: 32 };

export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm;
  digest: Buffer;
}

function isAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** null when the header is absent; E_INVALID_REQUEST (400, as tus requires) when unusable. */
export function parseUploadChecksum(header: string | undefined): ExpectedChecksum | null {
  if (header === undefined) return null;
  const match = /^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(header);
  const algorithm = match?.[1]?.toLowerCase() ?? "";
  if (!match || !isAlgorithm(algorithm)) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `Upload-Checksum ${JSON.stringify(header)} is not "<algorithm> <base64 digest>" with an algorithm of ${CHECKSUM_ALGORITHMS.join(", ")}`,
      { header },
    );
  }
  const digest = Buffer.from(match[2] ?? "", "base64");
  if (digest.length !== DIGEST_BYTES[algorithm]) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `Upload-Checksum: a ${algorithm} digest is ${DIGEST_BYTES[algorithm]} bytes, base64-encoded; got ${digest.length} bytes`,
      { header },
    );
  }
  return { algorithm, digest };
}

export interface VerifiedSpool {
  size: number;
  /** The verified body, read back from disk. */
  open(): Readable;
  remove(): Promise<void>;
}

/**
 * Writes `body` to a temp file in `directory` while hashing it; resolves with
 * the spool when the digest matches, else removes it and throws E_CHECKSUM.
 */
export async function spoolVerified(
  body: Readable,
  expected: ExpectedChecksum,
  directory: string,
): Promise<VerifiedSpool> {
  await mkdir(directory, { recursive: true });
  // Core's temp naming: a spool whose process was killed is removed by the next sweep.
  const path = claimTempPath(directory);
  const remove = async (): Promise<void> => {
    await rm(path, { force: true });
    releaseTemp(path);
  };
  const hash = createHash(expected.algorithm);
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(path));
  } catch (err) {
    await remove();
    throw err;
  }
  const actual = hash.digest();
  if (!actual.equals(expected.digest)) {
    await remove();
    throw new GamedockError(
      "E_CHECKSUM",
      `the ${size} bytes received have ${expected.algorithm} ${actual.toString("base64")}, not the ${expected.digest.toString("base64")} given in Upload-Checksum; the chunk was discarded, send it again from the same Upload-Offset`,
      { algorithm: expected.algorithm, received: size },
    );
  }
  return { size, open: () => createReadStream(path), remove };
}
