/**
 * What bench:realtime reads of its surroundings: the machine (load, how busy
 * its cores are — it is shared), the sources it measures, and Redis (its
 * pid for CPU time, what a server left under its key prefix).
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { ROOT, cpuSeconds, machineTicks } from "./realtime-procs.js";

export const load = (): string =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

/** The commit, and how many files under src/ differ from it (others edit them while benches run). */
export function sourcesAt(): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    const changed = git("status", "--porcelain", "--", "src").split("\n").filter(Boolean).length;
    return `commit ${git("rev-parse", "--short", "HEAD")}, ${changed} file(s) under src/ changed since`;
  } catch {
    return "not a git checkout";
  }
}

/** Waits for a second in which the machine is less than `quietCores` busy, at most `maxMs`. */
export async function waitQuiet(
  quietCores: number,
  maxMs: number,
): Promise<{ waitedMs: number; busyCores: number }> {
  const started = performance.now();
  for (;;) {
    const a = machineTicks();
    await sleep(1000);
    const b = machineTicks();
    const busyCores = ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
    const waitedMs = performance.now() - started - 1000;
    if (busyCores < quietCores || waitedMs >= maxMs) return { waitedMs, busyCores };
  }
}

/** What a server left in Redis under its prefix: keys, the request stream's length, memory. */
export async function busFootprint(
  url: string,
  prefix: string,
  stream: string,
): Promise<{ keys: number; streamLength: number; usedMemory: number }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let keys = 0;
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 5000);
      cursor = next;
      keys += batch.length;
    } while (cursor !== "0");
    const streamLength = await redis.xlen(`${prefix}:${stream}`);
    const usedMemory = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? 0);
    return { keys, streamLength, usedMemory };
  } finally {
    redis.disconnect();
  }
}

export async function redisPid(url: string): Promise<{ pid: number | null; version: string }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info("server");
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    try {
      cpuSeconds(pid);
      return { pid, version };
    } catch {
      return { pid: null, version }; // another machine or namespace: its CPU is not ours to read
    }
  } finally {
    redis.disconnect();
  }
}
