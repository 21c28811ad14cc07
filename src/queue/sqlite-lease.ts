/**
 * Who holds a leased message, and whether that holder still exists. The owner
 * string names host, pid and a token per consumer, so a consumer can tell at
 * once that a lease belongs to a process on this host that died (kill -9),
 * instead of waiting for the lease to run out.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { errnoCode } from "../core/errors.js";

const HOST = hostname();

/** Tokens of the consumers open in this process; a lease of ours with any other token is orphaned. */
const liveTokens = new Set<string>();

export interface LeaseOwner {
  readonly name: string;
  /** Forget this owner: its leases become recoverable by any consumer at once. */
  release(): void;
}

export function newLeaseOwner(): LeaseOwner {
  const token = randomBytes(6).toString("hex");
  liveTokens.add(token);
  return {
    name: `${HOST}/${process.pid}/${token}`,
    release: () => {
      liveTokens.delete(token);
    },
  };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errnoCode(err) === "EPERM";
  }
}

/**
 * False only when the owner is certainly gone: a process of this host that no
 * longer exists, or a consumer of this process that was closed. Owners on other
 * hosts cannot be checked and count as alive until their lease expires.
 */
export function ownerIsAlive(owner: string): boolean {
  const parts = owner.split("/");
  const token = parts.pop();
  const pid = Number(parts.pop());
  const host = parts.join("/");
  if (host !== HOST || token === undefined || !Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return liveTokens.has(token);
  return processExists(pid);
}
