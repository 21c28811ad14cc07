/**
 * bench:guess, part 2 — bet placement through the gateway and the Redis
 * bus: a `gamedock serve` child (compiled private copy, embedded SQLite,
 * realtime.bus on the loopback Redis) and BENCH_CLIENTS (1,000)
 * gamedock/client connections in this process, each placing bets one after
 * another (the next when the last is answered) for BENCH_SECONDS (10) on
 * one open match. Prints the sustained bets/s, the latency of each bet
 * (p50, p99, max: request to reply), serve's peak RSS and what was
 * refused. Every accepted bet is checked against the database afterwards
 * through the admin API (the wallet's ledger). BENCH_PROFILE=<dir> has
 * serve write a CPU profile there.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type GamedockClient } from "../src/client/index.js";
import { GUESS_REQUEST } from "../src/guess/index.js";
import { mintToken } from "../src/realtime/index.js";
import type { BenchCli } from "./private-cli.js";
import { cpuSeconds, memKiB } from "./proc-stats.js";
import { requestJson, startServe, stopServe } from "./serve-proc.js";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SECRET = "bench-guess-secret-0123456789abcdef0123";
const REDIS = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface BetsRun {
  clients: number;
  seconds: number;
  accepted: number;
  refused: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  serveHwmKiB: number;
  /** CPU seconds per wall second during the run: serve's, and this process's (the clients). */
  serveCpu: number;
  clientsCpu: number;
}

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export async function benchBets(bench: BenchCli, dir: string): Promise<BetsRun> {
  const config = join(dir, "bets.json");
  await writeFile(
    config,
    JSON.stringify({
      log: { level: "warn", file: join(dir, "bets.log") },
      realtime: {
        bus: { driver: "redis", url: REDIS, prefix: `bench-guess-${process.pid}` },
        jwtSecret: SECRET,
      },
      guess: { minStake: 1, maxStake: 1000, maxStakePerMatch: 1e12 },
    }),
  );
  // BENCH_PROFILE=<dir>: serve writes a CPU profile there (read it with bench/cpuprofile-top.ts).
  const profile = process.env.BENCH_PROFILE;
  const cli = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`, ...bench.cli] : bench.cli;
  const serve = await startServe(cli, join(dir, "bets-data"), { config });
  const clients: GamedockClient[] = [];
  try {
    const api = (method: string, path: string, body?: unknown): Promise<unknown> =>
      requestJson(`${serve.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
      });
    const starts = new Date(Date.now() + 86_400_000);
    const { results } = (await api("POST", "/api/v1/guess/admin/matches/import", {
      matches: [
        {
          externalId: "bench-bets",
          type: "lol",
          title: "bench",
          teams: [
            { id: "a", name: "A" },
            { id: "b", name: "B" },
          ],
          startsAt: starts.toISOString(),
          lockAt: new Date(starts.getTime() - 600_000).toISOString(),
          options: [
            { id: "a", label: "A", odds: 1900 },
            { id: "b", label: "B", odds: 1900 },
          ],
        },
      ],
    })) as { results: { id: string }[] };
    const matchId = results[0]!.id;
    await api("POST", `/api/v1/guess/admin/matches/${matchId}/approve`);
    await api("POST", `/api/v1/guess/admin/matches/${matchId}/open`);
    const secret = new TextEncoder().encode(SECRET);
    for (let i = 0; i < CLIENTS; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, CLIENTS - i) }, (_, k) =>
          api("POST", `/api/v1/guess/admin/wallets/b${i + k}/adjust`, {
            amount: 1e9,
            reason: "bench",
            requestId: `fund-${i + k}`,
          }),
        ),
      );
    }
    for (let i = 0; i < CLIENTS; i++) {
      const client = connect(serve.url, {
        token: await mintToken(secret, { uid: `b${i}`, ttlSeconds: 3600 }),
      });
      clients.push(client);
    }
    // Everyone connected and answered once before the clock starts.
    await Promise.all(clients.map((c) => c.request(GUESS_REQUEST.match, { matchId })));

    const latencies: number[] = [];
    const refused: Record<string, number> = {};
    let accepted = 0;
    let acceptedStake = 0;
    const end = performance.now() + SECONDS * 1000;
    const cpuBefore = { serve: cpuSeconds(serve.child.pid ?? 0), self: process.cpuUsage() };
    await Promise.all(
      clients.map(async (client, i) => {
        for (let n = 0; performance.now() < end; n++) {
          const t = performance.now();
          const stake = 1 + (n % 7);
          try {
            await client.request(
              GUESS_REQUEST.placeBet,
              { matchId, optionId: n % 2 ? "a" : "b", stake, clientBetId: `${i}-${n}` },
              { timeout: 60_000 },
            );
            latencies.push(performance.now() - t);
            accepted++;
            acceptedStake += stake;
          } catch (err) {
            const code = (err as { code?: string }).code ?? String(err);
            refused[code] = (refused[code] ?? 0) + 1;
          }
        }
      }),
    );
    const elapsed = (performance.now() - (end - SECONDS * 1000)) / 1000;
    const serveCpu = (cpuSeconds(serve.child.pid ?? 0) - cpuBefore.serve) / elapsed;
    const self = process.cpuUsage(cpuBefore.self);
    const clientsCpu = (self.user + self.system) / 1e6 / elapsed;
    latencies.sort((a, b) => a - b);
    const serveHwmKiB = memKiB(serve.child.pid ?? 0, "VmHWM");
    // What the clients were told is what the ledger holds.
    let staked = 0;
    for (let i = 0; i < CLIENTS; i += 100) {
      const wallets = (await Promise.all(
        Array.from({ length: Math.min(100, CLIENTS - i) }, (_, k) =>
          api("GET", `/api/v1/guess/admin/wallets/b${i + k}?limit=1`),
        ),
      )) as { balance: number }[];
      for (const w of wallets) staked += 1e9 - w.balance;
    }
    if (accepted === 0) throw new Error("no bet was placed");
    if (staked !== acceptedStake) {
      throw new Error(
        `the wallets hold ${staked} in stakes; the clients were told ${acceptedStake}`,
      );
    }
    return {
      clients: CLIENTS,
      seconds: elapsed,
      accepted,
      refused,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
      serveHwmKiB,
      serveCpu,
      clientsCpu,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stopServe(serve);
  }
}
