/**
 * A small HTTP proxy in front of `gamedock serve` for the multi-process
 * cluster tests: an executor pointed at it (`--server`) makes every call
 * through it, so the test can count the bytes of each input it downloads
 * (GET /files/by-sha256/<hex>) and slow those bodies down to a rate. Slowed
 * down, a 50 MB download on loopback lasts seconds instead of milliseconds,
 * so a `kill -9` lands in the middle of it. The proxy writes small slices and
 * waits for each to drain, so what it counts is (within a slice and the
 * sockets' buffers) what the executor received.
 */
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const SLICE_BYTES = 64 * 1024;
const INPUT_PATH = /^\/files\/by-sha256\/([0-9a-f]{64})(?:\?|$)/;

export interface CountingProxy {
  url: string;
  /** Body bytes sent to the executor for GET /files/by-sha256/<sha256>. */
  inputBytes(sha256: string): number;
  /** The Range header of each GET of that input, in order ("" for none). */
  inputRanges(sha256: string): string[];
  /** Input bodies go at most this fast from now on (bytes per second); null: no limit. */
  throttle(bytesPerSecond: number | null): void;
  /** Resolves once at least `bytes` of the input have gone through. */
  waitForInputBytes(sha256: string, bytes: number): Promise<void>;
  close(): Promise<void>;
}

/** Resolves when the response can take more, or is gone (the executor was killed). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const bytes = new Map<string, number>();
  const ranges = new Map<string, string[]>();
  const waiters = new Set<() => void>();
  let rate: number | null = null;

  const counted = (sha256: string, n: number): void => {
    bytes.set(sha256, (bytes.get(sha256) ?? 0) + n);
    for (const wake of [...waiters]) wake();
  };

  async function pumpInput(sha256: string, from: IncomingMessage, to: ServerResponse) {
    for await (const chunk of from as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        if (to.destroyed) {
          from.destroy();
          return;
        }
        const slice = chunk.subarray(at, at + SLICE_BYTES);
        if (!to.write(slice)) await drained(to);
        counted(sha256, slice.length);
        if (rate !== null) await sleep((slice.length / rate) * 1000);
      }
    }
    to.end();
  }

  const server: Server = createServer((req, res) => {
    const upstream = request(new URL(req.url ?? "/", target), {
      method: req.method,
      headers: req.headers,
    });
    const input = req.method === "GET" ? INPUT_PATH.exec(req.url ?? "")?.[1] : undefined;
    if (input !== undefined)
      ranges.set(input, [...(ranges.get(input) ?? []), req.headers.range ?? ""]);
    upstream.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (input === undefined) {
        answer.pipe(res);
        return;
      }
      pumpInput(input, answer, res).catch(() => {
        res.destroy();
      });
    });
    upstream.on("error", () => {
      res.destroy();
    });
    // The executor went away (killed): stop reading from serve too.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    inputBytes: (sha256) => bytes.get(sha256) ?? 0,
    inputRanges: (sha256) => ranges.get(sha256) ?? [],
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    waitForInputBytes(sha256, n) {
      return new Promise((resolve) => {
        const check = (): void => {
          if ((bytes.get(sha256) ?? 0) < n) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
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
