/**
 * bench:realtime's second baseline: the least a WebSocket ↔ Redis Streams
 * relay does, as two processes, like `gamedock gateway` + `gamedock logic`.
 *
 *   gateway: a ws server; each frame is XADDed as is to the request stream
 *            (with the connection's id and its reply stream); it
 *            XREADGROUPs its own reply stream, sends each reply to its
 *            socket and XACKs the batch.
 *   worker:  XREADGROUPs the request stream (up to 256 at once), answers
 *            each frame `[{msgId, seq, code: 0}, body]` (parse, stringify,
 *            as the echo handler), XADDs the replies and XACKs the batch in
 *            one pipeline.
 *
 * No token, no validation, no exactly-once marker, no presence or history:
 * what is left is the transport gamedock's Redis bus is built on.
 *
 *   node --import tsx bench/realtime-relay.ts gateway|worker <redis-url> <key-prefix>
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

const [role, url, prefix] = process.argv.slice(2);
if ((role !== "gateway" && role !== "worker") || !url || !prefix) {
  throw new Error("usage: realtime-relay.ts gateway|worker <redis-url> <key-prefix>");
}
const REQUESTS = `${prefix}:relay:requests`;
const BATCH = 256;
/** Streams are capped (approximately) so that a long run does not grow Redis. */
const CAP = ["MAXLEN", "~", 100_000];

type Entry = [id: string, fields: string[]];
/** XREADGROUP of one stream: RESP2 nests [[name, entries]], RESP3 (ioredis 6) gives [name, entries]. */
type Answer = [string, Entry[]] | [[string, Entry[]]] | null;

function entriesOf(answer: Answer): Entry[] {
  if (!answer) return [];
  return typeof answer[0] === "string" ? (answer[1] ?? []) : answer[0][1];
}

async function joinGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.call("XGROUP", "CREATE", stream, group, "0", "MKSTREAM");
  } catch (err) {
    if (!(err as Error).message.startsWith("BUSYGROUP")) throw err;
  }
}

/** XREADGROUP … BLOCK in a loop on its own connection, handing each batch to `handle`. */
async function consume(
  stream: string,
  group: string,
  handle: (entries: Entry[]) => Promise<void>,
): Promise<void> {
  const blocking = new Redis(url!, { maxRetriesPerRequest: null });
  await joinGroup(blocking, stream, group);
  const consumer = `c-${process.pid}`;
  for (;;) {
    const reply = (await blocking.call(
      "XREADGROUP",
      "GROUP",
      group,
      consumer,
      "COUNT",
      BATCH,
      "BLOCK",
      1000,
      "STREAMS",
      stream,
      ">",
    )) as Answer;
    const entries = entriesOf(reply);
    if (entries.length > 0) await handle(entries);
  }
}

const field = (fields: string[], name: string): string => fields[fields.indexOf(name) + 1] ?? "";

async function worker(): Promise<void> {
  const redis = new Redis(url!);
  process.stdout.write("relay worker: ready\n");
  await consume(REQUESTS, "workers", async (entries) => {
    const batch = redis.pipeline();
    for (const [, fields] of entries) {
      const [head, body] = JSON.parse(field(fields, "f")) as [
        { msgId: number; seq: number },
        unknown,
      ];
      const reply = JSON.stringify([{ msgId: head.msgId, seq: head.seq, code: 0 }, body]);
      batch.xadd(field(fields, "r"), ...CAP, "*", "c", field(fields, "c"), "f", reply);
    }
    batch.xack(REQUESTS, "workers", ...entries.map(([id]) => id));
    await batch.exec();
  });
}

async function gateway(): Promise<void> {
  const redis = new Redis(url!);
  const replies = `${prefix}:relay:replies:${process.pid}`;
  const sockets = new Map<string, WebSocket>();
  let nextId = 0;
  const server = createServer();
  const wss = new WebSocketServer({ server, path: "/ws", maxPayload: 64 * 1024 });
  wss.on("connection", (socket) => {
    const id = String(nextId++);
    sockets.set(id, socket);
    socket.on("close", () => sockets.delete(id));
    socket.on("message", (data: Buffer) => {
      void redis.xadd(REQUESTS, ...CAP, "*", "r", replies, "c", id, "f", data);
    });
  });
  const delivered = consume(replies, "gateway", async (entries) => {
    for (const [, fields] of entries) sockets.get(field(fields, "c"))?.send(field(fields, "f"));
    await redis.xack(replies, "gateway", ...entries.map(([id]) => id));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`relay gateway: listening on http://127.0.0.1:${port}\n`);
  await delivered;
}

process.on("SIGTERM", () => process.exit(0));
await (role === "worker" ? worker() : gateway());
