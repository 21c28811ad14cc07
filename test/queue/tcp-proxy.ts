/**
 * A TCP proxy on loopback in front of a real service, for outages a test
 * controls without touching the shared service: `hold()` stops passing the
 * client's bytes on (requests hang, connections stay up), `cut()` drops every
 * connection and stops listening (the service looks gone), `restore()`
 * listens again on the same port (it is back).
 */
import { createServer, connect, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Stop passing client bytes upstream; they wait in the proxy. */
  hold(): void;
  /** Pass on what waited and everything after. */
  release(): void;
  /** Client connections with bytes waiting because of hold(). */
  held(): number;
  /** Drop every connection and stop listening. */
  cut(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  waiting: Buffer[];
}

export async function startTcpProxy(upstreamPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let holding = false;
  const server = createServer((client) => {
    const upstream = connect({ host: "127.0.0.1", port: upstreamPort });
    const pair: Pair = { client, upstream, waiting: [] };
    pairs.add(pair);
    client.on("data", (chunk: Buffer) => {
      if (holding) pair.waiting.push(chunk);
      else upstream.write(chunk);
    });
    upstream.pipe(client);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", drop);
    upstream.on("close", drop);
    client.on("error", drop);
    upstream.on("error", drop);
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const port = address.port;
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => {
        resolve();
      });
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
    });
  return {
    port,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const pair of pairs) {
        for (const chunk of pair.waiting.splice(0)) pair.upstream.write(chunk);
      }
    },
    held: () => [...pairs].filter((pair) => pair.waiting.length > 0).length,
    cut: stopListening,
    restore: () => listen(port),
    close: stopListening,
  };
}
