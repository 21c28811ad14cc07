/**
 * The upload half of bench:files: one file uploaded, durably, to nginx and to
 * gamedock in five ways, every client a curl process (cheap per byte, the
 * same for both sides). Also the `gamedock files` process helpers both
 * halves use.
 *
 * Scenarios, each run once per round:
 * - nginx: a fresh private nginx (`dav_methods PUT`, body temp files on the
 *   same file system as its root) takes `curl -T <file> <url>/upload-N.bin`,
 *   then `sync` — the baseline, durable like gamedock's fsynced uploads; the
 *   curl alone is printed as "nginx, no sync". The file is removed afterwards.
 * - PUT: `curl -T <file> <gamedock>/files/bench-N.bin`; the 201's sha256 must
 *   be the file's.
 * - tus 64 MiB: POST (fetch), then one curl PATCH per 64 MiB piece (the
 *   pieces are files in bench/.cache, split once from the source).
 * - tus 1 PATCH: POST, then the whole file in one curl PATCH.
 * - takeover: two `gamedock files`, A and B, on one data directory (with a
 *   private Redis for the tus locks when redis-server is installed). A takes
 *   the POST and the first half of the pieces, B a tus HEAD and the second
 *   half: B − A is what taking an upload over costs. B's log says what it
 *   read again to catch its digests up (`tus-digests-caught-up`, from/to/ms).
 * Each gamedock scenario runs on a fresh process (so its VmHWM is that
 * scenario's peak RSS) with a fresh data directory, removed afterwards —
 * except the first PUT's, which the download half then serves. tus uploads
 * must end with the file's sha256 as the download ETag. An untimed `sync`
 * before every scenario starts each with nothing dirty.
 *
 * Rounds alternate the order (nginx … takeover, then takeover … nginx), so
 * drift is shared. The summary has medians, ratios to the baseline (baseline
 * seconds / scenario seconds) and the targets: PUT ≥ 0.5×, tus in 64 MiB
 * PATCHes ≥ 0.45×, peak RSS ≤ 150 MB, a takeover re-reads at most the stored
 * prefix once. For context, `openssl dgst` md5 and sha256 of the file, alone
 * and in parallel.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { freePort, startNginx } from "../test/helpers/nginx.js";

const ROOT = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const MB = 1e6;
const PIECE = 64 * MiB;
const PEAK_RSS_TARGET_MB = 150;

// ---------------------------------------------------------------- process helpers

/** A field of /proc/<pid>/status in kB (VmHWM = peak RSS); 0 once gone. A read, not a subprocess. */
export function statusKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export const load = (): string => loadavg()[0]?.toFixed(1) ?? "?";

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(mid)] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export interface Gamedock {
  child: ChildProcess;
  pid: number;
  url: string;
  exited: Promise<number | null>;
  log: string;
}

export async function startGamedock(
  cli: string[],
  data: string,
  label: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Gamedock> {
  const log = join(data, `${label}.log`);
  const args = [...cli, "files", "--data", data, "--port", "0", "--log-file", log];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
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
  return { child, pid: child.pid ?? 0, url, exited, log };
}

export async function stopGamedock(gamedock: Gamedock): Promise<void> {
  gamedock.child.kill("SIGTERM");
  const code = await gamedock.exited;
  if (code !== 0) throw new Error(`gamedock files exited ${code} on SIGTERM`);
}

/** Runs a command to its end; rejects unless it exits 0. Wall time from spawn to close. */
function run(cmd: string, args: string[]): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) done({ stdout, seconds });
      else fail(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}

// ---------------------------------------------------------------- inputs

interface Source {
  path: string;
  sha256: string;
}

interface Piece {
  path: string;
  offset: number;
  size: number;
}

/** The source split into 64 MiB files beside it (`<source>.p00` …), made once per source sha256. */
async function pieceFiles(source: Source, size: number): Promise<Piece[]> {
  const count = Math.ceil(size / PIECE);
  const width = Math.max(2, String(count - 1).length);
  const pieces = Array.from({ length: count }, (_, i) => ({
    path: `${source.path}.p${String(i).padStart(width, "0")}`,
    offset: i * PIECE,
    size: Math.min(PIECE, size - i * PIECE),
  }));
  const marker = `${source.path}.pieces`;
  const made =
    existsSync(marker) &&
    (await readFile(marker, "utf8")).trim() === source.sha256 &&
    (
      await Promise.all(
        pieces.map((p) =>
          stat(p.path).then(
            (s) => s.size === p.size,
            () => false,
          ),
        ),
      )
    ).every(Boolean);
  if (made) return pieces;
  await rm(marker, { force: true });
  for (const piece of pieces) {
    await pipeline(
      createReadStream(source.path, { start: piece.offset, end: piece.offset + piece.size - 1 }),
      createWriteStream(piece.path),
    );
  }
  await writeFile(marker, `${source.sha256}\n`);
  return pieces;
}

