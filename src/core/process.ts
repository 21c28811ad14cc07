/**
 * Who owns a piece of work or a temp file: "host/pid/token" of a process (and
 * of one holder inside it). A holder on this host whose process no longer
 * exists is certainly gone — its work can be taken over at once instead of
 * after a lease runs out (a restart after `kill -9` resumes immediately).
 * Holders on other hosts cannot be checked here; callers fall back to leases.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { errnoCode } from "./errors.js";

export const HOST = hostname();

/** This process: "host/pid/nonce"; the nonce tells it from an earlier process with the same pid. */
export const PROCESS_OWNER = `${HOST}/${process.pid}/${randomBytes(4).toString("hex")}`;

/** Whether a process with this pid exists on this host (EPERM: it exists but is someone else's). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0); // signal 0 only checks that the process exists
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

/** A fresh owner name for one holder in this process: "host/pid/token". */
export function newOwnerName(): string {
  return `${HOST}/${process.pid}/${randomBytes(6).toString("hex")}`;
}

export interface ParsedOwner {
  host: string;
  pid: number;
  token: string;
}

/** null when the text is not "host/pid/token" (host may contain '/'). */
export function parseOwner(owner: string): ParsedOwner | null {
  const parts = owner.split("/");
  if (parts.length < 3) return null;
  const token = parts.pop() ?? "";
  const pid = Number(parts.pop());
  const host = parts.join("/");
  if (!Number.isSafeInteger(pid) || pid <= 0 || host === "") return null;
  return { host, pid, token };
}

/**
 * "gone": a process of this host that no longer exists; "this-process": ours
 * (the caller knows which of its holders are live); "unknown": another host
 * or a name that cannot be parsed — only a lease can tell.
 */
export function ownerProcessState(owner: string): "gone" | "alive" | "this-process" | "unknown" {
  const parsed = parseOwner(owner);
  if (!parsed || parsed.host !== HOST) return "unknown";
  if (parsed.pid === process.pid) return "this-process";
  return processAlive(parsed.pid) ? "alive" : "gone";
}
