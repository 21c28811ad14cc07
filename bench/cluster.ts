/**
 * bench:cluster — the task cluster as processes: `gamedock serve` whose
 * cluster queue is Redis, and two `gamedock executor`s (default 2 slots each),
 * every one a child process of the compiled CLI.
 *
 * Dispatch: BENCH_TASKS (2,000) tasks of /bin/true (tool "true"), submitted
 * with BENCH_CLIENTS (16) POSTs in flight, timed from the first POST until
 * GET /api/v1/tasks counts them all finished. Each task is a submission, a
 * claim, the run in a fresh sandbox (started by the executor's launcher
 * process) and a completion. Baseline in the same run (cluster-baseline.ts):
 * BullMQ add + process, and per job /bin/true spawned, one SQLite write and
 * one HTTP callback, on two workers of the same concurrency. The two
 * alternate in BENCH_ROUNDS (4) rounds, so a drift in the machine's speed
 * touches both. Target: cluster >= 0.5x the baseline. Raw BullMQ (no spawn)
 * is printed for context. CPU per task counts each executor with its
 * launcher.
 *
 * Staging: BENCH_STAGING_TASKS (20) tasks of "true" sharing one BENCH_MB
 * (500) MB input, on two fresh executors with empty caches, each reaching
 * serve through a counting proxy (test/cluster/counting-proxy.ts), so the
 * bytes each fetched are counted. Target: bytes <= 1.05 x 2 x size. Wall
 * time from the first POST until all are done, against two parallel `curl`
 * downloads of the same file through the same proxies (and, for context,
 * directly from serve), written to disk as the cache does.
 *
 * Peak RSS of each staging executor: VmHWM in /proc/<pid>/status, read
 * before it stops, and of its launcher beside it. Target: <= 120 MB.
 *
 *   npm run bench:cluster
 *   BENCH_TASKS=500 BENCH_MB=100 npm run bench:cluster
 */
import { privateCli } from "./private-cli.js";
import { cpuSeconds, machineTicks, memKiB } from "./proc-stats.js";
import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import {
  dropRedisPrefix,
  startClusterServe,
  startExecutor,
  stopGracefully,
  type ClusterServe,
  type ExecutorProcess,
  type TaskJson,
} from "../test/cluster/cluster-procs.js";
import { startCountingProxy, type CountingProxy } from "../test/cluster/counting-proxy.js";
import { SERVICES, uniquePrefix } from "../test/helpers/services.js";
import { baselineRate, inPool } from "./cluster-baseline.js";

const TASKS = Number(process.env.BENCH_TASKS ?? 2000);
const MB = Number(process.env.BENCH_MB ?? 500);
const STAGING_TASKS = Number(process.env.BENCH_STAGING_TASKS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SLOTS = 2; // the executors' default
/** A run that finishes nothing for this long is broken: fail instead of waiting forever. */
const STALL_MS = 120_000;
const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

const load = (): string =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

/** VmHWM (peak RSS) of a live process, in MiB. */
const peakRssMiB = (pid: number): number => memKiB(pid, "VmHWM") / 1024;

/** The executor's tool launcher (runner/launcher-main.ts): its child process running that file. */
function launcherOf(pid: number): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("launcher-main"))
        return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

/** Adds the ticks since `before` to `sum`. */
function addTicks(sum: { busy: number; total: number }, before: { busy: number; total: number }) {
  const now = machineTicks();
  sum.busy += now.busy - before.busy;
  sum.total += now.total - before.total;
}

const percent = (ticks: { busy: number; total: number }): string =>
  `${((100 * ticks.busy) / ticks.total).toFixed(0)}%`;

const mibList = (values: number[]): string => values.map((m) => m.toFixed(0)).join(", ");

/** VmRSS (resident now) of a live process, in MiB. */
const rssMiB = (pid: number): number => memKiB(pid, "VmRSS") / 1024;

/** Waits until `count` tasks are finished; returns how many failed. */
async function waitFinished(serve: ClusterServe, count: number): Promise<number> {
  const total = async (status: string): Promise<number> =>
    ((await serve.api("GET", `/api/v1/tasks?status=${status}&limit=1`)).json as { total: number })
      .total;
  let last = -1;
  let movedAt = performance.now();
  for (;;) {
    const done = await total("done");
    const failed =
      (await total("failed")) + (await total("timed_out")) + (await total("cancelled"));
    if (done + failed >= count) return failed;
    if (done + failed !== last) {
      last = done + failed;
      movedAt = performance.now();
    } else if (performance.now() - movedAt > STALL_MS) {
      throw new Error(`no task finished for ${STALL_MS / 1000} s (${last} of ${count})`);
    }
    await sleep(100);
  }
}