/** A private redis-server on a free loopback port, or null when there is none to start. */
async function startRedis(): Promise<{ url: string; stop(): Promise<void> } | null> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((done) => {
    child.on("error", () => {
      done();
    });
    child.on("exit", () => {
      done();
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));
  for (let attempt = 0; !(await answers(port)); attempt++) {
    if (gone || attempt >= 100) {
      child.kill("SIGKILL");
      return null;
    }
    await delay(50);
  }
  return {
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      if (gone) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => {
      socket.destroy();
      done(false);
    });
  });
}

// ---------------------------------------------------------------- tus over curl

const TUS = { "Tus-Resumable": "1.0.0" };

async function tusCreate(base: string, name: string, size: number): Promise<string> {
  const response = await fetch(`${base}/files/`, {
    method: "POST",
    headers: {
      ...TUS,
      "Upload-Length": String(size),
      "Upload-Metadata": `filename ${Buffer.from(name, "utf8").toString("base64")}`,
    },
  });
  const body = await response.text();
  if (response.status !== 201) throw new Error(`tus POST: ${response.status} ${body}`);
  return new URL(response.headers.get("location") ?? "", base).toString();
}

/** One PATCH by curl with `piece` as the body; returns the new offset (must be offset + size). */
async function tusPatch(url: string, offset: number, piece: Piece): Promise<number> {
  const { stdout } = await run("curl", [
    "-sS",
    "--fail",
    "-X",
    "PATCH",
    "-H",
    "Tus-Resumable: 1.0.0",
    "-H",
    `Upload-Offset: ${offset}`,
    "-H",
    "Content-Type: application/offset+octet-stream",
    "-D",
    "-",
    "-o",
    "/dev/null",
    "-T",
    piece.path,
    url,
  ]);
  const offsets = [...stdout.matchAll(/^upload-offset:\s*(\d+)/gim)];
  const next = Number(offsets[offsets.length - 1]?.[1]);
  if (next !== offset + piece.size) {
    throw new Error(`PATCH at ${offset} of ${piece.size} bytes answered: ${stdout.trim()}`);
  }
  return next;
}

async function tusOffset(url: string): Promise<number> {
  const response = await fetch(url, { method: "HEAD", headers: TUS });
  if (response.status !== 200) throw new Error(`tus HEAD ${url}: ${response.status}`);
  return Number(response.headers.get("upload-offset"));
}

/** The finished upload's download ETag must be the source's sha256. */
async function checkStored(url: string, sha256: string): Promise<void> {
  const response = await fetch(url, { method: "HEAD" });
  const etag = response.headers.get("etag");
  if (response.status !== 200 || etag !== `"${sha256}"`) {
    throw new Error(`HEAD ${url}: ${response.status}, ETag ${etag}, file sha256 ${sha256}`);
  }
}

/** What B's log says it re-read to catch its digests up, summed; null when nothing was logged. */
async function catchUp(log: string): Promise<{ bytes: number; ms: number } | null> {
  const text = await readFile(log, "utf8").catch(() => "");
  let found: { bytes: number; ms: number } | null = null;
  for (const line of text.split("\n")) {
    if (!line.includes("tus-digests-caught-up")) continue;
    try {
      const entry = JSON.parse(line) as {
        event?: string;
        from?: unknown;
        to?: unknown;
        ms?: unknown;
      };
      if (entry.event !== "tus-digests-caught-up") continue;
      found ??= { bytes: 0, ms: 0 };
      found.bytes += Number(entry.to ?? 0) - Number(entry.from ?? 0);
      found.ms += Number(entry.ms ?? 0);
    } catch {
      // a line cut off by the process's end
    }
  }
  return found;
}

// ---------------------------------------------------------------- scenarios

type Key = "nginx" | "nginx-nosync" | "put" | "tus-64" | "tus-1" | "takeover";
type Step = "nginx" | "put" | "tus-64" | "tus-1" | "takeover";

const LABEL: Record<Key, string> = {
  nginx: "nginx PUT + sync (baseline)",
  "nginx-nosync": "nginx PUT, no sync",
  put: "gamedock PUT /files/:name",
  "tus-64": "gamedock tus, 64 MiB PATCHes",
  "tus-1": "gamedock tus, one PATCH",
  takeover: "gamedock tus, A then B (takeover)",
};

