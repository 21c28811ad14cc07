/**
 * A real HTTP receiver for webhook and robot notifications on loopback: it
 * records every request and checks gamedock's HMAC signature the way a game
 * server would (docs/notifications.md).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  signatureValid: boolean | null;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status to answer with for the next requests (default 200). */
  respond: (status: number) => void;
  close(): Promise<void>;
}

function verify(secret: string, headers: IncomingHttpHeaders, body: string): boolean | null {
  const signature = headers["x-gamedock-signature"];
  const timestamp = headers["x-gamedock-timestamp"];
  if (typeof signature !== "string" || typeof timestamp !== "string") return null;
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
  return (
    expected.length === signature.length &&
    timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
  );
}

export async function startReceiver(secret = ""): Promise<Receiver> {
  const received: Received[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as text
      }
      received.push({
        path: req.url ?? "",
        headers: req.headers,
        body,
        json,
        signatureValid: secret ? verify(secret, req.headers, body) : null,
      });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: status < 300, errcode: 0 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    respond: (next) => {
      status = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