async function randomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, "w");
  const chunk = Buffer.alloc(4 * MiB);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      randomFillSync(chunk);
      await file.write(chunk, 0, Math.min(left, chunk.length));
    }
  } finally {
    await file.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "gamedock-bench-cluster-"));
  const prefix = uniquePrefix("bench");
  const { cli, label } = privateCli("cluster-cli");
  const node = `${process.execPath} ${cli.join(" ")}`;
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(`load average at start: ${load()}`);
  console.log(`CLI: ${label}; Redis ${SERVICES.redis.url}, prefix ${prefix}; work dir ${dir}`);
  console.log(
    `sizes: BENCH_TASKS=${TASKS} BENCH_MB=${MB} BENCH_STAGING_TASKS=${STAGING_TASKS} BENCH_CLIENTS=${CLIENTS}`,
  );

  const serve = await startClusterServe({
    dir,
    prefix,
    // The defaults (docs/configuration.md), not the tests' fast timings.
    cluster: { sweepIntervalMs: 1000, heartbeatMs: 2000, lostAfterMs: 15_000 },
    lockMs: 30_000,
    cli,
  });
  const proxies: CountingProxy[] = [];
  let executors: ExecutorProcess[] = [];
  const executor = (name: string, server: string) =>
    startExecutor({ name, dir, prefix, server, tools: { true: "/bin/true" }, lockMs: 30_000, cli });
  try {
    console.log(`\ncommands:`);
    console.log(`  ${node} serve --config ${join(dir, "serve.json")} --stages none`);
    console.log(`    ${readFileSync(join(dir, "serve.json"), "utf8")}`);

    // --- dispatch ---------------------------------------------------------
    executors = [await executor("dispatch-1", serve.url), await executor("dispatch-2", serve.url)];
    console.log(
      `  ${node} executor --config ${join(dir, "dispatch-1.json")} --server ${serve.url} --cache ${executors[0]!.cacheDir}  (and dispatch-2)`,
    );
    console.log(`    ${readFileSync(join(dir, "dispatch-1.json"), "utf8")}`);
    console.log(`\ndispatch: ${TASKS} tasks of /bin/true, ${CLIENTS} submissions in flight`);
    // A few tasks first, so both sides start warm (connections, JIT, prepared statements).
    await inPool(20, CLIENTS, () => serve.submit({ tool: "true" }));
    await waitFinished(serve, 20);
    console.log(`  load before: ${load()}`);
    // An executor starts its tools through a launcher process: its CPU is the executor's too.
    const launchers = executors.map((e) => launcherOf(e.process.pid));
    const cpuOf = (pid: number, i: number): number => {
      const launcher = i === 0 ? null : launchers[i - 1];
      return cpuSeconds(pid) + (launcher ? cpuSeconds(launcher) : 0);
    };
    const pids = [serve.process.pid, ...executors.map((e) => e.process.pid)];
    const baselineOptions = {
      redisUrl: SERVICES.redis.url,
      prefix,
      slots: SLOTS,
      clientConcurrency: CLIENTS,
      dir,
    };
    // Rounds that alternate cluster and baseline: a machine whose speed drifts
    // (shared cores) slows both alike, and the ratio compares like with like.
    const cpu = pids.map(() => 0);
    const clusterTicks = { busy: 0, total: 0 };
    const baselineTicks = { busy: 0, total: 0 };
    let clusterSeconds = 0;
    let baselineSeconds = 0;
    let finished = 20;
    let failed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const n = round < ROUNDS - 1 ? Math.floor(TASKS / ROUNDS) : TASKS - finished + 20;
      const cpuBefore = pids.map(cpuOf);
      const clusterBefore = machineTicks();
      const clusterStart = performance.now();
      await inPool(n, CLIENTS, () => serve.submit({ tool: "true" }));
      failed = await waitFinished(serve, finished + n);
      const clusterRound = (performance.now() - clusterStart) / 1000;
      addTicks(clusterTicks, clusterBefore);
      pids.forEach((pid, i) => (cpu[i]! += cpuOf(pid, i) - cpuBefore[i]!));
      finished += n;
      clusterSeconds += clusterRound;

      const baselineBefore = machineTicks();
      const baselineRound = n / (await baselineRate({ ...baselineOptions, jobs: n }, "minimal"));
      addTicks(baselineTicks, baselineBefore);
      baselineSeconds += baselineRound;
      console.log(
        `  round ${round + 1}: cluster ${(n / clusterRound).toFixed(0)} tasks/s, baseline ${(n / baselineRound).toFixed(0)} jobs/s (${n} each)`,
      );
    }
    const clusterRate = TASKS / clusterSeconds;
    const minimal = TASKS / baselineSeconds;
    const dispatchRss = executors.map((e) => peakRssMiB(e.process.pid));
    const launcherRss = launchers.map((pid) => (pid ? peakRssMiB(pid) : 0));
    await Promise.all(executors.map((e) => stopGracefully(e.process)));
    console.log(
      `  cluster:  ${clusterRate.toFixed(0)} tasks/s (${failed} not done); executors' peak RSS ${mibList(dispatchRss)} MiB, their launchers' ${mibList(launcherRss)} MiB`,
    );
    console.log(
      `  CPU per task: serve ${((cpu[0]! / TASKS) * 1000).toFixed(1)} ms, executors ${cpu
        .slice(1)
        .map((c) => ((c / TASKS) * 1000).toFixed(1))
        .join(" + ")} ms (with their launchers; the tools not counted)`,
    );
    const raw = await baselineRate({ ...baselineOptions, jobs: TASKS }, "raw");
    console.log(
      `  baseline: ${minimal.toFixed(0)} jobs/s (BullMQ + spawn /bin/true + SQLite write + HTTP callback, 2 workers x ${SLOTS})`,
    );
    console.log(`  raw BullMQ (no spawn, context): ${raw.toFixed(0)} jobs/s`);
    console.log(
      `  ratio cluster / baseline: ${(clusterRate / minimal).toFixed(2)} (target >= 0.5), over ${ROUNDS} alternating rounds; the machine's cores were ${percent(clusterTicks)} busy for the cluster, ${percent(baselineTicks)} for the baseline`,
    );

    // --- staging ----------------------------------------------------------
    const size = MB * 1e6;
    console.log(
      `\nstaging: ${STAGING_TASKS} tasks sharing one ${MB} MB input, 2 fresh executors behind counting proxies`,
    );
    const file = join(dir, "input.bin");
    await randomFile(file, size);
    const input = await serve.store("input.bin", file);
    for (let i = 0; i < 2; i++) proxies.push(await startCountingProxy(serve.url));
    executors = [
      await executor("staging-1", proxies[0]!.url),
      await executor("staging-2", proxies[1]!.url),
    ];
    console.log(
      `  ${node} executor --config ${join(dir, "staging-1.json")} --server ${proxies[0]!.url} --cache ${executors[0]!.cacheDir}  (and staging-2 via ${proxies[1]!.url})`,
    );
    const idleRss = executors.map((e) => rssMiB(e.process.pid));
    console.log(
      `  load before: ${load()}; executors' RSS when idle ${idleRss.map((m) => m.toFixed(0)).join(", ")} MiB`,
    );
    const stagingStart = performance.now();
    const tasks: TaskJson[] = [];
    await inPool(STAGING_TASKS, CLIENTS, async () => {
      tasks.push(
        await serve.submit({
          tool: "true",
          inputs: [{ path: "input.bin", ...input }],
          timeouts: { stagingMs: 1_800_000 },
        }),
      );
    });
    const stagingFailed = await waitFinished(serve, TASKS + 20 + STAGING_TASKS);
    const stagingSeconds = (performance.now() - stagingStart) / 1000;
    const rss = executors.map((e) => peakRssMiB(e.process.pid));
    const stagingLaunchers = executors.map((e) => launcherOf(e.process.pid));
    const stagingLauncherRss = stagingLaunchers.map((pid) => (pid ? peakRssMiB(pid) : 0));
    const fetched = proxies.map((p) => p.inputBytes(input.sha256));
    const ranOn = new Map<string, number>();
    for (const task of tasks) {
      const { executor: on } = await serve.task(task.id);
      ranOn.set(on ?? "none", (ranOn.get(on ?? "none") ?? 0) + 1);
    }
    await Promise.all(executors.map((e) => stopGracefully(e.process)));
    executors = [];

    // Two curls at once, as the two executors; to disk, as the cache writes.
    const curl = async (base: string): Promise<number> => {
      const started = performance.now();
      const times = await Promise.all(
        [0, 1].map(async (i) => {
          const out = join(dir, `curl-${i}.bin`);
          const url = `${base === "proxy" ? proxies[i]!.url : serve.url}/files/by-sha256/${input.sha256}`;
          await execFileAsync("curl", ["-sS", "--fail", "-o", out, url]);
          await rm(out);
          return performance.now();
        }),
      );
      return (Math.max(...times) - started) / 1000;
    };
    console.log(`  curl -sS --fail -o <file> <url>/files/by-sha256/<hex>  (two at once)`);
    const curlProxy = await curl("proxy");
    const curlDirect = await curl("direct");
    const total = fetched.reduce((a, b) => a + b, 0);
    console.log(
      `  cluster: ${stagingSeconds.toFixed(1)} s for ${STAGING_TASKS} tasks (${stagingFailed - failed} not done); ran on ${[...ranOn.values()].join(" + ")}`,
    );
    console.log(
      `  bytes fetched: ${fetched.map((b) => (b / 1e6).toFixed(1)).join(" + ")} MB = ${(total / (2 * size)).toFixed(3)} x 2 x size (target <= 1.05)`,
    );
    console.log(
      `  two curls through the proxies: ${curlProxy.toFixed(1)} s (cluster / curl = ${(stagingSeconds / curlProxy).toFixed(2)}); directly from serve: ${curlDirect.toFixed(1)} s`,
    );
    console.log(
      `  executors' peak RSS (VmHWM): ${mibList(rss)} MiB (target <= 120 MB); their launchers' ${mibList(stagingLauncherRss)} MiB`,
    );
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    await Promise.all(executors.map((e) => stopGracefully(e.process)));
    await serve.close();
    await Promise.all(proxies.map((p) => p.close()));
    await dropRedisPrefix(prefix);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
