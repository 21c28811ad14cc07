/**
 * bench:service — 20 channels of a ~300 MB mother through `gamedock serve`
 * (embedded defaults: SQLite queue, `fs` target under --data) against
 * `gamedock pack` of the same 20 channels, in the same run, on the same disk.
 * Prints both times, the ratio (service / pack) and both peak RSS.
 * Target: service overhead <= 15 % (ratio <= 1.15).
 *
 * Service side: a fresh data directory and a fresh `gamedock serve --port 0`
 * each round, started before the clock; the mother is hard-linked into
 * <data>/packages. Timed from the POST /api/v1/pack-jobs until the job's
 * `event: end` on its SSE stream (or, with BENCH_WAIT=poll, a GET every 20 ms
 * that sees it finished), then `sync`. Pack side: `gamedock pack
 * mother -c <channels> -o out` (default concurrency, as users run it), timed
 * until it exits, then `sync`. Both sides are timed until their bytes are on
 * disk: the fs target fsyncs each child before acknowledging it, `pack` does
 * not, and without the sync the comparison would not be like for like.
 *
 *   npm run bench:service                    # ~300 MB mother, 7 rounds + warm-up
 *   BENCH_MB=100 BENCH_ROUNDS=1 npm run bench:service
 *   BENCH_LOG_DIR=/tmp/logs npm run bench:service   # keep serve's JSON logs per round
 *   BENCH_WAIT=poll npm run bench:service            # poll the job instead of SSE
 */
import { privateCli } from "./private-cli.js";
import {
  pollUntilFinished,
  requestJson,
  startServe,
  stopServe,
  streamUntilFinished,
  submitJob,
  type Serve,
} from "./serve-proc.js";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { buildSignedApk } from "../scripts/signed-apk.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const MB = Number(process.env.BENCH_MB ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const LOG_DIR = process.env.BENCH_LOG_DIR;
const CHANNELS = 20;
/** How the bench learns the job has finished: the SSE stream (default) or polling GET. */
const WAIT = process.env.BENCH_WAIT === "poll" ? "poll" : "sse";

const { cli: CLI_ARGS, label: CLI_LABEL } = privateCli("cli");

interface Run {
  seconds: number;
  peakRssMb: number;
  /** How the time splits, for the per-round line. */
  detail: string;
}

/** VmHWM of a live process in kB; 0 once it has exited. A plain read, not a subprocess. */
function peakKb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function syncSeconds(): number {
  const started = performance.now();
  execFileSync("sync");
  return (performance.now() - started) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** The baseline: one `gamedock pack` process, its peak RSS sampled from /proc until it exits. */
function packRun(mother: string, channels: string, out: string): Promise<Run> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...CLI_ARGS, "pack", mother, "-c", channels, "-o", out],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    let kb = 0;
    const timer = setInterval(() => (kb = Math.max(kb, peakKb(child.pid))), 50);
    child.on("error", fail);
    child.on("close", (code) => {
      clearInterval(timer);
      const run = (performance.now() - started) / 1000;
      if (code !== 0) {
        fail(new Error(`gamedock pack exited ${code}`));
        return;
      }
      const flush = syncSeconds();
      done({
        seconds: run + flush,
        peakRssMb: kb / 1024,
        detail: `run ${run.toFixed(2)} + sync ${flush.toFixed(2)}`,
      });
    });
  });
}

