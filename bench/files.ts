/**
 * bench:files — the file service against nginx, in one run, on loopback.
 *
 * Upload (bench/files-upload.ts): the same random file (1 GiB, cached in
 * bench/.cache with its sha256 and split once into 64 MiB pieces beside it)
 * uploaded, every client a curl process:
 * - to a private nginx (`dav_methods PUT`) followed by `sync` — the baseline,
 *   durable like gamedock's fsynced uploads; nginx without the `sync` too;
 * - to `gamedock files` through `PUT /files/:name`;
 * - through tus in 64 MiB PATCHes, and in one PATCH;
 * - through tus on instance A for the first half and on instance B (same
 *   data, Redis locks) for the second: B − A is the takeover's cost, and B's
 *   log says how many stored bytes it read again (`tus-digests-caught-up`).
 * Each gamedock scenario has a fresh process (its VmHWM is that scenario's
 * peak RSS) and a fresh data dir; rounds (BENCH_UPLOAD_ROUNDS, default 3)
 * alternate the order. Printed: times, ratios to the baseline, peak RSS, and
 * `openssl dgst` md5 / sha256 of the file for context. Targets: PUT >= 0.5x
 * the baseline, tus in 64 MiB PATCHes >= 0.45x, peak RSS <= 150 MB, a
 * takeover re-reads at most the stored prefix once.
 *
 * Download: a fresh `gamedock files` on the data of the first PUT serves that
 * file (GET /files/<id>); nginx (Debian, sendfile on, tcp_nopush on) serves
 * the same bytes as a static file. Both are fetched by the same client — curl
 * processes writing to /dev/null, far cheaper per byte than a Node client,
 * which at 32 streams needed a whole core itself — at concurrency 1 (one curl
 * downloading the file C1_REPEAT times on one connection) and 32 (32 curls,
 * one download each), alternating gamedock/nginx every round after a warm-up.
 * Throughput = bytes / wall time of the batch. Target: gamedock >= 0.8x nginx.
 * CPU seconds per GiB (server process, curl) come from /proc.
 *
 *   npm run bench:files                            # 1 GiB, 3 + 3 rounds (+ warm-up)
 *   BENCH_MIB=256 BENCH_ROUNDS=1 BENCH_UPLOAD_ROUNDS=1 npm run bench:files
 */
import { privateCli } from "./private-cli.js";
import {
  load,
  median,
  startGamedock,
  statusKb,
  stopGamedock,
  uploadComparison,
  type Gamedock,
} from "./files-upload.js";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, statfsSync } from "node:fs";
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
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { startNginx, type Nginx } from "../test/helpers/nginx.js";

const MiB = 1024 * 1024;
const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const UPLOAD_ROUNDS = Number(process.env.BENCH_UPLOAD_ROUNDS ?? 3);
const CONCURRENCY = [1, 32] as const;
/** At concurrency 1 one download of 1 GiB takes ~0.5 s: repeat it to time something longer. */
const C1_REPEAT = 4;
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const MB = 1e6;
const GiB = 1024 * MiB;

/** Writes `size` random bytes to `path` in 1 MiB pieces. */
async function randomFile(path: string, size: number): Promise<void> {
  function* pieces(): Generator<Buffer> {
    for (let left = size; left > 0; left -= MiB) yield randomBytes(Math.min(MiB, left));
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path));
}

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
  // The kept PUT, one scenario's upload, and a copy for nginx if the cache is on another fs.
  if (free(tmpdir()) < 3 * SIZE + GiB) {
    throw new Error(`${tmpdir()} needs ${(3 * SIZE + GiB) / GiB} GiB free (uploads)`);
  }
  // The source and its 64 MiB pieces.
  if (free(CACHE) < 2 * SIZE + GiB) {
    throw new Error(`${CACHE} needs ${(2 * SIZE + GiB) / GiB} GiB free`);
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

async function main(): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  checkSpace();
  const { cli, label } = privateCli("files-cli");
  console.log(`gamedock: ${label}`);
  const source = await sourceFile();
  const work = await mkdtemp(join(tmpdir(), "gamedock-bench-files-"));
  let gamedock: Gamedock | null = null;
  let nginx: Nginx | null = null;
  try {
    const upload = await uploadComparison({
      cli,
      work,
      source,
      size: SIZE,
      rounds: UPLOAD_ROUNDS,
    });
    console.log("");

    gamedock = await startGamedock(cli, upload.data, "download");
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

    console.log("");
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / GiB).toFixed(0)} GiB, node ${process.version}`,
    );
    console.log(
      `file: ${SIZE / MiB} MiB, ${ROUNDS} rounds (+ warm-up), medians; client: curl to /dev/null (c=1: ${C1_REPEAT} downloads on one connection)`,
    );
    console.log("target: download ratio >= 0.8");
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
    console.log(`gamedock peak RSS during the downloads: ${downloadPeakMb.toFixed(1)} MB`);
    console.log(`load average (1 min) at the end: ${load()}`);
  } finally {
    await nginx?.stop();
    if (gamedock) await stopGamedock(gamedock);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
