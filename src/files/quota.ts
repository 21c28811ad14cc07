/**
 * Limits on what one client may store: the per-upload size limit (413) and the
 * per-token quota (413 as well: the request is too large for what is left).
 */
import { GamedockError } from "../core/index.js";
import type { FileMetadata } from "./contract.js";

export interface Limits {
  maxUploadBytes: number;
  /** 0 = unlimited. */
  quotaBytes: number;
}

export function checkUploadSize(size: number, limits: Limits): void {
  if (size > limits.maxUploadBytes) {
    throw new GamedockError(
      "E_TOO_LARGE",
      `the upload is ${size} bytes; this server accepts at most ${limits.maxUploadBytes} (files.maxUploadBytes)`,
      { size, limit: limits.maxUploadBytes },
    );
  }
}

/** Throws E_QUOTA when `owner` storing `size` more bytes would pass the quota. */
export async function checkQuota(
  metadata: FileMetadata,
  owner: string,
  size: number,
  limits: Limits,
): Promise<void> {
  if (limits.quotaBytes === 0) return;
  const used = await metadata.usedBytes(owner);
  if (used + size > limits.quotaBytes) {
    throw new GamedockError(
      "E_QUOTA",
      `storing ${size} more bytes would pass the quota of ${limits.quotaBytes} bytes for this token (${used} used); delete files or ask for a larger files.quotaBytes`,
      { size, used, quota: limits.quotaBytes },
    );
  }
}
