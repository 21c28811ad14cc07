/**
 * bench:sse — the event-stream stall from the hardening issue: 300 SSE
 * subscribers on a 10 000-channel job once stalled `gamedock serve` for 20 s
 * (/healthz > 10 s) and grew it to 940 MB. This bench runs `gamedock serve`
 * (API only: `--stages none`, so only the bench changes the job) as a child
 * process and measures, in the same run:
 *
 *   A. /healthz latency with no subscriber (the baseline);
 *   B. the same with 300 subscribers on the 10 000-channel job, idle;
 *   C. a cancel that changes all 10 000 channels at once, streamed to the
 *      300 subscribers until each has its `end` event.
 *
 * Prints p50/p99/max /healthz latency per phase and its ratio to the
 * baseline, the bytes each subscriber received, how long C took, and the
 * server's RSS (current and peak, from /proc). No pass/fail: results go to
 * docs/benchmarks.md.
 *
 *   npm run bench:sse
 *   BENCH_SUBSCRIBERS=100 BENCH_CHANNELS=2000 npm run bench:sse
 */
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { binaryNodeFlags } from "./binary-flags.js";

const ROOT = resolve(import.meta.dirname, "..");
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 300);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 10_000);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 10_000);

interface Latencies {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

function summarize(samples: number[]): Latencies {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0, n: sorted.length };
}

async function rss(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kb("VmRSS") * 1024, peak: kb("VmHWM") * 1024 };
}

/** /healthz every 50 ms until `until` resolves (or for `ms`); latencies in ms. */
async function probe(base: string, until: Promise<unknown> | number): Promise<number[]> {
  const samples: number[] = [];
  let done = false;
  if (typeof until === "number") void sleep(until).then(() => (done = true));
  else void until.then(() => (done = true));
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${base}/healthz`);
    await response.arrayBuffer();
    samples.push(performance.now() - started);
    await sleep(50);
  }
  return samples;
}

interface Subscriber {
  bytes: number;
  ended: Promise<void>;
}

function subscribe(base: string, jobId: string): Subscriber {
  const subscriber: Subscriber = { bytes: 0, ended: Promise.resolve() };
  subscriber.ended = new Promise((resolveEnd, reject) => {
    const req = request(`${base}/api/v1/pack-jobs/${jobId}/events`, (res) => {
      let tail = "";
      res.on("data", (chunk: Buffer) => {
        subscriber.bytes += chunk.length;
        tail = (tail + chunk.toString("latin1")).slice(-64);
        if (tail.includes("event: end")) resolveEnd();
      });
      res.on("end", () => {
        resolveEnd();
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
  return subscriber;
}

const fmt = (l: Latencies): string =>
  `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (${l.n} probes)`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "gamedock-bench-sse-"));
  const data = join(dir, "data");
  await mkdir(join(data, "packages"), { recursive: true });
  await copyFile(join(ROOT, "samples/demo.apk"), join(data, "packages/demo.apk"));
  const child = spawn(
    process.execPath,
    [
      ...binaryNodeFlags("serve"),
      "--import",
      "tsx",
      join(ROOT, "src/cli/main.ts"),
      "serve",
      "--data",
      data,
      "--port",
      "0",
      "--stages",
      "none",
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, GAMEDOCK_LOG_LEVEL: "warn" },
    },
  );
  try {
    const base = await new Promise<string>((resolveUrl, reject) => {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolveUrl(match[1]);
      });
      child.on("exit", (code) => {
        reject(new Error(`serve exited (${code})`));
      });
    });
    const pid = child.pid ?? 0;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`);
    const created = await fetch(`${base}/api/v1/pack-jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apk: "demo.apk", channels }),
    });
    if (created.status !== 201)
      throw new Error(`create answered ${created.status}: ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };

    console.log(
      `bench:sse — ${SUBSCRIBERS} subscribers, a ${CHANNELS}-channel job, gamedock serve --stages none (tsx)`,
    );
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${mb(totalmem())} RAM, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
    const idle = await rss(pid);
    const a = summarize(await probe(base, PHASE_MS));
    console.log(`A  no subscriber:           /healthz ${fmt(a)}; RSS ${mb(idle.now)}`);

    const subscribers = Array.from({ length: SUBSCRIBERS }, () => subscribe(base, id));
    await sleep(1000); // every stream open and past its first summary
    const b = summarize(await probe(base, PHASE_MS));
    const afterB = await rss(pid);
    const idleBytes = subscribers.reduce((sum, s) => sum + s.bytes, 0) / SUBSCRIBERS;
    console.log(
      `B  ${SUBSCRIBERS} idle subscribers:   /healthz ${fmt(b)}; ratio p99 ${(b.p99 / a.p99).toFixed(2)}; RSS ${mb(afterB.now)}; ${idleBytes.toFixed(0)} bytes per subscriber in ${PHASE_MS / 1000} s`,
    );

    const started = performance.now();
    const cancelled = await fetch(`${base}/api/v1/pack-jobs/${id}/cancel`, { method: "POST" });
    await cancelled.arrayBuffer();
    const allEnded = Promise.all(subscribers.map((s) => s.ended));
    const c = summarize(await probe(base, allEnded));
    const seconds = (performance.now() - started) / 1000;
    const afterC = await rss(pid);
    const perSubscriber = subscribers.reduce((sum, s) => sum + s.bytes, 0) / SUBSCRIBERS;
    console.log(
      `C  cancel of ${CHANNELS} channels:  /healthz ${fmt(c)}; ratio p99 ${(c.p99 / a.p99).toFixed(2)}; every subscriber ended in ${seconds.toFixed(1)} s; ${mb(perSubscriber)} per subscriber (${(perSubscriber / CHANNELS).toFixed(0)} bytes per channel)`,
    );
    console.log(`RSS: idle ${mb(idle.now)}, after C ${mb(afterC.now)}, peak ${mb(afterC.peak)}`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
