/**
 * bench:files — the file service against nginx, in one run, on loopback.
 *
 * Upload: a fresh `gamedock files` (embedded defaults, temp --data) takes a
 * 1 GiB random file through tus (POST, then PATCHes of 64 MiB, each body a
 * streaming fs.createReadStream); timed, and the process's peak RSS (VmHWM)
 * read from /proc. Target: peak RSS <= 150 MB. For scale, the bench also
 * times sha256 + md5 of the same bytes with hash-wasm in its own process —
 * the digests every upload computes, and so the upload's ceiling on one core.
 *
 * Download: a second fresh `gamedock files` on the same data serves it
 * (GET /files/<id>); nginx (Debian, sendfile on, tcp_nopush on) serves the
 * same bytes as a static file. Both are fetched by the same client — curl
 * processes writing to /dev/null, far cheaper per byte than a Node client,
 * which at 32 streams needed a whole core itself — at concurrency 1 (one curl
 * downloading the file C1_REPEAT times on one connection) and 32 (32 curls,
 * one download each), alternating gamedock/nginx every round after a warm-up.
 * Throughput = bytes / wall time of the batch. Target: gamedock >= 0.8x nginx.
 * CPU seconds per GiB (server process, curl) come from /proc.
 *
 *   npm run bench:files                            # 1 GiB, 3 rounds + warm-up
 *   BENCH_MIB=256 BENCH_ROUNDS=1 npm run bench:files
 */
import { privateCli } from "./private-cli.js";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statfsSync } from "node:fs";
import {
  copyFile,
  link,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pipeline } from "node:stream/promises";
import { createMD5, createSHA256 } from "hash-wasm";
import { startNginx, type Nginx } from "../test/helpers/nginx.js";
import { MiB, TusClient, randomFile } from "../test/files/tus-kit.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATCH_BYTES = 64 * MiB;
const CONCURRENCY = [1, 32] as const;
/** At concurrency 1 one download of 1 GiB takes ~0.5 s: repeat it to time something longer. */
const C1_REPEAT = 4;
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const MB = 1e6;
const GiB = 1024 * MiB;

/** The random source file, cached with its sha256 between runs. */
async function sourceFile(): Promise<{ path: string; sha256: string }> {
  const path = join(CACHE, `files-${SIZE / MiB}m.bin`);
  const digest = `${path}.sha256`;
  if (existsSync(path) && existsSync(digest) && (await stat(path)).size === SIZE) {
    return { path, sha256: (await readFile(digest, "utf8")).trim() };
  }
  await randomFile(`${path}.tmp`, SIZE);
  await rename(`${path}.tmp`, path);
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  const sha256 = hash.digest("hex");
  await writeFile(digest, `${sha256}\n`);
  return { path, sha256 };
}

function checkSpace(): void {
  for (const dir of [tmpdir(), CACHE]) {
    process.stdout.write(execFileSync("df", ["-h", dir], { encoding: "utf8" }));
  }
  const free = (dir: string): number => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  if (free(tmpdir()) < 2 * SIZE + GiB) {
    throw new Error(`${tmpdir()} needs ${(2 * SIZE + GiB) / GiB} GiB free (gamedock's data)`);
  }
  if (free(CACHE) < SIZE + GiB) throw new Error(`${CACHE} needs ${(SIZE + GiB) / GiB} GiB free`);
}

