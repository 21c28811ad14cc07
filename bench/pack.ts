/**
 * bench:pack — gamedock pack of 10 channels against `cp` of the same mother 10
 * times, in the same run, on the same disk. The headline is `gamedock pack` as
 * users run it (its default concurrency, -j 2); the like-for-like row is -j 1
 * against the sequential cp. Prints the times, the ratios, and gamedock's peak
 * RSS. Target: headline ratio ≤ 1.10, peak RSS ≤ 80 MB.
 *
 * Each side is timed until its bytes are on disk (the run, then `sync`): both
 * write the same 10 × size bytes, and without the sync the numbers mostly
 * measure how much of the previous side's dirty page cache is still being
 * written back.
 *
 * gamedock runs from src/ compiled into a private copy under bench/.cache/, so
 * the run measures the sources as they are (not a stale dist/) and a
 * concurrent `npm run build`, which deletes dist/, cannot pull it away.
 *
 *   npm run bench:pack                       # ~300 MB mother, 7 rounds + warm-up
 *   BENCH_MB=100 BENCH_ROUNDS=1 npm run bench:pack
 */
import { privateCli } from "./private-cli.js";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { copyFile, mkdir, rm, stat } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { buildSignedApk } from "../scripts/signed-apk.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const MB = Number(process.env.BENCH_MB ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CHANNELS = 10;
/**
 * The private CLI. Removed when the run ends: eslint does not read .gitignore,
 * and `eslint .` would otherwise lint the compiled JavaScript.
 */
const CLI_NAME = "pack-cli";

interface Run {
  seconds: number;
  peakRssMb: number;
}

/** Runs a command, sampling its peak RSS (VmHWM) from /proc until it exits. */
function timed(command: string, args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "inherit"] });
    let peakKb = 0;
    const sample = (): void => {
      try {
        // A plain read, not a subprocess: the sampler must not load the machine it measures.
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      } catch {
        // the process already exited
      }
    };
    const timer = setInterval(sample, 50);
    child.on("error", fail);
    child.on("close", (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) fail(new Error(`${command} ${args.join(" ")} exited ${code}`));
      else done({ seconds, peakRssMb: peakKb / 1024 });
    });
  });
}

/** The baseline, spawned and sampled exactly like gamedock: one shell running cp 10 times. */
function cpTenTimes(mother: string, out: string): Promise<Run> {
  const script = `for i in $(seq 1 ${CHANNELS}); do cp "$0" "$1/copy-$i.apk"; done`;
  return timed("sh", ["-c", script, mother, out]);
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

interface Target {
  name: string;
  mother: string;
  out: string;
}

interface Side {
  name: string;
  /** The headline is what users run; like-for-like matches the sequential baseline. */
  role: "headline" | "like for like" | "baseline";
  run: (target: Target, channels: string) => Promise<Run>;
}

function buildSides(cli: readonly string[]): Side[] {
  const pack = (t: Target, channels: string, extra: string[]): Promise<Run> =>
    timed(process.execPath, [...cli, "pack", t.mother, "-c", channels, "-o", t.out, ...extra]);
  return [
    {
      // Named explicitly, so a GAMEDOCK_PACK_CONCURRENCY in the environment cannot change it.
      name: "gamedock pack -j 2 (the default)",
      role: "headline",
      run: (t, channels) => pack(t, channels, ["-j", "2"]),
    },
    {
      name: "gamedock pack -j 1",
      role: "like for like",
      run: (t, channels) => pack(t, channels, ["-j", "1"]),
    },
    { name: `cp x ${CHANNELS}`, role: "baseline", run: (t) => cpTenTimes(t.mother, t.out) },
  ];
}

/**
 * Rounds of every side on one target. The order rotates each round so no side
 * always follows the same one; round 0 warms up (page cache, the VM's memory)
 * and is not counted.
 */
async function compare(sides: Side[], target: Target, channels: string): Promise<Run[][]> {
  const runs: Run[][] = sides.map(() => []);
  for (let round = 0; round <= ROUNDS; round++) {
    for (let k = 0; k < sides.length; k++) {
      const index = (round + k) % sides.length;
      const side = sides[index]!;
      await rm(target.out, { recursive: true, force: true });
      await mkdir(target.out, { recursive: true });
      execFileSync("sync");
      const run = await side.run(target, channels);
      if (round > 0) runs[index]!.push({ ...run, seconds: run.seconds + syncSeconds() });
    }
    if (round === 0) continue;
    const line = sides.map((side, i) => `${side.name} ${runs[i]!.at(-1)!.seconds.toFixed(2)} s`);
    console.log(`${target.name} round ${round}: ${line.join(", ")}`);
  }
  await rm(target.out, { recursive: true, force: true });
  return runs;
}

/** The summary of one target: the baseline, then the headline, then the like-for-like row. */
function report(sides: Side[], target: Target, runs: Run[][]): void {
  const base = sides.findIndex((side) => side.role === "baseline");
  const baseline = runs[base]!;
  const cs = median(baseline.map((r) => r.seconds));
  console.log(`${target.name}: ${sides[base]!.name} ${cs.toFixed(2)} s (baseline)`);
  for (const role of ["headline", "like for like"] as const) {
    const index = sides.findIndex((side) => side.role === role);
    const own = runs[index]!;
    const gs = median(own.map((r) => r.seconds));
    const roundRatio = median(own.map((r, i) => r.seconds / (baseline[i]?.seconds ?? NaN)));
    const rss = Math.max(...own.map((r) => r.peakRssMb));
    console.log(
      `${target.name}: ${role}: ${sides[index]!.name} ${gs.toFixed(2)} s | ratio of medians ${(gs / cs).toFixed(3)}, median round ratio ${roundRatio.toFixed(3)} | peak RSS ${rss.toFixed(1)} MB`,
    );
  }
}

async function main(): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  try {
    await measure(buildSides(privateCli(CLI_NAME).cli));
  } finally {
    rmSync(join(CACHE, CLI_NAME), { recursive: true, force: true });
  }
}

async function measure(sides: Side[]): Promise<void> {
  const mother = await buildSignedApk(join(CACHE, `mother-${MB}m.apk`), MB);
  const channels = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`).join(",");
  const size = (await stat(mother)).size / 1e6;

  // The disk is the real case; tmpfs takes the device (and its noise) out, leaving
  // what each side costs on top of the kernel's copy.
  const shm = "/dev/shm/gamedock-bench";
  await mkdir(shm, { recursive: true });
  await copyFile(mother, join(shm, "mother.apk"));
  const targets: Target[] = [
    { name: "disk ", mother, out: join(CACHE, "out") },
    { name: "tmpfs", mother: join(shm, "mother.apk"), out: join(shm, "out") },
  ];
  const results: { target: Target; runs: Run[][] }[] = [];
  try {
    for (const target of targets) {
      results.push({ target, runs: await compare(sides, target, channels) });
    }
  } finally {
    await rm(shm, { recursive: true, force: true });
  }

  console.log("");
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `mother: ${size.toFixed(1)} MB, ${CHANNELS} channels, ${ROUNDS} rounds; medians, each side timed to durable (+ sync)`,
  );
  console.log("target: headline ratio <= 1.10, peak RSS <= 80 MB");
  for (const { target, runs } of results) report(sides, target, runs);
}

await main();