/** One service round: fresh data dir and process, then POST → `done` → sync on the clock. */
async function serviceRun(mother: string, channels: string[], round: number): Promise<Run> {
  const data = await mkdtemp(join(CACHE, "serve-"));
  let serve: Serve | null = null;
  try {
    await mkdir(join(data, "packages"));
    // Same file system as the cache: a hard link shares the mother (and its page cache).
    await link(mother, join(data, "packages/mother.apk")).catch(() =>
      copyFile(mother, join(data, "packages/mother.apk")),
    );
    const logFile = LOG_DIR === undefined ? undefined : join(LOG_DIR, `serve-round-${round}.log`);
    if (LOG_DIR !== undefined) await mkdir(LOG_DIR, { recursive: true });
    serve = await startServe(CLI_ARGS, data, { logFile });
    execFileSync("sync");

    const started = performance.now();
    const created = await submitJob(serve, { apk: "mother.apk", channels });
    const posted = (performance.now() - started) / 1000;
    const status =
      WAIT === "poll"
        ? await pollUntilFinished(serve, created.id)
        : await streamUntilFinished(serve, created.id);
    const run = (performance.now() - started) / 1000;
    const flush = syncSeconds();
    const peakRssMb = peakKb(serve.child.pid) / 1024;

    const job = await requestJson(`${serve.url}/api/v1/pack-jobs/${created.id}`);
    const uploaded = job.channels.filter((c) => c.state === "done" && c.output !== null);
    if (status !== "done" || uploaded.length !== channels.length) {
      throw new Error(
        `job ${job.id} ended ${job.status} with ${uploaded.length}/${channels.length} channels uploaded: ${JSON.stringify(job.channels.filter((c) => c.state !== "done"))}\n${serve.stderr()}`,
      );
    }
    return {
      seconds: run + flush,
      peakRssMb,
      detail: `POST ${posted.toFixed(2)}, done ${run.toFixed(2)} + sync ${flush.toFixed(2)}`,
    };
  } finally {
    if (serve) await stopServe(serve);
    await rm(data, { recursive: true, force: true });
  }
}

interface Side {
  name: string;
  run: (round: number) => Promise<Run>;
}

async function main(): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  const mother = await buildSignedApk(join(CACHE, `mother-${MB}m.apk`), MB);
  const channelIds = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`);
  const size = (await stat(mother)).size / 1e6;
  const out = join(CACHE, "service-pack-out");

  const sides: Side[] = [
    { name: "gamedock serve", run: (round) => serviceRun(mother, channelIds, round) },
    {
      name: "gamedock pack",
      run: async () => {
        await rm(out, { recursive: true, force: true });
        await mkdir(out, { recursive: true });
        execFileSync("sync");
        try {
          const run = await packRun(mother, channelIds.join(","), out);
          const written = (await readdir(out)).filter((f) => f.endsWith(".apk")).length;
          if (written !== CHANNELS) throw new Error(`gamedock pack wrote ${written} children`);
          return run;
        } finally {
          await rm(out, { recursive: true, force: true });
        }
      },
    },
  ];
  const SERVICE = 0;
  const BASELINE = 1;

  console.log(`cli: ${CLI_LABEL}`);
  // Round 0 warms up (page cache, the VM's memory) and is not counted; the order flips every round.
  const runs: Run[][] = sides.map(() => []);
  for (let round = 0; round <= ROUNDS; round++) {
    // Other work on the machine moves these timings more than anything measured: say how much.
    const load = loadavg()[0] ?? NaN;
    for (let k = 0; k < sides.length; k++) {
      const index = (round + k) % sides.length;
      const run = await sides[index]!.run(round);
      if (round > 0) runs[index]!.push(run);
    }
    if (round === 0) continue;
    const line = sides.map((side, index) => {
      const run = runs[index]!.at(-1)!;
      return `${side.name} ${run.seconds.toFixed(2)} s (${run.detail})`;
    });
    const ratio = runs[SERVICE]!.at(-1)!.seconds / runs[BASELINE]!.at(-1)!.seconds;
    console.log(
      `round ${round}: ${line.join(", ")}; ratio ${ratio.toFixed(3)}; load ${load.toFixed(1)}`,
    );
  }

  const service = runs[SERVICE]!;
  const baseline = runs[BASELINE]!;
  const ss = median(service.map((r) => r.seconds));
  const ps = median(baseline.map((r) => r.seconds));
  const roundRatio = median(service.map((r, i) => r.seconds / (baseline[i]?.seconds ?? NaN)));
  const rss = (side: Run[]): string => `${Math.max(...side.map((r) => r.peakRssMb)).toFixed(1)} MB`;
  console.log("");
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `mother: ${size.toFixed(1)} MB, ${CHANNELS} channels, ${ROUNDS} rounds; medians, each side timed to durable (+ sync)`,
  );
  console.log("target: service / pack <= 1.15");
  console.log(`gamedock pack: ${ps.toFixed(2)} s | peak RSS ${rss(baseline)}`);
  console.log(
    `gamedock serve: ${ss.toFixed(2)} s | ratio of medians ${(ss / ps).toFixed(3)}, median round ratio ${roundRatio.toFixed(3)} | peak RSS ${rss(service)}`,
  );
}

await main();
