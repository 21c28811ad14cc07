/**
 * A TCP proxy on 127.0.0.1 that counts the bytes going each way and can
 * hold the client → server direction to a rate: put in front of an object
 * store, it measures what gamedock sends (requests, headers, bodies — all
 * of it, as an uplink would carry it) and stands in for a studio's uplink.
 *
 * The limit is one token bucket shared by every connection (an uplink is one
 * pipe, however many uploads run at once). A connection that overdraws the
 * bucket pauses its client socket until the debt is paid back, so the proxy
 * holds at most one read (≤ 64 KiB) per connection beyond what the server
 * has taken; the rest waits in the kernel and TCP pushes back on the client.
 * The server → client direction is only counted, with plain backpressure.
 */
import { createServer, connect, type AddressInfo, type Socket } from "node:net";

export interface CountingProxy {
  /** http://127.0.0.1:<port>: the endpoint to give clients instead of the server's. */
  endpoint: string;
  /** Bytes from clients to the server since the start or the last reset. */
  sent(): number;
  /** Bytes from the server to clients since the start or the last reset. */
  received(): number;
  /** Sets both counters to 0. */
  reset(): void;
  /** Client → server at most this many bytes per second from now on; null: no limit. */
  limit(bytesPerSecond: number | null): void;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

/**
 * How far ahead of the rate the bucket may run, in seconds of the rate: small,
 * so a pause of the client (between requests) does not turn into a burst.
 */
const BURST_SECONDS = 0.05;

/** A token bucket in bytes: `take(n)` spends n, answers how long to wait until it is out of debt. */
class TokenBucket {
  #tokens = 0;
  #at = performance.now();

  constructor(readonly rate: number) {
    this.#tokens = rate * BURST_SECONDS;
  }

  /** Spends `bytes`; answers the milliseconds until the balance is back to zero (0: none). */
  take(bytes: number): number {
    const now = performance.now();
    const burst = this.rate * BURST_SECONDS;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.rate) * 1000;
  }
}

export async function startCountingProxy(host: string, port: number): Promise<CountingProxy> {
  let sent = 0;
  let received = 0;
  let bucket: TokenBucket | null = null;
  const sockets = new Set<Socket>();

  /** Client → server: counted, limited, and paused while the server does not take more. */
  function upstream(client: Socket, server: Socket): void {
    let waitingForDrain = false;
    let waitingForTokens = false;
    const resumeIfFree = (): void => {
      if (!waitingForDrain && !waitingForTokens) client.resume();
    };
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (!server.write(chunk)) {
        waitingForDrain = true;
        client.pause();
      }
      const wait = bucket?.take(chunk.length) ?? 0;
      if (wait > 0) {
        waitingForTokens = true;
        client.pause();
        setTimeout(() => {
          waitingForTokens = false;
          resumeIfFree();
        }, wait);
      }
    });
    server.on("drain", () => {
      waitingForDrain = false;
      resumeIfFree();
    });
  }

  /** Server → client: counted; plain backpressure. */
  function downstream(server: Socket, client: Socket): void {
    server.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (!client.write(chunk)) {
        server.pause();
        client.once("drain", () => server.resume());
      }
    });
  }

  const proxy = createServer({ allowHalfOpen: true }, (client) => {
    const server = connect({ host, port, allowHalfOpen: true });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    upstream(client, server);
    downstream(server, client);
    // A half close goes through (the HTTP peer may still answer); an error or a close cuts both.
    client.on("end", () => server.end());
    server.on("end", () => client.end());
    const cut = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on("error", cut);
    server.on("error", cut);
    client.on("close", cut);
    server.on("close", cut);
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(0, "127.0.0.1", resolve);
  });
  const { port: own } = proxy.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${own}`,
    sent: () => sent,
    received: () => received,
    reset() {
      sent = 0;
      received = 0;
    },
    limit(bytesPerSecond) {
      bucket = bytesPerSecond === null ? null : new TokenBucket(bytesPerSecond);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => {
          resolve();
        });
      }),
  };
}
