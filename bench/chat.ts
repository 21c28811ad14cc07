/**
 * bench:chat — the chat module's two hot paths (docs/chat.md), through a
 * `gamedock serve` child (compiled private copy, embedded SQLite,
 * realtime.bus on the loopback Redis), with the clients in this process.
 *
 * 1. Group delivery: BENCH_MEMBERS (1,000) members connected, the owner
 *    sends BENCH_ROUNDS (20) messages one after another (the next when every
 *    member has the last); each member's delivery latency is send → push
 *    received. Baseline in the same run: the same uids pushed the same
 *    body through POST /api/v1/push (not persisted) — the runtime's fan-out
 *    without chat's storing and membership.
 * 2. Offline sync: BENCH_OFFLINE (10,000) messages wait for a user who then
 *    connects with ChatSync; the time until the last is handed over.
 *    Baseline: the same bytes as the same number of echo round trips
 *    (msgId 1001, one per page) — the transport without the database.
 *
 * Every member must get every message exactly once, and the sync every
 * message once in order; the bench fails otherwise.
 *
 *   npm run bench:chat
 *   BENCH_MEMBERS=200 BENCH_OFFLINE=2000 npm run bench:chat
 */
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CHAT_PUSH, CHAT_REQUEST as R } from "../src/chat/index.js";
import { ChatSync, connect, type ChatMessage, type GamedockClient } from "../src/client/index.js";
import { mintToken } from "../src/realtime/index.js";
import { privateCli } from "./private-cli.js";
import { cpuSeconds, memKiB } from "./proc-stats.js";
import { startServe, stopServe } from "./serve-proc.js";

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const OFFLINE = Number(process.env.BENCH_OFFLINE ?? 10_000);
const PAGE = 200;
const SECRET = "bench-chat-secret-0123456789abcdef01234";
const REDIS = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const ms = (v: number): string => `${v.toFixed(1)} ms`;

const dir = await mkdtemp(join(tmpdir(), "gamedock-bench-chat-"));
const config = join(dir, "config.json");
await writeFile(
  config,
  JSON.stringify({
    log: { level: "warn", file: join(dir, "serve.log") },
    realtime: {
      bus: { driver: "redis", url: REDIS, prefix: `bench-chat-${process.pid}` },
      jwtSecret: SECRET,
      limits: { ratePerSecond: 100_000, rateBurst: 100_000, maxBufferedBytes: 64 * 1024 * 1024 },
    },
    chat: { sendsPerSecond: 10_000, maxGroupMembers: MEMBERS + 1 },
  }),
);
const bench = privateCli("chat");
const serve = await startServe(bench.cli, join(dir, "data"), { config });
const secret = new TextEncoder().encode(SECRET);
const clients: GamedockClient[] = [];
const open = async (uid: string): Promise<GamedockClient> => {
  const client = connect(serve.url, { token: await mintToken(secret, { uid, ttlSeconds: 3600 }) });
  clients.push(client);
  return client;
};

