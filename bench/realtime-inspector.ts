/**
 * bench:realtime talks to the servers it started with --inspect=127.0.0.1:0
 * (the URL is on their stderr) through the DevTools protocol: a full GC
 * before an RSS reading, and CPU profiles of the steady state only (the
 * steps, not start-up and the thousands of connects before them).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import type { Proc } from "./realtime-procs.js";

interface Session {
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

async function openSession(proc: Proc): Promise<Session> {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(proc.stderr())?.[1];
  if (!url) throw new Error(`${proc.name} was not started with --inspect`);
  const ws = new WebSocket(url, { maxPayload: 1024 ** 3 });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => {
      resolve();
    });
    ws.once("error", reject);
  });
  let id = 0;
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const mine = ++id;
        const onMessage = (data: Buffer): void => {
          const message = JSON.parse(data.toString()) as {
            id?: number;
            result?: Record<string, unknown>;
            error?: { message: string };
          };
          if (message.id !== mine) return;
          ws.off("message", onMessage);
          if (message.error) reject(new Error(`${method}: ${message.error.message}`));
          else resolve(message.result ?? {});
        };
        ws.on("message", onMessage);
        ws.send(JSON.stringify({ id: mine, method, params }));
      }),
    close: () => {
      ws.close();
    },
  };
}

/** Two full GCs, then V8's heap use: RSS read after this is not inflated by garbage. */
export async function collectGarbage(proc: Proc): Promise<{ usedKiB: number; totalKiB: number }> {
  const session = await openSession(proc);
  try {
    await session.call("HeapProfiler.collectGarbage");
    await session.call("HeapProfiler.collectGarbage");
    const usage = await session.call("Runtime.getHeapUsage");
    return {
      usedKiB: Number(usage.usedSize ?? 0) / 1024,
      totalKiB: Number(usage.totalSize ?? 0) / 1024,
    };
  } finally {
    session.close();
  }
}

/** Starts the sampling profiler in each process; the returned function stops it and writes the files. */
export async function startProfiles(
  procs: readonly Proc[],
  dir: string,
  label: string,
): Promise<() => Promise<string[]>> {
  const sessions = await Promise.all(procs.map(openSession));
  for (const session of sessions) {
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval: 1000 }); // µs, as --cpu-prof
    await session.call("Profiler.start");
  }
  return async () => {
    const files: string[] = [];
    for (const [i, session] of sessions.entries()) {
      const { profile } = await session.call("Profiler.stop");
      session.close();
      const file = join(dir, `${label}-${procs[i]!.name.replace(/\W+/g, "-")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      files.push(file);
    }
    return files;
  };
}
