/**
 * bench:upload — what a pack job sends to an object store: children uploaded
 * whole (`targets.<name>.serverSideCopy: false`, every child's bytes cross
 * the network) against children composed in the store (`true`: the mother
 * goes up once to `mothers/<sha256>.apk`, each child is an UploadPartCopy of
 * it plus its tail of a few KB). In one run, against Ceph's radosgw on
 * loopback (scripts/radosgw.sh; started, or restarted with a memstore of
 * 6 GiB, when it runs with less).
 *
 * A ~BENCH_MB (100) MB signed mother and BENCH_CHANNELS (10) channels go
 * through a fresh `gamedock serve` (compiled private copy, embedded SQLite
 * queue) whose s3 target points at a counting TCP proxy in front of radosgw
 * (bench/counting-proxy.ts). Four runs: whole and composed unthrottled, then
 * whole and composed with the proxy holding gamedock → store to
 * BENCH_RATE_MBPS (50) MB/s, a stand-in for a studio's uplink. Each is timed
 * from the POST of the job until its `end` event, and measures the bytes
 * gamedock sent through the proxy (requests, headers and bodies), the bytes
 * it received, and serve's peak RSS (VmHWM). Every channel must end `done`.
 * The bucket is emptied (children, `mothers/`, unfinished multipart
 * uploads) and radosgw's garbage collector run between runs: memstore keeps
 * every stored byte in RAM.
 *
 * Target: a composed run sends at most the mother's size + 64 KiB per child.
 * Then a projection for 100 channels of a 2 GB APK through the throttled
 * rate (projectUplink below says how, and what it assumes).
 *
 * Should `serverSideCopy: true` ever upload children whole (a regression),
 * the composed rows equal the whole ones, the target line says FAIL and the
 * composed projection is left out.
 *
 *   npm run bench:upload                           # 100 MB, 10 channels, 50 MB/s
 *   BENCH_MB=20 npm run bench:upload               # a quick check
 *   BENCH_RATE_MBPS=12.5 BENCH_CHANNELS=20 npm run bench:upload
 *   BENCH_ONLY=composed npm run bench:upload       # only one path (whole | composed)
 */
import { privateCli } from "./private-cli.js";
import { memKiB } from "./proc-stats.js";
import { startCountingProxy, type CountingProxy } from "./counting-proxy.js";
import {
  STALL_MS,
  requestJson,
  startServe,
  stopServe,
  streamUntilFinished,
  submitJob,
  type Serve,
} from "./serve-proc.js";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type _Object,
} from "@aws-sdk/client-s3";
import { buildSignedApk } from "../scripts/signed-apk.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench/.cache");
const MB = 1e6;
const KiB = 1024;
const GiB = 1024 ** 3;
const MOTHER_MB = Number(process.env.BENCH_MB ?? 100);
const RATE = Number(process.env.BENCH_RATE_MBPS ?? 50) * MB;
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 10);
const ONLY = process.env.BENCH_ONLY;
/** What a composed child may cost on the wire: its tail, the requests of its parts, the rest. */
const PER_CHILD_BUDGET = 64 * KiB;
/** The projection: 100 channels of a 2 GB APK. */
const PROJECT_CHANNELS = 100;
const PROJECT_BYTES = 2e9;
/**
 * The private CLI. Removed when the run ends: eslint does not read .gitignore,
 * and `eslint .` would otherwise lint the compiled JavaScript.
 */
const CLI_NAME = "upload-cli";

/** scripts/radosgw.sh's cluster: its directory, port and user. */
const RGW_DIR = process.env.GAMEDOCK_RGW_DIR ?? "/tmp/gamedock-radosgw";
const RGW_PORT = Number(process.env.GAMEDOCK_RGW_PORT ?? 7480);
const RGW_SCRIPT = join(ROOT, "scripts/radosgw.sh");
const ACCESS_KEY_ID = "gamedock-test-access";
const SECRET_ACCESS_KEY = "gamedock-test-secret";
/** Memstore holds about twice what is stored: room for one run of 10 × 100 MB and slack. */
const MEMSTORE_BYTES = Math.max(6 * GiB, Number(process.env.GAMEDOCK_RGW_MEMSTORE_BYTES ?? 0));
const BUCKET = "gamedock-bench-upload";

