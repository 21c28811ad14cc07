/**
 * bench:realtime's load generator. bench/realtime.ts forks it (commands over
 * IPC) so that it runs in its own process and its CPU time is its own: on a
 * 2-core machine it competes with the server under test, and the bench
 * reports both sides.
 *
 * It holds N WebSocket connections (subprotocol gamedock.json.v1) and sends
 * requests `[{msgId: 1001, seq}, {n, pad}]` (~100 bytes) at a fixed total
 * rate, round-robin over the connections, without waiting for replies (an
 * open loop: a slow server builds a backlog instead of slowing the sender).
 * Replies `[{msgId, seq, code}, body]` are matched by seq (unique across
 * connections), so each request's round trip is known. A request without a
 * reply by the end of the step's drain counts as an infinite round trip in
 * the percentiles.
 *
 * The same process, told to connect and send nothing, is the holder of the
 * idle connections for the RSS measurement.
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

export interface ConnectCommand {
  type: "connect";
  /** ws://host:port/ws */
  url: string;
  count: number;
  /** HS256 secret to mint one token per connection (uid bench-<i>); null: no token. */
  secret: string | null;
  /** gamedock greets an authenticated socket with msgId 1: wait for it before counting it open. */
  awaitWelcome: boolean;
  /** Connections being opened at once. */
  concurrency: number;
}

export interface StepCommand {
  type: "step";
  /** Requests per second, all connections together. */
  rate: number;
  seconds: number;
  /** After the last send, replies are awaited this long before the step is judged. */
  drainMs: number;
  /** Then, at most this long for late replies, so that the next step starts on a quiet server. */
  settleMs: number;
}

export type LoadCommand = ConnectCommand | StepCommand | { type: "close" };

export interface StepResult {
  rate: number;
  seconds: number;
  /** Requests actually sent in the window (below rate × seconds when the generator fell behind). */
  sent: number;
  /** Replies received during the sending window, per second: what the server delivered. */
  achieved: number;
  /** Replies to this step's requests received by the end of the drain. */
  replied: number;
  /** Replies whose code was not 0, and frames without a seq (msgId 3: refused). */
  errors: number;
  /** Round trips in ms; a request without reply counts as Infinity. */
  p50: number;
  p99: number;
  max: number;
  /** The generator's CPU (user + system) over the window and the drain, in cores. */
  cpuCores: number;
  /** Requests still unanswered after the settle time. */
  unanswered: number;
  /** Sockets closed by the server so far (with their codes). */
  closed: Record<string, number>;
}

export type LoadReport =
  | { type: "connected"; open: number; failed: number; seconds: number; firstError: string | null }
  | { type: "mark"; phase: "start" | "end" }
  | ({ type: "step" } & StepResult)
  | { type: "closed" }
  | { type: "failed"; message: string };

const SEQ = Buffer.from('"seq":');
const CODE_OK = Buffer.from('"code":0');
const PAD = "x".repeat(48);

const sockets: WebSocket[] = [];
const closed: Record<string, number> = {};
let nextSeq = 1;

/** The current step's bookkeeping: send times and round trips, indexed by seq - firstSeq. */
let step: {
  firstSeq: number;
  sentAt: Float64Array;
  rtt: Float64Array;
  sent: number;
  replied: number;
  inWindow: number;
  windowOpen: boolean;
  errors: number;
} | null = null;

function report(message: LoadReport): void {
  process.send?.(message);
}

