/**
 * bench:guess — match guessing's two hot paths (docs/benchmarks.md).
 *
 * 1. Settlement of BENCH_BETS (100,000) bets on one match on SQLite and on
 *    MariaDB (127.0.0.1:3306, a fresh database dropped afterwards), against
 *    the bare set-based statements for the same rows in the same run (the
 *    floor): both times and the ratio (bench/guess-settle.ts). Targets:
 *    under 5 s on SQLite, ratio ≤ 2.
 * 2. Bet placement through the gateway and the Redis bus with BENCH_CLIENTS
 *    (1,000) clients: sustained bets/s and p99 (bench/guess-bets.ts).
 * 3. The match lists from SQLite with BENCH_MATCHES (10,000) matches, against
 *    a primary-key read of one match (bench/guess-lists.ts).
 *
 *   npm run bench:guess
 *   BENCH_ONLY=settle npm run bench:guess       # or bets, lists
 *   BENCH_BETS=20000 BENCH_CLIENTS=200 BENCH_SECONDS=5 npm run bench:guess
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";
import { openDatabase, type Database } from "../src/db/index.js";
import { benchBets } from "./guess-bets.js";
import { benchLists } from "./guess-lists.js";
import { BETS, benchSettlement, type SettleRun } from "./guess-settle.js";
import { privateCli } from "./private-cli.js";
import { memKiB } from "./proc-stats.js";

const ONLY = process.env.BENCH_ONLY ?? "";
const MYSQL = process.env.BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/";

const seconds = (ms: number): string => (ms / 1000).toFixed(2);

async function onSqlite(dir: string): Promise<SettleRun> {
  const database = await openDatabase({ driver: "sqlite", path: join(dir, "settle.db") });
  try {
    return await benchSettlement(database);
  } finally {
    await database.close();
  }
}

async function onMariadb(): Promise<SettleRun> {
  const name = `gamedock_bench_guess_${process.pid}`;
  const admin = await createConnection(MYSQL);
  await admin.query(`create database ${name} character set utf8mb4`);
  let database: Database | null = null;
  try {
    database = await openDatabase({ driver: "mysql", url: `${MYSQL}${name}` });
    return await benchSettlement(database);
  } finally {
    await database?.close();
    await admin.query(`drop database ${name}`);
    await admin.end();
  }
}

function printSettle(run: SettleRun): void {
  const ratio = run.settleMs / run.floorMs;
  console.log(
    `${run.dialect.padEnd(7)} floor ${seconds(run.floorMs)} s · settlement ${seconds(run.settleMs)} s · ratio ${ratio.toFixed(2)} · ${run.winners} payouts · (seeding ${seconds(run.seedMs)} s)`,
  );
  if (run.dialect === "sqlite") {
    console.log(
      `  target: under 5 s on SQLite ${run.settleMs < 5000 ? "PASS" : "FAIL"}; ratio ≤ 2 ${ratio <= 2 ? "PASS" : "FAIL"}`,
    );
  } else {
    console.log(`  target: ratio ≤ 2 ${ratio <= 2 ? "PASS" : "FAIL"}`);
  }
}

const dir = await mkdtemp(join(tmpdir(), "gamedock-bench-guess-"));
try {
  console.log(
    `bench:guess · ${cpus().length} × ${cpus()[0]?.model ?? "?"} · node ${process.version}`,
  );
  if (ONLY === "" || ONLY === "settle") {
    console.log(
      `\nsettlement of ${BETS} bets on one match (batches of 2000; floor: the bare statements)`,
    );
    printSettle(await onSqlite(dir));
    printSettle(await onMariadb());
    console.log(`  bench process peak RSS ${(memKiB(process.pid, "VmHWM") / 1024).toFixed(0)} MB`);
  }
  if (ONLY === "" || ONLY === "bets") {
    const bench = privateCli("guess");
    const run = await benchBets(bench, dir);
    console.log(
      `\nbet placement through the gateway and the Redis bus: ${run.clients} clients for ${run.seconds.toFixed(1)} s (${bench.label})`,
    );
    console.log(
      `  ${(run.accepted / run.seconds).toFixed(0)} bets/s sustained · ${run.accepted} accepted · latency p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, max ${run.max.toFixed(0)} ms · serve peak RSS ${(run.serveHwmKiB / 1024).toFixed(0)} MB`,
    );
    console.log(
      `  CPU per second of the run: serve ${run.serveCpu.toFixed(2)} cores, the clients (this process) ${run.clientsCpu.toFixed(2)} cores`,
    );
    const refused = Object.entries(run.refused);
    console.log(
      `  refused: ${refused.length === 0 ? "none" : refused.map(([c, n]) => `${c} ${n}`).join(", ")}`,
    );
  }
  if (ONLY === "" || ONLY === "lists") {
    const database = await openDatabase({ driver: "sqlite", path: join(dir, "lists.db") });
    try {
      const run = await benchLists(database);
      const ms = (t: { p50: number; p99: number }) =>
        `p50 ${t.p50.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms`;
      const ratio = (t: { p50: number }) => (t.p50 / run.lookup.p50).toFixed(1);
      console.log(
        `\nmatch lists from SQLite, ${run.matches} matches, pages of 50 (with their options)`,
      );
      console.log(`  baseline: one match by id (with its options)  ${ms(run.lookup)}`);
      console.log(
        `  first page of a type in progress               ${ms(run.firstPage)} · ${ratio(run.firstPage)}× the baseline`,
      );
      console.log(
        `  pages 2–20 by cursor                           ${ms(run.deepPage)} · ${ratio(run.deepPage)}×`,
      );
      console.log(
        `  finished, newest first                         ${ms(run.finished)} · ${ratio(run.finished)}×`,
      );
    } finally {
      await database.close();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
