/**
 * The HTTP input source and the cache directory's owner: what the executor
 * sends (the token, Range), how each answer of the file service is read
 * (404, 5xx, a refused connection, a 206 for the wrong range, a refused
 * token), and one cache per directory.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { httpInputSource, openStagingCache } from "../../src/cluster/staging/index.js";
import { isGamedockError, type GamedockError } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { ByteServer, never, randomContent } from "./staging-helpers.js";

function failure(code: string, check: (err: GamedockError) => void = () => undefined) {
  return (err: unknown): boolean => {
    assert.ok(isGamedockError(err), `expected a GamedockError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check(err);
    return true;
  };
}

async function drain(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of chunks) bytes += chunk.length;
  return bytes;
}

describe("staging cache: the HTTP input source", () => {
  let server: ByteServer;
  let dir = "";
  before(async () => {
    server = await ByteServer.start();
    dir = await tempDir("gamedock-staging-");
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  it("sends the token as a bearer and asks for the rest with Range", async () => {
    const ref = server.add(randomContent(5000));
    const source = httpInputSource({ baseUrl: `${server.url}/`, token: "executor-token" });
    assert.equal(await drain(await source.open(ref, 0, never())), 5000);
    assert.equal(await drain(await source.open(ref, 4000, never())), 1000);
    const [whole, rest] = server.requestsFor(ref.sha256);
    assert.equal(whole?.authorization, "Bearer executor-token");
    assert.equal(whole?.range, undefined);
    assert.equal(rest?.range, "bytes=4000-");
    const anonymous = httpInputSource({ baseUrl: server.url });
    await drain(await anonymous.open(ref, 0, never()));
    assert.equal(server.requestsFor(ref.sha256).at(-1)?.authorization, undefined);
  });

  it("maps the file service's answers to error codes", async () => {
    const ref = server.add(randomContent(100));
    const source = httpInputSource({ baseUrl: server.url });
    await assert.rejects(source.open(randomContent(1), 0, never()), failure("E_INPUT_NOT_FOUND"));
    server.misbehave(ref.sha256, { kind: "status", status: 503 });
    await assert.rejects(
      source.open(ref, 0, never()),
      failure("E_SERVICE_UNAVAILABLE", (err) => {
        assert.equal(err.retryable, true);
      }),
    );
    server.misbehave(ref.sha256, { kind: "status", status: 401 });
    await assert.rejects(source.open(ref, 0, never()), failure("E_UNAUTHORIZED"));
    await assert.rejects(
      source.open({ sha256: ref.sha256, size: 99 }, 0, never()),
      failure("E_INPUT_DIGEST_MISMATCH"),
    );
  });

  it("reports a refused connection as a retryable E_SERVICE_UNAVAILABLE", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const address = closed.address();
    const port = typeof address === "object" && address ? address.port : 0;
    closed.close();
    await once(closed, "close");
    const source = httpInputSource({ baseUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(
      source.open(randomContent(10), 0, never()),
      failure("E_SERVICE_UNAVAILABLE", (err) => {
        assert.equal(err.retryable, true);
        assert.match(err.message, /ECONNREFUSED/);
      }),
    );
  });

  it("refuses a 206 for another range than the one asked for", async () => {
    const content = randomContent(1000);
    const liar = createServer((_req, res) => {
      res.writeHead(206, { "content-range": "bytes 0-999/1000", "content-length": 1000 });
      res.end(content.bytes);
    });
    liar.listen(0, "127.0.0.1");
    await once(liar, "listening");
    try {
      const address = liar.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const source = httpInputSource({ baseUrl: `http://127.0.0.1:${port}` });
      await assert.rejects(
        source.open(content, 500, never()),
        failure("E_SERVICE_UNAVAILABLE", (err) => {
          assert.match(err.message, /bytes 0-999\/1000/);
        }),
      );
    } finally {
      liar.close();
    }
  });

  it("drops a connection that stalls and resumes after it", async () => {
    const content = randomContent(300_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "stall", after: 100_000 });
    const cache = await openStagingCache({
      dir,
      maxBytes: 1024 * 1024,
      source: httpInputSource({ baseUrl: server.url, idleTimeoutMs: 300 }),
      retryDelayMs: 1,
    });
    try {
      const lease = await cache.acquire([ref], never());
      const [first, resumed] = server.requestsFor(ref.sha256).map((request) => request.range);
      assert.equal(first, undefined);
      // A busy machine may pause past 300 ms elsewhere too: the first resume is what counts.
      const from = Number(/^bytes=(\d+)-$/.exec(resumed ?? "")?.[1]);
      assert.ok(from > 0 && from <= 100_000, `resumed with ${resumed}`);
      assert.equal(cache.stats().fetchedBytes, content.size);
      lease.release();
    } finally {
      await cache.close();
    }
  });

  it("gives up on an unavailable source after its retries, keeping nothing reserved", async () => {
    const ref = server.add(randomContent(100));
    for (let i = 0; i < 3; i++) server.misbehave(ref.sha256, { kind: "status", status: 500 });
    const cache = await openStagingCache({
      dir,
      maxBytes: 1000,
      source: httpInputSource({ baseUrl: server.url }),
      retries: 2,
      retryDelayMs: 1,
    });
    try {
      await assert.rejects(cache.acquire([ref], never()), failure("E_SERVICE_UNAVAILABLE"));
      assert.equal(server.requestsFor(ref.sha256).length, 3, "one try and two retries");
      assert.equal(cache.stats().bytes, 0);
      const lease = await cache.acquire([ref], never());
      lease.release();
    } finally {
      await cache.close();
    }
  });

  it("opens one cache per directory", async () => {
    const options = { dir, maxBytes: 1000, source: httpInputSource({ baseUrl: server.url }) };
    const first = await openStagingCache(options);
    await assert.rejects(
      openStagingCache(options),
      failure("E_CONFIG", (err) => {
        assert.match(err.message, /in use by/);
      }),
    );
    await first.close();
    const second = await openStagingCache(options);
    await second.close();
  });

  it("refuses a directory it cannot create and a size that is not positive", async () => {
    const source = httpInputSource({ baseUrl: server.url });
    await assert.rejects(
      openStagingCache({ dir: "/proc/gamedock-staging", maxBytes: 1000, source }),
      failure("E_PATH_INVALID", (err) => {
        assert.match(err.message, /staging cache directory \/proc\/gamedock-staging/);
      }),
    );
    await assert.rejects(openStagingCache({ dir, maxBytes: 0, source }), failure("E_CONFIG"));
  });
});
