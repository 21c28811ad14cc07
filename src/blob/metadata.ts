/**
 * Metadata a caller records with an object (`putFile`'s `metadata`, read back
 * by `head`): a few short ASCII strings, within what every S3-compatible
 * store keeps as `x-amz-meta-<name>` headers (2 KB in all on AWS and OSS).
 * gamedock records, for instance, the SHA-256 of an uploaded mother, since a
 * multipart ETag is not a digest of the bytes.
 */
import { GamedockError } from "../core/index.js";

export type BlobMetadata = Record<string, string>;

/** Names: lower-case letters, digits and '-' (headers fold case; OSS lower-cases them). */
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Values: printable ASCII, so no store has to encode them. */
const VALUE = /^[\x20-\x7e]{0,256}$/;
const MAX_TOTAL_BYTES = 2048;

export function validateMetadata(metadata: BlobMetadata): void {
  let total = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!NAME.test(name)) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `object metadata name ${JSON.stringify(name)} must be 1–64 of a-z, 0-9 and '-', starting with a letter or digit`,
      );
    }
    if (typeof value !== "string" || !VALUE.test(value)) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `object metadata ${name} must be at most 256 printable ASCII characters`,
      );
    }
    total += name.length + value.length;
  }
  if (total > MAX_TOTAL_BYTES) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `object metadata is ${total} bytes; stores keep at most ${MAX_TOTAL_BYTES}`,
    );
  }
}
