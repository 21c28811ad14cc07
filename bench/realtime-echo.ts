/**
 * bench:realtime's first baseline, run as its own process: a raw `ws` echo
 * server that speaks gamedock's JSON frames — it parses `[head, body]` and
 * answers `[{msgId, seq, code: 0}, body]`. No token, no bus, no checks: what
 * a WebSocket round trip through one Node process costs on this machine.
 *
 *   node --import tsx bench/realtime-echo.ts   # prints "listening on http://127.0.0.1:<port>"
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

interface Head {
  msgId: number;
  seq: number;
}

const server = createServer();
const wss = new WebSocketServer({ server, path: "/ws", maxPayload: 64 * 1024 });
wss.on("connection", (socket) => {
  socket.on("message", (data: Buffer) => {
    let frame: [Head, unknown];
    try {
      frame = JSON.parse(data.toString()) as [Head, unknown];
    } catch {
      return;
    }
    const [head, body] = frame;
    socket.send(JSON.stringify([{ msgId: head.msgId, seq: head.seq, code: 0 }, body]));
  });
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`echo: listening on http://127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
});
