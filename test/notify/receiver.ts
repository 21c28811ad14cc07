/**
 * A real HTTP receiver on 127.0.0.1 (random port) for sink tests: it records
 * every request and answers as the test's script says, including never.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Raw body bytes as UTF-8 text, exactly as received. */
  body: string;
}

/** What to answer; `hang` never answers (the client's timeout must fire). */
export type Answer = { status: number; body?: string; hang?: false } | { hang: true };

export interface Receiver {
  url: string;
  host: string;
  requests: Received[];
  close(): Promise<void>;
}

export async function startReceiver(
  answer: (request: Received, index: number) => Answer,
): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received: Received = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(received);
      const reply = answer(received, requests.length - 1);
      if (reply.hang === true) return;
      res.writeHead(reply.status, { "content-type": "application/json; charset=utf-8" });
      res.end(reply.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Hanging requests and keep-alive sockets would hold the test process open.
        server.closeAllConnections();
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
