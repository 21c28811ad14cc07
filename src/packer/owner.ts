/**
 * Who holds a task: this process's owner name (core's "host/pid/nonce"). A
 * holder is live while its lease runs, unless it is a process on this host
 * that no longer exists — then its work is recovered at once instead of after
 * the lease (a restart after `kill -9` resumes immediately).
 */
import { PROCESS_OWNER, ownerProcessState } from "../core/index.js";

export const OWNER = PROCESS_OWNER;

/** Whether another holder still has the task (this process's own holds are PackerContext's to judge). */
export function ownerIsLive(owner: string, leaseUntil: number, now = Date.now()): boolean {
  if (owner === OWNER) return true;
  const state = ownerProcessState(owner);
  // An earlier process with our pid, or one that is gone: certainly not holding it.
  if (state === "gone" || state === "this-process") return false;
  return leaseUntil > now;
}
