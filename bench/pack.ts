/**
 * bench:pack — gamedock pack of 10 channels against `cp` of the same mother 10
 * times, in the same run, on the same disk. Prints both times, the ratio, and
 * gamedock's peak RSS. Target: ratio ≤ 1.10, peak RSS ≤ 80 MB.
 *
 * Each side is timed until its bytes are on disk (the run, then `sync`): both
 * write the same 10 × size bytes, and without the sync the numbers mostly
 * measure how much of the previous side's dirty page cache is still being
 * written back.
 *
 *   npm run bench:pack                       # ~300 MB mother, 7 rounds + warm-up
 *   BENCH_MB=100 BENCH_ROUNDS=1 npm run bench:pack
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
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
const CLI = join(ROOT, "dist/cli/main.js");

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

/** Rounds of gamedock vs cp on one target, alternating which goes first. */
async function compare(target: Target, channels: string): Promise<{ g: Run[]; c: Run[] }> {
  const g: Run[] = [];
  const c: Run[] = [];
  // Round 0 warms up (page cache, the VM's memory) and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? ["gamedock", "cp"] : ["cp", "gamedock"];
    for (const which of order) {
      await rm(target.out, { recursive: true, force: true });
      await mkdir(target.out, { recursive: true });
      execFileSync("sync");
      if (which === "gamedock") {
        const args = [CLI, "pack", target.mother, "-c", channels, "-o", target.out, "-j", "1"];
        const run = await timed(process.execPath, args);
        g.push({ ...run, seconds: run.seconds + syncSeconds() });
      } else {
        const run = await cpTenTimes(target.mother, target.out);
        c.push({ ...run, seconds: run.seconds + syncSeconds() });
      }
    }
    if (round === 0) {
      g.length = 0;
      c.length = 0;
      continue;
    }
    const last = { g: g.at(-1)!, c: c.at(-1)! };
    console.log(
      `${target.name} round ${round}: gamedock ${last.g.seconds.toFixed(2)} s, cp ${last.c.seconds.toFixed(2)} s, ratio ${(last.g.seconds / last.c.seconds).toFixed(3)}, peak RSS ${last.g.peakRssMb.toFixed(1)} MB`,
    );
  }
  await rm(target.out, { recursive: true, force: true });
  return { g, c };
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  await mkdir(CACHE, { recursive: true });
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
  const results = [];
  try {
    for (const target of targets) results.push({ target, ...(await compare(target, channels)) });
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
  for (const { target, g, c } of results) {
    const gs = median(g.map((r) => r.seconds));
    const cs = median(c.map((r) => r.seconds));
    const roundRatio = median(g.map((r, i) => r.seconds / (c[i]?.seconds ?? NaN)));
    const rss = Math.max(...g.map((r) => r.peakRssMb));
    console.log(
      `${target.name}: gamedock pack -j 1 ${gs.toFixed(2)} s | cp x ${CHANNELS} ${cs.toFixed(2)} s | ratio of medians ${(gs / cs).toFixed(3)}, median round ratio ${roundRatio.toFixed(3)} (target <= 1.10) | peak RSS ${rss.toFixed(1)} MB (target <= 80)`,
    );
  }
}

await main();