/** A field of /proc/<pid>/status in kB (VmHWM = peak RSS); 0 once gone. A read, not a subprocess. */
function statusKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU seconds of a process (utime + stime), or of this process's reaped children. */
function cpuSeconds(pid: number | "children"): number {
  const stat = readFileSync(`/proc/${pid === "children" ? "self" : pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state is field 3, so utime (14) is index 11; cutime (16) is 13.
  const at = pid === "children" ? 13 : 11;
  return (Number(fields[at]) + Number(fields[at + 1])) / TICKS;
}

interface Gamedock {
  child: ChildProcess;
  pid: number;
  url: string;
  exited: Promise<number | null>;
}

async function startGamedock(cli: string[], data: string, label: string): Promise<Gamedock> {
  const args = [...cli, "files", "--data", data, "--port", "0"];
  args.push("--log-file", join(data, `${label}.log`));
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-8000)));
  const exited = new Promise<number | null>((done) =>
    child.on("exit", (code) => {
      done(code);
    }),
  );
  const url = await new Promise<string>((done, fail) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1] !== undefined) done(match[1]);
    });
    void exited.then((code) => {
      fail(new Error(`gamedock files exited (${code}): ${stderr}`));
    });
  });
  return { child, pid: child.pid ?? 0, url, exited };
}

async function stopGamedock(gamedock: Gamedock): Promise<void> {
  gamedock.child.kill("SIGTERM");
  const code = await gamedock.exited;
  if (code !== 0) throw new Error(`gamedock files exited ${code} on SIGTERM`);
}

interface Batch {
  seconds: number;
  bytes: number;
  /** CPU seconds of the curl processes. */
  clientCpu: number;
}

/** `concurrency` curl processes to /dev/null; every response must be a 200 of `size` bytes. */
async function curlBatch(url: string, concurrency: number, size: number): Promise<Batch> {
  const repeat = concurrency === 1 ? C1_REPEAT : 1;
  const args = ["-sS", "--fail", "-w", "%{http_code} %{size_download}\\n"];
  for (let i = 0; i < repeat; i++) args.push(url, "-o", "/dev/null");
  const cpuBefore = cpuSeconds("children");
  const started = performance.now();
  const runs = Array.from(
    { length: concurrency },
    () =>
      new Promise<string>((done, fail) => {
        const child = spawn("curl", args, { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        child.on("error", fail);
        child.on("close", (code) => {
          if (code === 0) done(out);
          else fail(new Error(`curl ${url} exited ${code}`));
        });
      }),
  );
  const outputs = await Promise.all(runs);
  const seconds = (performance.now() - started) / 1000;
  for (const line of outputs.join("").trim().split("\n")) {
    if (line !== `200 ${size}`) throw new Error(`curl ${url}: ${line} (expected 200 ${size})`);
  }
  return {
    seconds,
    bytes: size * repeat * concurrency,
    clientCpu: cpuSeconds("children") - cpuBefore,
  };
}

interface Sample {
  mbps: number;
  /** CPU seconds per GiB delivered: the server process, the curls. */
  serverCpuPerGiB: number;
  clientCpuPerGiB: number;
}

interface Side {
  name: "gamedock" | "nginx";
  url: string;
  /** The process that does the serving (gamedock, or nginx's worker). */
  pid: number;
}

async function measure(side: Side, concurrency: number): Promise<Sample> {
  const serverBefore = cpuSeconds(side.pid);
  const batch = await curlBatch(side.url, concurrency, SIZE);
  const gib = batch.bytes / GiB;
  return {
    mbps: batch.bytes / MB / batch.seconds,
    serverCpuPerGiB: (cpuSeconds(side.pid) - serverBefore) / gib,
    clientCpuPerGiB: batch.clientCpu / gib,
  };
}

/** MB/s of sha256 + md5 (hash-wasm, as the upload path uses) over the file, in this process. */
async function digestCeiling(path: string): Promise<number> {
  const [sha256, md5] = await Promise.all([createSHA256(), createMD5()]);
  const started = performance.now();
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) {
    sha256.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  sha256.digest();
  md5.digest();
  return SIZE / MB / ((performance.now() - started) / 1000);
}

const load = (): string => loadavg()[0]?.toFixed(1) ?? "?";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(mid)] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

async function uploadPhase(
  cli: string[],
  data: string,
  source: { path: string; sha256: string },
): Promise<{ id: string; mbps: number; peakRssMb: number; idleRssMb: number }> {
  const gamedock = await startGamedock(cli, data, "upload");
  try {
    const idleRssMb = statusKb(gamedock.pid, "VmRSS") / 1024;
    const client = new TusClient(gamedock.url);
    const started = performance.now();
    const url = await client.start(SIZE, { filename: "bench-1g.bin" });
    const offset = await client.sendFile(url, source.path, SIZE, 0, PATCH_BYTES);
    const seconds = (performance.now() - started) / 1000;
    const peakRssMb = statusKb(gamedock.pid, "VmHWM") / 1024;
    if (offset !== SIZE) throw new Error(`upload ended at ${offset} of ${SIZE}`);
    const id = new URL(url).pathname.split("/").pop() ?? "";
    const head = await fetch(`${gamedock.url}/files/${id}`, { method: "HEAD" });
    if (head.headers.get("etag") !== `"${source.sha256}"`) {
      throw new Error(`stored ETag ${head.headers.get("etag")}, file sha256 ${source.sha256}`);
    }
    return { id, mbps: SIZE / MB / seconds, peakRssMb, idleRssMb };
  } finally {
    await stopGamedock(gamedock);
  }
}

async function main(): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  checkSpace();
  const { cli } = privateCli("files-cli");
  const source = await sourceFile();
  const work = await mkdtemp(join(tmpdir(), "gamedock-bench-files-"));
  let gamedock: Gamedock | null = null;
  let nginx: Nginx | null = null;
  try {
    const data = join(work, "data");
    const upload = await uploadPhase(cli, data, source);
    console.log(
      `upload: ${SIZE / MiB} MiB through tus in ${PATCH_BYTES / MiB} MiB PATCHes: ` +
        `${upload.mbps.toFixed(0)} MB/s, peak RSS ${upload.peakRssMb.toFixed(1)} MB ` +
        `(idle ${upload.idleRssMb.toFixed(1)} MB; load ${load()})`,
    );

    gamedock = await startGamedock(cli, data, "download");
    const www = join(work, "www");
    await mkdir(www);
    // The same bytes: a hard link to the source (a copy across file systems).
    await link(source.path, join(www, "file.bin")).catch(() =>
      copyFile(source.path, join(www, "file.bin")),
    );
    nginx = await startNginx(join(work, "nginx"), {
      http: "sendfile on; tcp_nopush on;",
      server: `access_log off; root ${www}; location / { }`,
    });
    const worker = Number(readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, "utf8"));
    const sides: Side[] = [
      { name: "gamedock", url: `${gamedock.url}/files/${upload.id}`, pid: gamedock.pid },
      { name: "nginx", url: `${nginx.url}/file.bin`, pid: worker },
    ];
    for (const side of sides) await curlBatch(side.url, 1, SIZE); // warm-up: page cache, JIT

    const samples = new Map<string, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const concurrency of CONCURRENCY) {
        const order = round % 2 === 1 ? sides : [...sides].reverse();
        const line: string[] = [];
        for (const side of order) {
          const sample = await measure(side, concurrency);
          const key = `${side.name}/${concurrency}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          line.push(`${side.name} ${sample.mbps.toFixed(0)} MB/s`);
        }
        console.log(`round ${round} c=${concurrency}: ${line.join(", ")} (load ${load()})`);
      }
    }
    const downloadPeakMb = statusKb(gamedock.pid, "VmHWM") / 1024;
    const ceiling = await digestCeiling(source.path);

    console.log("");
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / GiB).toFixed(0)} GiB, node ${process.version}`,
    );
    console.log(
      `file: ${SIZE / MiB} MiB, ${ROUNDS} rounds (+ warm-up), medians; client: curl to /dev/null (c=1: ${C1_REPEAT} downloads on one connection)`,
    );
    console.log("target: download ratio >= 0.8, peak RSS during the upload <= 150 MB");
    for (const concurrency of CONCURRENCY) {
      const own = samples.get(`gamedock/${concurrency}`) ?? [];
      const base = samples.get(`nginx/${concurrency}`) ?? [];
      const g = median(own.map((s) => s.mbps));
      const n = median(base.map((s) => s.mbps));
      const roundRatio = median(own.map((s, i) => s.mbps / (base[i]?.mbps ?? NaN)));
      const cpu = (list: Sample[], pick: (s: Sample) => number): string =>
        median(list.map(pick)).toFixed(2);
      console.log(
        `download c=${concurrency}: gamedock ${g.toFixed(0)} MB/s, nginx ${n.toFixed(0)} MB/s | ratio of medians ${(g / n).toFixed(3)}, median round ratio ${roundRatio.toFixed(3)} | CPU s/GiB: gamedock ${cpu(own, (s) => s.serverCpuPerGiB)} (curl ${cpu(own, (s) => s.clientCpuPerGiB)}), nginx ${cpu(base, (s) => s.serverCpuPerGiB)} (curl ${cpu(base, (s) => s.clientCpuPerGiB)})`,
      );
    }
    console.log(
      `upload: ${upload.mbps.toFixed(0)} MB/s, ${(upload.mbps / ceiling).toFixed(2)} of sha256+md5 alone (${ceiling.toFixed(0)} MB/s) | gamedock peak RSS: upload ${upload.peakRssMb.toFixed(1)} MB, downloads ${downloadPeakMb.toFixed(1)} MB`,
    );
    console.log(`load average (1 min) at the end: ${load()}`);
  } finally {
    await nginx?.stop();
    if (gamedock) await stopGamedock(gamedock);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
