/**
 * Areas of every target that gamedock keeps for itself. The file service
 * stores its bytes under `put/` and `tus/`, and later modules get their own
 * (uploaded mothers under `mothers/`, probes of `gamedock doctor` under
 * `gamedock/`, the drivers' bookkeeping under `.gamedock/`). Keys a
 * user chooses (a pack job's `upload.prefix`) may not reach into them, so no
 * request can overwrite what another part of gamedock stored.
 */
import { GamedockError } from "../core/index.js";

export const RESERVED_AREAS = ["put/", "tus/", "mothers/", "gamedock/", ".gamedock/"] as const;

/**
 * The drivers' own bookkeeping: temp files and uploads in progress. No key
 * may name it (keys.ts) and `list` never shows it. Its layout belongs to
 * each driver (docs/storage.md); on every driver it is inside the target, so
 * an fs rename from it into place stays on one file system.
 */
export const STORE_AREA = ".gamedock/";

/**
 * The reserved area `keyOrPrefix` is in, or null. Check the whole key space a
 * caller will write to ("<prefix><job id>/"), not a prefix that keys extend.
 */
export function reservedAreaOf(keyOrPrefix: string): string | null {
  return RESERVED_AREAS.find((area) => keyOrPrefix.startsWith(area)) ?? null;
}

/** Throws E_KEY_RESERVED when a user-chosen key or prefix reaches into a reserved area. */
export function refuseReserved(keyOrPrefix: string, what: string): void {
  const area = reservedAreaOf(keyOrPrefix);
  if (area !== null) {
    throw new GamedockError(
      "E_KEY_RESERVED",
      `${what} ${JSON.stringify(keyOrPrefix)} reaches into ${area}, which gamedock reserves for itself (reserved: ${RESERVED_AREAS.join(", ")})`,
      { area },
    );
  }
}
