/**
 * Who holds a leased message, and whether that holder still exists. The owner
 * string names host, pid and a token per consumer, so a consumer can tell at
 * once that a lease belongs to a process on this host that died (kill -9),
 * instead of waiting for the lease to run out.
 */
import { newOwnerName, ownerProcessState, parseOwner } from "../../core/index.js";

/** Tokens of the consumers open in this process; a lease of ours with any other token is orphaned. */
const liveTokens = new Set<string>();

export interface LeaseOwner {
  readonly name: string;
  /** Forget this owner: its leases become recoverable by any consumer at once. */
  release(): void;
}

export function newLeaseOwner(): LeaseOwner {
  const name = newOwnerName();
  const token = parseOwner(name)?.token ?? name;
  liveTokens.add(token);
  return {
    name,
    release: () => {
      liveTokens.delete(token);
    },
  };
}

/**
 * False only when the owner is certainly gone: a process of this host that no
 * longer exists, or a consumer of this process that was closed. Owners on other
 * hosts cannot be checked and count as alive until their lease expires.
 */
export function ownerIsAlive(owner: string): boolean {
  switch (ownerProcessState(owner)) {
    case "gone":
      return false;
    case "this-process":
      return liveTokens.has(parseOwner(owner)?.token ?? "");
    default:
      return true;
  }
}
