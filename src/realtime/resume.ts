/**
 * Resuming after a reconnect: the client names, per history, the epoch and
 * the last offset it got (`?lastOffset=N&epoch=E` for its own pushes,
 * `?allOffset=N&allEpoch=E` for pushes to everyone); the gateway reads what
 * came after from the history and says in the welcome whether that is all
 * it missed (`recovered`).
 */
import type { History, HistoryPosition } from "../bus/index.js";
import { decodeHistoryEntry, type HistoryRecord } from "./envelope.js";

export interface ResumePoint {
  epoch: string;
  offset: number;
}

/** The client's resume point for one history from two query parameters; null when absent or malformed. */
export function resumePoint(url: URL, offsetParam: string, epochParam: string): ResumePoint | null {
  const offsetText = url.searchParams.get(offsetParam);
  const epoch = url.searchParams.get(epochParam);
  if (
    offsetText === null ||
    epoch === null ||
    !/^\d{1,15}$/.test(offsetText) ||
    epoch.length > 64
  ) {
    return null;
  }
  return { epoch, offset: Number(offsetText) };
}

/** Application groups the client can resume: `?groups=` as JSON {name: {epoch, offset}}; malformed entries are ignored. */
export function groupResumePoints(url: URL): Map<string, ResumePoint> {
  const points = new Map<string, ResumePoint>();
  const text = url.searchParams.get("groups");
  if (text === null || text.length > 64 * 1024) return points;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return points;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return points;
  for (const [group, point] of Object.entries(parsed as Record<string, unknown>)) {
    const { epoch, offset } = (point ?? {}) as { epoch?: unknown; offset?: unknown };
    if (
      typeof epoch === "string" &&
      epoch.length <= 64 &&
      Number.isSafeInteger(offset) &&
      (offset as number) >= 0
    ) {
      points.set(group, { epoch, offset: offset as number });
    }
  }
  return points;
}

export interface Replay {
  /** The history's position once read: the client holds everything up to `offset`. */
  position: HistoryPosition;
  /** What the client missed, oldest first. */
  missed: { offset: number; record: HistoryRecord }[];
  /** False when the client may have missed more than `missed` (trimmed, another epoch). */
  recovered: boolean;
}

const PAGE = 500;

/** Reads what came after `from` (everything the history still holds); no `from`: nothing, just the position. */
export async function replay(history: History, from: ResumePoint | null): Promise<Replay> {
  if (!from) return { position: await history.position(), missed: [], recovered: true };
  const missed: Replay["missed"] = [];
  let after = from.offset;
  let recovered = true;
  for (let first = true; ; first = false) {
    const read = await history.read({ epoch: from.epoch, offset: after }, PAGE);
    if (first) recovered = read.complete;
    if (read.epoch !== from.epoch) {
      return { position: { epoch: read.epoch, offset: read.offset }, missed: [], recovered: false };
    }
    for (const entry of read.entries) {
      missed.push({ offset: entry.offset, record: decodeHistoryEntry(entry.payload) });
      after = entry.offset;
    }
    // The last page ends at the history's newest offset: the client holds all up to it.
    if (read.entries.length < PAGE) {
      return { position: { epoch: read.epoch, offset: read.offset }, missed, recovered };
    }
  }
}
