/**
 * For the staging cache's tests: a small HTTP server that serves contents by
 * sha256 the way the file service does (`GET /files/by-sha256/<hex>`, one
 * Range), counts every body byte it sends, and misbehaves on request — cuts a
 * response after N bytes, stalls after N bytes (so a process can be killed
 * mid-download without racing it), corrupts bytes, lies about the size,
 * ignores Range, answers an error status.
 *
 * Run as a script, this file is the child that a kill -9 test kills:
 *   node --import tsx staging-helpers.ts <dir> <baseUrl> <sha256> <size>
 * opens a staging cache over <dir> and acquires the input.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import {
  httpInputSource,
  openStagingCache,
  type InputRef,
  type StagingCache,
  type StagingCacheOptions,
} from "../../src/cluster/staging/index.js";
import { tempDir } from "../helpers/cli.js";

export interface Content extends InputRef {
  /** In memory (small contents) or a file (large ones). */
  bytes?: Buffer;
  path?: string;
}

export type Misbehaviour =
  | { kind: "cut"; after: number }
  | { kind: "stall"; after: number }
  | { kind: "corrupt" }
  | { kind: "status"; status: number };

export interface ServedRequest {
  sha256: string;
  range: string | undefined;
  authorization: string | undefined;
}

export function contentOf(bytes: Buffer): Content {
  return { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length, bytes };
}

export function randomContent(size: number): Content {
  return contentOf(randomBytes(size));
}

/** A file of `size` random bytes at `path`, written and hashed in chunks. */
export async function randomFileContent(path: string, size: number): Promise<Content> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let written = 0; written < size;) {
    const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - written));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
    written += chunk.length;
  }
  out.end();
  await once(out, "finish");
  return { sha256: hash.digest("hex"), size, path };
}

export class ByteServer {
  readonly requests: ServedRequest[] = [];
  /** Body bytes written to clients, over all requests. */
  servedBytes = 0;
  /** Serve the whole file with 200 whatever the Range. */
  ignoreRange = false;
  /** Send a Content-Length that differs from the content's size by this much (and that many bytes). */
  sizeSkew = 0;
  /** Send no Content-Length (a chunked body): the client counts the bytes itself. */
  omitLength = false;
  readonly #contents = new Map<string, Content>();
  readonly #next = new Map<string, Misbehaviour[]>();
  readonly #stalled: ServerResponse[] = [];
  #onStall: (() => void) | undefined;
  readonly #server = createServer((req, res) => {
    this.#answer(req, res).catch(() => res.destroy());
  });
  url = "";

  static async start(): Promise<ByteServer> {
    const server = new ByteServer();
    server.#server.listen(0, "127.0.0.1");
    await once(server.#server, "listening");
    const address = server.#server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    server.url = `http://127.0.0.1:${port}`;
    return server;
  }

  add(content: Content): InputRef {
    this.#contents.set(content.sha256, content);
    return { sha256: content.sha256, size: content.size };
  }

  /** The next request for `sha256` misbehaves this way (queued: one per request). */
  misbehave(sha256: string, misbehaviour: Misbehaviour): void {
    const queue = this.#next.get(sha256) ?? [];
    queue.push(misbehaviour);
    this.#next.set(sha256, queue);
  }

  /** Resolves once a response has stalled after its bytes were handed to the kernel. */
  stalled(): Promise<void> {
    return new Promise((resolve) => (this.#onStall = resolve));
  }

  requestsFor(sha256: string): ServedRequest[] {
    return this.requests.filter((request) => request.sha256 === sha256);
  }

  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close");
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sha256 = /^\/files\/by-sha256\/([0-9a-f]{64})$/.exec(req.url ?? "")?.[1] ?? "";
    this.requests.push({
      sha256,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    const content = this.#contents.get(sha256);
    const misbehaviour = this.#next.get(sha256)?.shift();
    if (misbehaviour?.kind === "status" || !content) {
      const status = misbehaviour?.kind === "status" ? misbehaviour.status : 404;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "E_NOT_FOUND", message: "no such file" } }));
      return;
    }
    const size = content.size + this.sizeSkew;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range && !this.ignoreRange ? Number(range[1]) : 0;
    if (start >= size) {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      res.end();
      return;
    }
    const headers: Record<string, string | number> = this.omitLength
      ? {}
      : { "content-length": size - start };
    if (start > 0) headers["content-range"] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    let offset = start;
    for await (const chunk of this.#chunks(content, start, size)) {
      const limit =
        misbehaviour?.kind === "cut" || misbehaviour?.kind === "stall"
          ? misbehaviour.after
          : Infinity;
      const piece =
        offset + chunk.length > limit ? chunk.subarray(0, Math.max(0, limit - offset)) : chunk;
      if (misbehaviour?.kind === "corrupt" && offset === start) piece[0] = (piece[0] ?? 0) ^ 0xff;
      if (piece.length > 0) await this.#write(res, piece);
      offset += piece.length;
      if (offset >= limit) {
        if (misbehaviour?.kind === "cut") res.destroy();
        else {
          this.#stalled.push(res);
          this.#onStall?.();
        }
        return;
      }
    }
    res.end();
  }

  async *#chunks(content: Content, start: number, size: number): AsyncGenerator<Buffer> {
    const real = Math.min(size, content.size);
    if (content.bytes) {
      for (let at = start; at < real; at += 64 * 1024) {
        yield Buffer.from(content.bytes.subarray(at, Math.min(real, at + 64 * 1024)));
      }
    } else if (content.path && start < real) {
      yield* createReadStream(content.path, { start, end: real - 1 }) as AsyncIterable<Buffer>;
    }
    if (size > content.size) yield Buffer.alloc(size - Math.max(start, content.size));
  }

  /** Writes and waits until the kernel has the bytes (so a cut or kill comes after them). */
  #write(res: ServerResponse, chunk: Buffer): Promise<void> {
    this.servedBytes += chunk.length;
    return new Promise((resolve, reject) => {
      res.write(chunk, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }
}

export interface TestCache {
  cache: StagingCache;
  dir: string;
}

/** A staging cache in a fresh directory (or `options.dir`) over `server`, with quick retries. */
export async function cacheOver(
  server: ByteServer,
  options: Partial<StagingCacheOptions> = {},
): Promise<TestCache> {
  const dir = options.dir ?? (await tempDir("gamedock-staging-"));
  const cache = await openStagingCache({
    dir,
    maxBytes: 64 * 1024 * 1024,
    source: httpInputSource({ baseUrl: server.url }),
    retryDelayMs: 5,
    ...options,
  });
  return { cache, dir };
}

/** Every file the cache keeps under `dir` (its owner file aside), as relative paths. */
export async function cachedFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .filter((path) => path !== "owner")
    .sort();
}

/** A signal that never aborts. */
export const never = (): AbortSignal => new AbortController().signal;

/** Waits until `check` holds, polling; fails after `ms` (generous: the machine is shared). */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function fileSize(path: string): Promise<number> {
  return stat(path).then(
    (info) => info.size,
    () => 0,
  );
}

/** The child of the kill -9 test: acquire one input into a cache over `dir`, then wait. */
async function childMain(args: string[]): Promise<void> {
  const [dir, baseUrl, sha256, size] = args;
  const cache = await openStagingCache({
    dir: dir!,
    maxBytes: 1024 ** 3,
    source: httpInputSource({ baseUrl: baseUrl! }),
  });
  await cache.acquire([{ sha256: sha256!, size: Number(size) }], new AbortController().signal);
  process.stdout.write("acquired\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await childMain(process.argv.slice(2));
}