interface Sample {
  round: number;
  seconds: number;
  peakRssMb: number;
}

interface Takeover {
  aSeconds: number;
  bSeconds: number;
  caughtUp: { bytes: number; ms: number } | null;
}

export interface UploadOptions {
  cli: string[];
  /** A temp directory for data dirs, nginx and its root (removed by the caller). */
  work: string;
  source: Source;
  size: number;
  rounds: number;
}

/**
 * Runs the comparison and prints it. Returns the data directory of the first
 * PUT (left in place, under `work`) and that file's id, for the downloads.
 */
export async function uploadComparison(opts: UploadOptions): Promise<{ data: string; id: string }> {
  const { cli, work, source, size, rounds } = opts;
  const mb = size / MB;
  const pieces = await pieceFiles(source, size);
  const whole: Piece = { path: source.path, offset: 0, size };
  const half = Math.floor(pieces.length / 2);
  const prefixBytes = pieces.slice(0, half).reduce((sum, p) => sum + p.size, 0);
  // Into the page cache: every scenario reads them from there.
  await run("sh", ["-c", 'cat "$@" > /dev/null', "sh", source.path, ...pieces.map((p) => p.path)]);
  const redis = await startRedis();
  const samples = new Map<Key, Sample[]>();
  const takeovers: Takeover[] = [];
  let kept: { data: string; id: string } | null = null;
  const record = (key: Key, sample: Sample): void => {
    samples.set(key, [...(samples.get(key) ?? []), sample]);
  };
  const rate = (seconds: number): string => `${(mb / seconds).toFixed(0)} MB/s`;

  /** A fresh `gamedock files` on a fresh data dir; `body` gets its URL; returns its RSS. */
  async function onGamedock(
    name: string,
    body: (gamedock: Gamedock, data: string) => Promise<{ keep?: string }>,
  ): Promise<{ idleMb: number; peakMb: number; data: string }> {
    const data = join(work, name);
    await mkdir(data, { recursive: true });
    const gamedock = await startGamedock(cli, data, name);
    let keep = false;
    try {
      const idleMb = statusKb(gamedock.pid, "VmRSS") / 1024;
      const result = await body(gamedock, data);
      const peakMb = statusKb(gamedock.pid, "VmHWM") / 1024;
      if (result.keep !== undefined && kept === null) {
        kept = { data, id: result.keep };
        keep = true;
      }
      return { idleMb, peakMb, data };
    } finally {
      await stopGamedock(gamedock);
      if (!keep) await rm(data, { recursive: true, force: true });
    }
  }

  async function nginxStep(round: number): Promise<string> {
    const www = join(work, "put-www");
    const body = join(work, "put-nginx-body");
    await mkdir(www, { recursive: true });
    const nginx = await startNginx(join(work, "put-nginx"), {
      server:
        `access_log off; client_max_body_size 0; client_body_temp_path ${body}; ` +
        `location / { root ${www}; dav_methods PUT; create_full_put_path on; }`,
    });
    const worker = Number(readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, "utf8"));
    try {
      const name = `upload-${round}.bin`;
      const curl = await run("curl", ["-sS", "--fail", "-T", source.path, `${nginx.url}/${name}`]);
      const sync = await run("sync", []);
      const peakRssMb = statusKb(worker, "VmHWM") / 1024;
      if ((await stat(join(www, name))).size !== size)
        throw new Error(`nginx stored a short ${name}`);
      await rm(join(www, name));
      record("nginx", { round, seconds: curl.seconds + sync.seconds, peakRssMb });
      record("nginx-nosync", { round, seconds: curl.seconds, peakRssMb });
      return (
        `nginx ${(curl.seconds + sync.seconds).toFixed(2)} s = curl ${curl.seconds.toFixed(2)} s ` +
        `+ sync ${sync.seconds.toFixed(2)} s (${rate(curl.seconds + sync.seconds)}; ` +
        `no sync ${rate(curl.seconds)}), worker peak RSS ${peakRssMb.toFixed(1)} MB`
      );
    } finally {
      await nginx.stop();
    }
  }

  async function putStep(round: number): Promise<string> {
    let seconds = 0;
    const rss = await onGamedock(`put-${round}`, async (gamedock) => {
      const url = `${gamedock.url}/files/bench-${round}.bin`;
      const answer = await run("curl", ["-sS", "--fail", "-T", source.path, url]);
      seconds = answer.seconds;
      const file = JSON.parse(answer.stdout) as { id?: string; sha256?: string };
      if (file.sha256 !== source.sha256 || file.id === undefined) {
        throw new Error(
          `PUT answered ${answer.stdout.slice(0, 300)}; file sha256 ${source.sha256}`,
        );
      }
      return { keep: file.id };
    });
    record("put", { round, seconds, peakRssMb: rss.peakMb });
    return `PUT ${seconds.toFixed(2)} s (${rate(seconds)}), RSS ${rss.idleMb.toFixed(1)} → peak ${rss.peakMb.toFixed(1)} MB`;
  }

  async function tusStep(round: number, key: "tus-64" | "tus-1"): Promise<string> {
    let seconds = 0;
    const bodies = key === "tus-64" ? pieces : [whole];
    const rss = await onGamedock(`${key}-${round}`, async (gamedock) => {
      const started = performance.now();
      const url = await tusCreate(gamedock.url, `bench-${key}-${round}.bin`, size);
      let offset = 0;
      for (const piece of bodies) offset = await tusPatch(url, offset, piece);
      seconds = (performance.now() - started) / 1000;
      await checkStored(url, source.sha256);
      return {};
    });
    record(key, { round, seconds, peakRssMb: rss.peakMb });
    return `${key} ${seconds.toFixed(2)} s (${rate(seconds)}, ${bodies.length} PATCH${bodies.length === 1 ? "" : "es"}), RSS ${rss.idleMb.toFixed(1)} → peak ${rss.peakMb.toFixed(1)} MB`;
  }

  async function takeoverStep(round: number): Promise<string> {
    const data = join(work, `takeover-${round}`);
    await mkdir(data, { recursive: true });
    const env = redis ? { ...process.env, GAMEDOCK_FILES_LOCK_REDIS_URL: redis.url } : process.env;
    const a = await startGamedock(cli, data, "takeover-a", env);
    let b: Gamedock | null = null;
    try {
      b = await startGamedock(cli, data, "takeover-b", env);
      const idleA = statusKb(a.pid, "VmRSS") / 1024;
      const idleB = statusKb(b.pid, "VmRSS") / 1024;
      let started = performance.now();
      const path = await tusCreate(a.url, `bench-takeover-${round}.bin`, size);
      const id = new URL(path).pathname.split("/").pop() ?? "";
      let offset = 0;
      for (const piece of pieces.slice(0, half)) offset = await tusPatch(path, offset, piece);
      const aSeconds = (performance.now() - started) / 1000;
      started = performance.now();
      const onB = `${b.url}/files/${id}`;
      offset = await tusOffset(onB);
      if (offset !== prefixBytes)
        throw new Error(`B sees offset ${offset}, A stored ${prefixBytes}`);
      for (const piece of pieces.slice(half)) offset = await tusPatch(onB, offset, piece);
      const bSeconds = (performance.now() - started) / 1000;
      await checkStored(onB, source.sha256);
      const peakA = statusKb(a.pid, "VmHWM") / 1024;
      const peakB = statusKb(b.pid, "VmHWM") / 1024;
      await stopGamedock(b);
      b = null;
      const caughtUp = await catchUp(join(data, "takeover-b.log"));
      takeovers.push({ aSeconds, bSeconds, caughtUp });
      const seconds = aSeconds + bSeconds;
      record("takeover", { round, seconds, peakRssMb: Math.max(peakA, peakB) });
      const logged = caughtUp
        ? `B caught up ${caughtUp.bytes} bytes in ${caughtUp.ms.toFixed(0)} ms`
        : "no catch-up logged";
      return (
        `takeover ${seconds.toFixed(2)} s (${rate(seconds)}): A ${aSeconds.toFixed(2)} s ` +
        `(POST + ${half} PATCHes), B ${bSeconds.toFixed(2)} s (HEAD + ${pieces.length - half}), ` +
        `B − A ${(bSeconds - aSeconds).toFixed(2)} s; ${logged}; ` +
        `RSS A ${idleA.toFixed(1)} → ${peakA.toFixed(1)} MB, B ${idleB.toFixed(1)} → ${peakB.toFixed(1)} MB`
      );
    } finally {
      if (b) await stopGamedock(b);
      await stopGamedock(a);
      await rm(data, { recursive: true, force: true });
    }
  }

  const steps: Step[] =
    half > 0
      ? ["nginx", "put", "tus-64", "tus-1", "takeover"]
      : ["nginx", "put", "tus-64", "tus-1"];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? steps : [...steps].reverse();
      for (const step of order) {
        await run("sync", []); // nothing dirty left from the step before
        const line =
          step === "nginx"
            ? await nginxStep(round)
            : step === "put"
              ? await putStep(round)
              : step === "takeover"
                ? await takeoverStep(round)
                : await tusStep(round, step);
        console.log(`upload round ${round}: ${line} (load ${load()})`);
      }
    }
  } finally {
    await redis?.stop();
  }
  if (kept === null) throw new Error("no PUT kept for the downloads");

  // openssl, for context: what the digests alone cost on this CPU, file in the page cache.
  const md5 = await run("openssl", ["dgst", "-md5", source.path]);
  const sha256 = await run("openssl", ["dgst", "-sha256", source.path]);
  const bothStarted = performance.now();
  await Promise.all([
    run("openssl", ["dgst", "-md5", source.path]),
    run("openssl", ["dgst", "-sha256", source.path]),
  ]);
  const both = (performance.now() - bothStarted) / 1000;

  const base = samples.get("nginx") ?? [];
  const baseSeconds = median(base.map((s) => s.seconds));
  console.log("");
  console.log(
    `upload: ${size / MiB} MiB, ${rounds} round(s), medians; clients: curl; ` +
      `takeover locks: ${redis ? "private Redis" : "in-process (no redis-server), sequential use"}`,
  );
  console.log(
    "| scenario | s | MB/s | ratio (baseline s / s) | median round ratio | peak RSS MB |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const key of Object.keys(LABEL) as Key[]) {
    const list = samples.get(key);
    if (!list) continue;
    const seconds = median(list.map((s) => s.seconds));
    const roundRatio = median(
      list.map((s) => (base.find((b) => b.round === s.round)?.seconds ?? NaN) / s.seconds),
    );
    console.log(
      `| ${LABEL[key]} | ${seconds.toFixed(2)} | ${(mb / seconds).toFixed(0)} | ` +
        `${(baseSeconds / seconds).toFixed(2)} | ${roundRatio.toFixed(2)} | ` +
        `${median(list.map((s) => s.peakRssMb)).toFixed(1)} |`,
    );
  }
  console.log(
    `openssl dgst (context): md5 ${md5.seconds.toFixed(2)} s (${rate(md5.seconds)}), ` +
      `sha256 ${sha256.seconds.toFixed(2)} s (${rate(sha256.seconds)}), ` +
      `both in parallel ${both.toFixed(2)} s (${rate(both)})`,
  );

  const ratio = (key: Key): number =>
    baseSeconds / median((samples.get(key) ?? []).map((s) => s.seconds));
  const met = (ok: boolean): string => (ok ? "met" : "not met");
  console.log(
    `target: PUT ≥ 0.5× baseline: ${met(ratio("put") >= 0.5)} (${ratio("put").toFixed(2)})`,
  );
  console.log(
    `target: tus 64 MiB ≥ 0.45× baseline: ${met(ratio("tus-64") >= 0.45)} (${ratio("tus-64").toFixed(2)})`,
  );
  let worst = { key: "put" as Key, mb: 0 };
  for (const key of ["put", "tus-64", "tus-1", "takeover"] as const) {
    for (const s of samples.get(key) ?? [])
      if (s.peakRssMb > worst.mb) worst = { key, mb: s.peakRssMb };
  }
  console.log(
    `target: peak RSS ≤ ${PEAK_RSS_TARGET_MB} MB: ${met(worst.mb <= PEAK_RSS_TARGET_MB)} ` +
      `(highest ${worst.mb.toFixed(1)} MB, ${LABEL[worst.key]})`,
  );
  if (takeovers.length > 0) {
    const cost = median(takeovers.map((t) => t.bSeconds - t.aSeconds));
    const logged = takeovers.flatMap((t) => (t.caughtUp ? [t.caughtUp] : []));
    const most = Math.max(...logged.map((c) => c.bytes));
    const verdict = logged.some((c) => c.bytes > prefixBytes)
      ? "not met"
      : logged.length === takeovers.length
        ? "met"
        : logged.length === 0
          ? "unknown (no catch-up logged)"
          : `unknown (no catch-up logged in ${takeovers.length - logged.length} round(s))`;
    console.log(
      `target: takeover re-reads ≤ one read of the stored prefix (${prefixBytes} bytes): ${verdict}` +
        (logged.length > 0
          ? ` (most re-read ${most} bytes, median ${median(logged.map((c) => c.ms)).toFixed(0)} ms)`
          : "") +
        `; B − A median ${cost.toFixed(2)} s`,
    );
  } else {
    console.log("takeover: skipped (the file is a single 64 MiB piece)");
  }
  return kept;
}
