/**
 * Who holds a task: "host/pid/nonce" of the process. A holder is live while its
 * lease runs, unless it is a process on this host that no longer exists — then
 * its work is recovered at once instead of after the lease (a restart after
 * `kill -9` resumes immediately). The nonce tells this process from an earlier
 * one that had the same pid.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

const HOST = hostname();
export const OWNER = `${HOST}/${process.pid}/${randomBytes(4).toString("hex")}`;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function ownerIsLive(owner: string, leaseUntil: number, now = Date.now()): boolean {
  if (owner === OWNER) return true;
  const [host, pidText] = owner.split("/");
  const pid = Number(pidText);
  if (host === HOST && Number.isInteger(pid)) {
    if (pid === process.pid || !processExists(pid)) return false;
  }
  return leaseUntil > now;
}
