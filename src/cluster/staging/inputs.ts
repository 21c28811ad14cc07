/**
 * The inputs of one acquire, checked before anything else happens: each names
 * a sha256 and a size, one content counts once however many sandbox paths use
 * it, and the set must fit in the cache at all — if it cannot, waiting for
 * room would be forever, so it fails at once with both sizes.
 */
import type { InputRef } from "./contract.js";
import { badInput, inputTooLarge, inputsTooLarge } from "./errors.js";
import { isSha256Hex } from "./layout.js";

/** One InputRef per content, digests in lowercase; throws E_INVALID_REQUEST for a malformed one. */
export function distinctInputs(inputs: readonly InputRef[]): InputRef[] {
  const bySha = new Map<string, InputRef>();
  for (const input of inputs) {
    const sha256 = typeof input.sha256 === "string" ? input.sha256.toLowerCase() : "";
    if (!isSha256Hex(sha256)) {
      throw badInput(`input sha256 ${JSON.stringify(input.sha256)} is not 64 hex digits`, {
        sha256: input.sha256,
      });
    }
    if (!Number.isSafeInteger(input.size) || input.size < 0) {
      throw badInput(`input ${sha256} has an invalid size ${String(input.size)}`, {
        sha256,
        size: input.size,
      });
    }
    const seen = bySha.get(sha256);
    if (seen && seen.size !== input.size) {
      throw badInput(`input ${sha256} is named with two sizes, ${seen.size} and ${input.size}`, {
        sha256,
        sizes: [seen.size, input.size],
      });
    }
    bySha.set(sha256, { sha256, size: input.size });
  }
  return [...bySha.values()];
}

/** E_CACHE_TOO_SMALL when one input, or all of them together, exceed `maxBytes`. */
export function checkFits(refs: readonly InputRef[], maxBytes: number): void {
  let total = 0;
  for (const ref of refs) {
    if (ref.size > maxBytes) throw inputTooLarge(ref, maxBytes);
    total += ref.size;
  }
  if (total > maxBytes) throw inputsTooLarge(refs.length, total, maxBytes);
}