try {
  console.log(
    `bench:chat · ${cpus().length} × ${cpus()[0]?.model ?? "?"} · node ${process.version} · ${bench.label}`,
  );

  // 1. Group delivery.
  const owner = await open("owner");
  const uids = Array.from({ length: MEMBERS }, (_, i) => `member-${i}`);
  const { conv } = await owner.request<{ conv: string }>(R.createGroup, {
    name: "bench",
    members: uids,
  });
  const received = new Map<string, number[]>(); // "<kind>:<round>" → latencies
  const counts = new Map<string, number>();
  const members = await Promise.all(uids.map((uid) => open(uid)));
  const note = (key: string, sentAt: number) => {
    const list = received.get(key) ?? [];
    list.push(performance.timeOrigin + performance.now() - sentAt);
    received.set(key, list);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const member of members) {
    member.on<{ message: ChatMessage }>(CHAT_PUSH.message, ({ message }) => {
      const { round, sentAt } = message.meta as { round: number; sentAt: number };
      note(`chat:${round}`, sentAt);
    });
    member.on<{ round: number; sentAt: number }>(1900, ({ round, sentAt }) => {
      note(`push:${round}`, sentAt);
    });
  }
  await Promise.all(members.map((m) => m.ready()));
  const waitAll = async (key: string) => {
    const deadline = Date.now() + 60_000;
    while ((counts.get(key) ?? 0) < MEMBERS) {
      if (Date.now() > deadline) throw new Error(`${key}: ${counts.get(key) ?? 0} of ${MEMBERS}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const serveCpu0 = cpuSeconds(serve.child.pid ?? 0);
  const t0 = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    // The baseline first: the runtime's own push to the same uids.
    const pushed = await fetch(`${serve.url}/api/v1/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        to: { uids },
        msgId: 1900,
        body: { round, sentAt: performance.timeOrigin + performance.now() },
        persist: false,
      }),
    });
    if (!pushed.ok) throw new Error(`push: ${pushed.status} ${await pushed.text()}`);
    await waitAll(`push:${round}`);
    await owner.request(R.send, {
      conv,
      clientMsgId: `round-${round}`,
      type: "text",
      text: `round ${round} for everyone`,
      meta: { round, sentAt: performance.timeOrigin + performance.now() },
    });
    await waitAll(`chat:${round}`);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const serveCpu = (cpuSeconds(serve.child.pid ?? 0) - serveCpu0) / elapsed;
  await new Promise((r) => setTimeout(r, 500)); // a duplicate would land now
  for (const [key, count] of counts) {
    if (count !== MEMBERS) throw new Error(`${key}: ${count} deliveries for ${MEMBERS} members`);
  }
  const all = (kind: string) =>
    [...received]
      .filter(([k]) => k.startsWith(kind))
      .flatMap(([, v]) => v)
      .sort((a, b) => a - b);
  const chat = all("chat:");
  const push = all("push:");
  console.log(
    `\none message to a ${MEMBERS}-member group, all connected (${ROUNDS} rounds, ${chat.length} deliveries, each once)`,
  );
  console.log(
    `  chat send → push:  p50 ${ms(quantile(chat, 0.5))}, p99 ${ms(quantile(chat, 0.99))}, max ${ms(chat.at(-1) ?? 0)}`,
  );
  console.log(
    `  baseline POST /api/v1/push to the same uids: p50 ${ms(quantile(push, 0.5))}, p99 ${ms(quantile(push, 0.99))} · chat p50 ${(quantile(chat, 0.5) / quantile(push, 0.5)).toFixed(2)}× the baseline`,
  );
  console.log(`  serve CPU during the rounds: ${serveCpu.toFixed(2)} cores`);
  await Promise.all(members.map((m) => m.close()));

  // 2. Offline sync.
  const sender = await open("sender");
  const { conv: direct } = await sender.request<{ conv: string }>(R.direct, { peer: "away" });
  const text = "an offline message of about the size people send: ".padEnd(80, ".");
  for (let sent = 0; sent < OFFLINE; sent += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, OFFLINE - sent) }, (_, k) =>
        sender.request(R.send, {
          conv: direct,
          clientMsgId: `o${sent + k}`,
          type: "text",
          text,
        }),
      ),
    );
  }
  const away = await open("away");
  await away.ready();
  // Baseline: the bytes of every page, as echo round trips one after another.
  const page = await away.request<{ messages: ChatMessage[] }>(R.sync, {
    conv: direct,
    afterSeq: 0,
    limit: PAGE,
  });
  const tEcho = performance.now();
  for (let i = 0; i < Math.ceil(OFFLINE / PAGE); i++) await away.request(1001, page);
  const echoMs = performance.now() - tEcho;
  let delivered = 0;
  let inOrder = true;
  const tSync = performance.now();
  const done = new Promise<void>((resolve) => {
    const sync = new ChatSync(away, {
      pageSize: PAGE,
      onMessage: (m) => {
        delivered++;
        if (m.seq !== delivered) inOrder = false;
        if (delivered === OFFLINE) {
          sync.stop();
          resolve();
        }
      },
    });
  });
  await done;
  const syncMs = performance.now() - tSync;
  if (!inOrder) throw new Error("the sync delivered out of order");
  console.log(`\nsync of ${OFFLINE} offline messages by one client (ChatSync, pages of ${PAGE})`);
  console.log(
    `  ${(syncMs / 1000).toFixed(2)} s (${Math.round(OFFLINE / (syncMs / 1000))} messages/s), each once, in order`,
  );
  console.log(
    `  baseline: the same ${Math.ceil(OFFLINE / PAGE)} pages as echo round trips ${(echoMs / 1000).toFixed(2)} s · sync ${(syncMs / echoMs).toFixed(2)}× the baseline`,
  );
  console.log(`\nserve peak RSS ${(memKiB(serve.child.pid ?? 0, "VmHWM") / 1024).toFixed(0)} MB`);
} finally {
  await Promise.all(clients.map((c) => c.close()));
  await stopServe(serve);
  await rm(dir, { recursive: true, force: true });
}
