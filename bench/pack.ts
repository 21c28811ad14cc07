/**
 * bench:pack — gamedock pack of 10 channels against `cp` of the same mother 10
 * times, in the same run, on the same disk. Prints both times, the ratio, and
 * gamedock's peak RSS. Target: ratio ≤ 1.10, peak RSS ≤ 80 MB.
 *
 *   npm run bench:pack                       # ~300 MB mother, 3 rounds
 *   BENCH_MB=100 BENCH_ROUNDS=1 npm run bench:pack
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { buildSignedApk } from "./signed-apk.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const MB = Number(process.env.BENCH_MB ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
        const status = execFileSync("cat", [`/proc/${child.pid}/status`], { encoding: "utf8" });
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      } catch {
        // the process already exited
      }
    };
    const timer = setInterval(sample, 20);
    child.on("error", fail);
    child.on("close", (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) fail(new Error(`${command} ${args.join(" ")} exited ${code}`));
      else done({ seconds, peakRssMb: peakKb / 1024 });
    });
  });
}

async function cpTenTimes(mother: string, out: string): Promise<Run> {
  const started = performance.now();
  for (let i = 0; i < CHANNELS; i++) {
    execFileSync("cp", [mother, join(out, `copy-${i}.apk`)]);
  }
  return { seconds: (performance.now() - started) / 1000, peakRssMb: 0 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  await mkdir(CACHE, { recursive: true });
  const mother = await buildSignedApk(join(CACHE, `mother-${MB}m.apk`), MB);
  const channels = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`).join(",");
  const out = join(CACHE, "out");
  const size = (await stat(mother)).size / 1e6;

  const gamedock: Run[] = [];
  const cp: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order so neither side always gets the warmer cache.
    const order = round % 2 === 1 ? ["gamedock", "cp"] : ["cp", "gamedock"];
    for (const which of order) {
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });
      execFileSync("sync");
      if (which === "gamedock") {
        gamedock.push(await timed(process.execPath, [CLI, "pack", mother, "-c", channels, "-o", out, "-j", "1"]));
      } else {
        cp.push(await cpTenTimes(mother, out));
      }
    }
    const g = gamedock.at(-1)!;
    const c = cp.at(-1)!;
    console.log(
      `round ${round}: gamedock ${g.seconds.toFixed(2)} s, cp ${c.seconds.toFixed(2)} s, ratio ${(g.seconds / c.seconds).toFixed(3)}, peak RSS ${g.peakRssMb.toFixed(1)} MB`,
    );
  }
  await rm(out, { recursive: true, force: true });

  const g = median(gamedock.map((r) => r.seconds));
  const c = median(cp.map((r) => r.seconds));
  const rss = Math.max(...gamedock.map((r) => r.peakRssMb));
  console.log("");
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  console.log(`mother: ${size.toFixed(1)} MB, ${CHANNELS} channels, ${ROUNDS} rounds (medians)`);
  console.log(`gamedock pack -j 1: ${g.toFixed(2)} s`);
  console.log(`cp x ${CHANNELS}:        ${c.toFixed(2)} s`);
  console.log(`ratio:              ${(g / c).toFixed(3)}  (target <= 1.10)`);
  console.log(`peak RSS:           ${rss.toFixed(1)} MB  (target <= 80 MB)`);
}

await main();