/** The head's seq, read from the bytes (cheaper than JSON.parse; the head comes first). */
function seqOf(data: Buffer): number {
  const at = data.indexOf(SEQ);
  if (at < 0) return -1;
  let n = 0;
  for (let i = at + SEQ.length; i < data.length; i++) {
    const c = data[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

function onMessage(data: Buffer): void {
  const now = performance.now();
  const current = step;
  if (!current) return;
  const seq = seqOf(data);
  if (seq < 0) {
    current.errors += 1; // a msgId-3 refusal (E_RATE_LIMITED, E_FRAME_INVALID) or a push
    return;
  }
  const i = seq - current.firstSeq;
  if (i < 0 || i >= current.sent || current.rtt[i] !== Infinity) return; // an earlier step's
  const ok = data.indexOf(CODE_OK);
  if (ok < 0 || ok > data.indexOf("}")) current.errors += 1;
  current.rtt[i] = now - current.sentAt[i]!;
  current.replied += 1;
  if (current.windowOpen) current.inWindow += 1;
}

async function mintTokens(secret: string, count: number): Promise<string[]> {
  const { mintToken } = await import("../src/realtime/index.js");
  const key = new TextEncoder().encode(secret);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++)
    tokens.push(await mintToken(key, { uid: `bench-${i}`, ttlSeconds: 3600 }));
  return tokens;
}

function open(url: string, awaitWelcome: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["gamedock.json.v1"], {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    const fail = (why: string): void => {
      ws.terminate();
      reject(new Error(why));
    };
    ws.once("error", (err) => {
      fail(err.message);
    });
    ws.once("close", (code, reason) => {
      fail(`closed ${code} ${reason.toString()}`);
    });
    const ready = (): void => {
      ws.removeAllListeners("close");
      ws.on("close", (code) => {
        closed[code] = (closed[code] ?? 0) + 1;
      });
      ws.on("message", onMessage);
      resolve(ws);
    };
    ws.once("open", () => {
      if (!awaitWelcome) {
        ready();
        return;
      }
      ws.once("message", (data: Buffer) => {
        if (data.includes('"msgId":1,')) ready();
        else fail(`first frame is not the welcome: ${data.toString().slice(0, 120)}`);
      });
    });
  });
}

async function connect(command: ConnectCommand): Promise<void> {
  const tokens = command.secret ? await mintTokens(command.secret, command.count) : null;
  const started = performance.now();
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(command.concurrency, command.count) }, async () => {
      while (next < command.count) {
        const i = next++;
        const url = tokens ? `${command.url}?token=${tokens[i]!}` : command.url;
        try {
          sockets.push(await open(url, command.awaitWelcome));
        } catch (err) {
          failed += 1;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  report({ type: "connected", open: sockets.length, failed, seconds, firstError });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Infinity;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function runStep(command: StepCommand): Promise<void> {
  const total = Math.round(command.rate * command.seconds);
  const current = {
    firstSeq: nextSeq,
    sentAt: new Float64Array(total),
    rtt: new Float64Array(total).fill(Infinity),
    sent: 0,
    replied: 0,
    inWindow: 0,
    windowOpen: true,
    errors: 0,
  };
  step = current;
  report({ type: "mark", phase: "start" });
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const windowMs = command.seconds * 1000;
  let conn = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= windowMs) break;
    const due = Math.min(total, Math.floor((elapsed / 1000) * command.rate));
    while (current.sent < due) {
      const seq = nextSeq++;
      const ws = sockets[conn]!;
      conn = (conn + 1) % sockets.length;
      current.sentAt[current.sent++] = performance.now();
      ws.send(`[{"msgId":1001,"seq":${seq}},{"n":${seq},"pad":"${PAD}"}]`);
    }
    await sleep(1);
  }
  current.windowOpen = false;
  const windowSeconds = (performance.now() - started) / 1000;
  await sleep(command.drainMs);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuCores = (cpu.user + cpu.system) / 1e6 / ((performance.now() - started) / 1000);
  report({ type: "mark", phase: "end" });
  const sorted = current.rtt.slice(0, current.sent).sort();
  const replied = current.replied;
  const settleUntil = performance.now() + command.settleMs;
  while (current.replied < current.sent && performance.now() < settleUntil) await sleep(50);
  step = null;
  report({
    type: "step",
    rate: command.rate,
    seconds: command.seconds,
    sent: current.sent,
    achieved: current.inWindow / windowSeconds,
    replied,
    errors: current.errors,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Infinity,
    cpuCores,
    unanswered: current.sent - current.replied,
    closed: { ...closed },
  });
}

async function closeAll(): Promise<void> {
  for (const ws of sockets) ws.close();
  await sleep(500);
  for (const ws of sockets) ws.terminate();
  report({ type: "closed" });
  process.disconnect();
}

process.on("message", (command: LoadCommand) => {
  const run =
    command.type === "connect"
      ? connect(command)
      : command.type === "step"
        ? runStep(command)
        : closeAll();
  run.catch((err: unknown) => {
    report({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  });
});
process.stdout.write("load generator ready\n");