type Path = "whole" | "composed";

interface RunSpec {
  path: Path;
  /** Client → server bytes per second through the proxy; null: no limit. */
  rate: number | null;
}

interface Run extends RunSpec {
  seconds: number;
  sent: number;
  received: number;
  peakRssMb: number;
  done: number;
  /** What the bucket held when the job had finished. */
  stored: Stored;
}

interface Stored {
  objects: number;
  bytes: number;
  mothers: number;
}

/** The memstore cap a running radosgw was started with (its ceph.conf), or null when unknown. */
function runningMemstoreBytes(): number | null {
  try {
    const conf = readFileSync(join(RGW_DIR, "ceph.conf"), "utf8");
    const match = /^memstore device bytes = (\d+)$/m.exec(conf);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * radosgw answering with a memstore of at least MEMSTORE_BYTES: started when
 * it is not running, restarted when it runs with less (its default, 3 GiB,
 * is too little for the whole runs at the default size). Left running.
 */
function ensureRadosgw(): void {
  const env = { ...process.env, GAMEDOCK_RGW_MEMSTORE_BYTES: String(MEMSTORE_BYTES) };
  const script = (command: string): void => {
    execFileSync("bash", [RGW_SCRIPT, command], { env, stdio: ["ignore", "inherit", "inherit"] });
  };
  let answering = true;
  try {
    execFileSync("bash", [RGW_SCRIPT, "status"], { env, stdio: "ignore" });
  } catch {
    answering = false;
  }
  const cap = runningMemstoreBytes();
  if (answering && cap !== null && cap >= MEMSTORE_BYTES) return;
  if (answering) {
    console.log(
      `radosgw: memstore ${cap === null ? "of unknown size" : `of ${(cap / GiB).toFixed(1)} GiB`}; restarting it with ${(MEMSTORE_BYTES / GiB).toFixed(1)} GiB`,
    );
    script("stop");
  }
  script("start");
}

function s3Client(): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${RGW_PORT}`,
    region: "default",
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  });
}

async function createBucket(s3: S3Client): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } catch (err) {
    // Left by an earlier run that stopped half way: emptied before every run anyway.
    if ((err as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw err;
  }
}

async function listObjects(s3: S3Client): Promise<_Object[]> {
  const objects: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }),
    );
    objects.push(...(page.Contents ?? []));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

async function storedNow(s3: S3Client): Promise<Stored> {
  const objects = await listObjects(s3);
  return {
    objects: objects.length,
    bytes: objects.reduce((sum, o) => sum + (o.Size ?? 0), 0),
    mothers: objects.filter((o) => o.Key?.startsWith("mothers/") === true).length,
  };
}

/**
 * Deletes every object (children, `mothers/`, gamedock's own areas) and
 * unfinished multipart upload, then has radosgw's garbage collector free
 * their data now rather than after its 10 s + 10 s: memstore holds it in RAM.
 */
async function emptyBucket(s3: S3Client): Promise<void> {
  let marker: { key?: string | undefined; id?: string | undefined } = {};
  for (;;) {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: BUCKET,
        KeyMarker: marker.key,
        UploadIdMarker: marker.id,
      }),
    );
    for (const u of page.Uploads ?? []) {
      await s3.send(
        new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: u.Key, UploadId: u.UploadId }),
      );
    }
    if (page.IsTruncated !== true) break;
    marker = { key: page.NextKeyMarker, id: page.NextUploadIdMarker };
  }
  for (const o of await listObjects(s3)) {
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: o.Key }));
  }
  try {
    execFileSync(
      "radosgw-admin",
      ["-c", join(RGW_DIR, "ceph.conf"), "gc", "process", "--include-all"],
      { stdio: "ignore", timeout: 120_000 },
    );
  } catch {
    // No admin access (another GAMEDOCK_RGW_DIR): let the collector's own period pass.
    await new Promise((done) => setTimeout(done, 21_000));
  }
}

/** serve's configuration: one s3 target through the proxy, the packer's default. */
function serveConfig(proxy: CountingProxy, path: Path): object {
  return {
    targets: {
      bench: {
        driver: "s3",
        endpoint: proxy.endpoint,
        region: "default",
        bucket: BUCKET,
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
        forcePathStyle: true,
        serverSideCopy: path === "composed",
      },
    },
    packer: { target: "bench" },
  };
}

interface Setup {
  cli: string[];
  mother: string;
  motherBytes: number;
  channels: string[];
  proxy: CountingProxy;
  s3: S3Client;
}

/**
 * One run: a fresh data directory and serve, the mother hard-linked into its
 * packages root; the clock and the proxy's counters start at the POST.
 */
async function measure(setup: Setup, spec: RunSpec): Promise<Run> {
  const { proxy, s3 } = setup;
  await emptyBucket(s3);
  const data = await mkdtemp(join(CACHE, "upload-serve-"));
  let serve: Serve | null = null;
  try {
    await mkdir(join(data, "packages"));
    // Same file system as the cache: a hard link shares the mother (and its page cache).
    await link(setup.mother, join(data, "packages/mother.apk")).catch(() =>
      copyFile(setup.mother, join(data, "packages/mother.apk")),
    );
    const config = join(data, "gamedock.json");
    await writeFile(config, JSON.stringify(serveConfig(proxy, spec.path), null, 2));
    serve = await startServe(setup.cli, data, { config });

    proxy.limit(spec.rate);
    proxy.reset();
    const started = performance.now();
    const created = await submitJob(serve, { apk: "mother.apk", channels: setup.channels });
    // Throttled, one whole child of a large mother takes a while: no channel moves meanwhile.
    const uploadSeconds = spec.rate === null ? 0 : (2 * setup.motherBytes) / spec.rate;
    const status = await streamUntilFinished(
      serve,
      created.id,
      Math.max(STALL_MS, 2 * uploadSeconds * 1000),
    );
    const seconds = (performance.now() - started) / 1000;
    const [sent, received] = [proxy.sent(), proxy.received()];
    const peakRssMb = memKiB(serve.child.pid ?? 0, "VmHWM") / 1024;
    proxy.limit(null);

    const job = await requestJson(`${serve.url}/api/v1/pack-jobs/${created.id}?limit=1000`);
    const done = job.channels.filter((c) => c.state === "done").length;
    if (status !== "done" || done !== setup.channels.length) {
      throw new Error(
        `job ${job.id} (${spec.path}) ended ${status} with ${done}/${setup.channels.length} channels done: ${JSON.stringify(job.channels.filter((c) => c.state !== "done"))}\n${serve.stderr()}`,
      );
    }
    return { ...spec, seconds, sent, received, peakRssMb, done, stored: await storedNow(s3) };
  } finally {
    if (serve) await stopServe(serve);
    await rm(data, { recursive: true, force: true });
  }
}

/** Wall time of the projection's children through one uplink, each way, in seconds. */
interface Projection {
  whole: number;
  composed: number | null;
}

/**
 * Projects `channels` children of an `apkBytes` APK through an uplink of
 * `rate` bytes/s from the two throttled runs (of `motherBytes` and
 * `measuredChannels` channels):
 *
 * - whole: every child crosses the uplink, `channels × apkBytes / rate`, plus
 *   what each measured child cost beyond its bytes on the wire — `(wall −
 *   sent / rate) / measuredChannels`: packing, requests, the pipeline filling
 *   and draining — scaled by `apkBytes / motherBytes`, as packing a child
 *   reads and writes all of it.
 * - composed: the mother crosses once, `apkBytes / rate`, plus `channels ×`
 *   what each measured child cost beyond the mother's upload — `(wall −
 *   motherBytes / rate) / measuredChannels`: its tail, its requests, and
 *   radosgw copying the mother's bytes into it on this machine's cores. Not
 *   scaled: an OSS bucket copies server-side at its own speed, off the uplink.
 *   Null when the composed run did not compose (sent more than the target):
 *   its per-child cost is then a whole upload, and projecting it unscaled
 *   would be wrong.
 */
function projectUplink(
  whole: Run,
  composed: Run | null,
  composedOk: boolean,
  m: {
    rate: number;
    motherBytes: number;
    measuredChannels: number;
    apkBytes: number;
    channels: number;
  },
): Projection {
  const wholeExtra = (whole.seconds - whole.sent / m.rate) / m.measuredChannels;
  const projectedWhole =
    (m.channels * m.apkBytes) / m.rate + m.channels * wholeExtra * (m.apkBytes / m.motherBytes);
  if (composed === null || !composedOk) return { whole: projectedWhole, composed: null };
  const perChild = (composed.seconds - m.motherBytes / m.rate) / m.measuredChannels;
  return { whole: projectedWhole, composed: m.apkBytes / m.rate + m.channels * perChild };
}

const mb = (bytes: number): string => (bytes / MB).toFixed(1);

function rateLabel(rate: number | null): string {
  return rate === null ? "unthrottled" : `${(rate / MB).toFixed(1)} MB/s`;
}

function duration(seconds: number): string {
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(1)} s`;
}

function printTable(runs: Run[], motherBytes: number): void {
  const rows = [
    [
      "path",
      "uplink",
      "wall",
      "sent MB",
      "sent/mother",
      "received KB",
      "peak RSS",
      "done",
      "bucket",
    ],
    ...runs.map((r) => [
      r.path,
      rateLabel(r.rate),
      `${r.seconds.toFixed(2)} s`,
      mb(r.sent),
      `${(r.sent / motherBytes).toFixed(2)}x`,
      (r.received / 1e3).toFixed(1),
      `${r.peakRssMb.toFixed(1)} MB`,
      `${r.done}/${CHANNELS}`,
      `${r.stored.objects} obj, ${mb(r.stored.bytes)} MB, mothers/ ${r.stored.mothers}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}

async function main(): Promise<void> {
  if (ONLY !== undefined && ONLY !== "whole" && ONLY !== "composed") {
    throw new Error(`BENCH_ONLY must be whole or composed, not ${JSON.stringify(ONLY)}`);
  }
  const motherPath = join(CACHE, `mother-${MOTHER_MB}m.apk`);
  // What this run may leave in the cache: the private CLI, and what buildSignedApk
  // writes beside the mother (its key store, apksigner's v4 signature). A mother
  // another bench built stays for it; whatever this run made goes at the end.
  const ours = [CLI_NAME, motherPath, `${motherPath}.tmp`, `${motherPath}.tmp.idsig`, "bench.jks"]
    .map((name) => resolve(CACHE, name))
    .filter((path) => !existsSync(path));
  await mkdir(CACHE, { recursive: true });
  let proxy: CountingProxy | null = null;
  const s3 = s3Client();
  try {
    ensureRadosgw();
    const { cli, label } = privateCli(CLI_NAME);
    const mother = await buildSignedApk(motherPath, MOTHER_MB);
    const motherBytes = (await stat(mother)).size;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`);
    proxy = await startCountingProxy("127.0.0.1", RGW_PORT);
    await createBucket(s3);
    const setup: Setup = { cli, mother, motherBytes, channels, proxy, s3 };

    console.log(`cli: ${label}`);
    console.log(
      `mother: ${mb(motherBytes)} MB, ${CHANNELS} channels; radosgw 127.0.0.1:${RGW_PORT} (memstore ${((runningMemstoreBytes() ?? 0) / GiB).toFixed(1)} GiB) through a counting proxy`,
    );
    const specs: RunSpec[] = [null, RATE].flatMap((rate) =>
      (["whole", "composed"] as const)
        .filter((path) => ONLY === undefined || ONLY === path)
        .map((path) => ({ path, rate })),
    );
    const runs: Run[] = [];
    for (const spec of specs) {
      const load = loadavg()[0] ?? NaN;
      const run = await measure(setup, spec);
      runs.push(run);
      console.log(
        `${spec.path} ${rateLabel(spec.rate)}: ${run.seconds.toFixed(2)} s, sent ${mb(run.sent)} MB, received ${(run.received / 1e3).toFixed(1)} KB, peak RSS ${run.peakRssMb.toFixed(1)} MB, ${run.done} channels done; load ${load.toFixed(1)}`,
      );
    }
    await emptyBucket(s3);
    report(runs, motherBytes);
  } finally {
    await proxy?.close();
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
    s3.destroy();
    for (const path of ours) rmSync(path, { recursive: true, force: true });
    if (readdirSync(CACHE).length === 0) rmdirSync(CACHE);
  }
}

function report(runs: Run[], motherBytes: number): void {
  console.log("");
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / GiB).toFixed(0)} GiB, node ${process.version}`,
  );
  printTable(runs, motherBytes);

  const budget = motherBytes + CHANNELS * PER_CHILD_BUDGET;
  const composedOk = new Map<Run, boolean>();
  for (const run of runs.filter((r) => r.path === "composed")) {
    const ok = run.sent <= budget;
    composedOk.set(run, ok);
    const perChild = (run.sent - motherBytes) / CHANNELS;
    const why = ok
      ? `${(perChild / 1e3).toFixed(1)} KB per child beyond the mother`
      : `${(run.sent / motherBytes).toFixed(2)}x the mother: children went up whole, no compose`;
    console.log(
      `target: composed (${rateLabel(run.rate)}) sent ${run.sent} B <= mother ${motherBytes} B + ${CHANNELS} x ${PER_CHILD_BUDGET} B = ${budget} B: ${ok ? "PASS" : "FAIL"} (${why})`,
    );
  }

  const whole = runs.find((r) => r.path === "whole" && r.rate !== null);
  const composed = runs.find((r) => r.path === "composed" && r.rate !== null) ?? null;
  if (!whole) {
    console.log("projection: needs the throttled whole run (left out by BENCH_ONLY=composed)");
    return;
  }
  const p = projectUplink(whole, composed, composed !== null && composedOk.get(composed) === true, {
    rate: RATE,
    motherBytes,
    measuredChannels: CHANNELS,
    apkBytes: PROJECT_BYTES,
    channels: PROJECT_CHANNELS,
  });
  const what = `${PROJECT_CHANNELS} channels of a ${PROJECT_BYTES / 1e9} GB APK at ${rateLabel(RATE)}`;
  console.log(`projection, ${what}:`);
  console.log(
    `  whole:    ${duration(p.whole)} (${PROJECT_CHANNELS} x ${PROJECT_BYTES / 1e9} GB over the uplink, + the measured per-child overhead scaled by size)`,
  );
  if (p.composed === null) {
    console.log(
      `  composed: not projected — ${composed === null ? "no throttled composed run" : "the composed run did not compose (see the target line)"}`,
    );
    return;
  }
  console.log(
    `  composed: ${duration(p.composed)} (the mother once over the uplink, + ${PROJECT_CHANNELS} x the measured per-child cost; that cost includes radosgw copying a ${mb(motherBytes)} MB mother on this machine's ${cpus().length} cores — OSS copies server-side at its own speed, off the uplink)`,
  );
  console.log(`  whole / composed: ${(p.whole / p.composed).toFixed(1)}x`);
}

await main();
