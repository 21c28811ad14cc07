/** Checks of a compose source every driver makes before touching its store. */
import { GamedockError } from "../core/index.js";
import type { ComposeSource } from "./contract.js";
import { validateBlobKey } from "./keys.js";

export function checkComposeRange(source: ComposeSource): void {
  validateBlobKey(source.key);
  if (!Number.isSafeInteger(source.start) || source.start < 0) {
    throw new GamedockError("E_RANGE", `compose source start must be ≥ 0, got ${source.start}`);
  }
  if (!Number.isSafeInteger(source.length) || source.length < 1) {
    throw new GamedockError("E_RANGE", `compose source length must be ≥ 1, got ${source.length}`);
  }
}
