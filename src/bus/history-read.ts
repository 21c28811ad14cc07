/** What every driver shares about histories: new epochs, and the answer to a read. */
import { randomBytes } from "node:crypto";
import type { HistoryEntry, HistoryPosition, HistoryRead } from "./contract.js";

/**
 * `complete` holds only when the reader's epoch is the history's and the
 * entries start right after its offset — or there is nothing after it and
 * its offset is the newest. An offset ahead of the history (another epoch in
 * all but name) is not complete either.
 */
export function readResult(
  now: HistoryPosition,
  after: { epoch: string; offset: number },
  entries: HistoryEntry[],
): HistoryRead {
  const sameEpoch = after.epoch === now.epoch && after.offset <= now.offset;
  const contiguous =
    entries.length > 0 ? entries[0]!.offset === after.offset + 1 : after.offset === now.offset;
  return { ...now, entries: sameEpoch ? entries : [], complete: sameEpoch && contiguous };
}

/** A fresh epoch: 48 random bits, so a history that comes back is never taken for the old one. */
export const newEpoch = (): string => randomBytes(6).toString("hex");
