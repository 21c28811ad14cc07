/**
 * Two `gamedock files` processes behind a real Debian nginx (round-robin, no
 * request buffering), sharing one PostgreSQL database, one fs target and Redis
 * for tus locks — the deployment docs/files-tus.md describes. A tus upload cut
 * off mid-PATCH on one instance is resumed and finished through the other and
 * ends with the right digests; a plain PUT through nginx is readable from the
 * other instance directly.
 *
 * Which instance served a request comes from nginx's access log
 * (`$upstream_addr`), cross-checked with the instances' own request logs.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { removeDir, tempDir } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { startNginx, type AccessEntry, type Nginx } from "../helpers/nginx.js";
import { SERVICES, skipUnlessService } from "../helpers/services.js";
import { skipUnlessTool } from "../helpers/tools.js";
import { spawnGamedock, type ServeProcess } from "../packer/serve-process.js";
import { MiB, TusClient, idOf, randomFile } from "./tus-kit.js";

const skip = (await skipUnlessService("postgres", "redis")) || skipUnlessTool("nginx");

interface Instance {
  name: "a" | "b";
  process: ServeProcess;
  url: string;
  /** host:port, as nginx's $upstream_addr names it. */
  address: string;
  logFile: string;
}

interface RequestLine {
  component?: string;
  method?: string;
  url?: string;
  status?: number;
}

/**
 * The instance's own access lines (component "http", one per finished
 * response). The log file is written asynchronously (pino's destination), so
 * a line about a response the client already has may still be on its way:
 * loggedBy waits for it.
 */
async function requestsOf(instance: Instance): Promise<RequestLine[]> {
  const text = await readFile(instance.logFile, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as RequestLine)
    .filter((line) => line.component === "http");
}

/** Waits (up to a deadline) until `instance` has logged a request matching `match`. */
async function loggedBy(
  instance: Instance,
  match: (line: RequestLine) => boolean,
): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await requestsOf(instance)).some(match)) return true;
    await delay(50);
  }
  return false;
}

describe("two `gamedock files` instances behind nginx", { skip, timeout: 60_000 }, () => {
  let dir = "";
  let database: TestDatabase | null = null;
  const instances: Instance[] = [];
  let nginx: Nginx | null = null;

  const instanceAt = (address: string): Instance => {
    const found = instances.find((instance) => instance.address === address);
    assert.ok(found, `nginx used upstream ${address}, not one of our instances`);
    return found;
  };
  const other = (instance: Instance): Instance =>
    instances.find((candidate) => candidate !== instance) ?? assert.fail("one instance only");

  /** The access-log entry of the last request matching, once nginx has logged it. */
  async function served(
    match: (entry: AccessEntry, index: number) => boolean,
  ): Promise<AccessEntry> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = (await nginx!.accessLog()).findLast((e, index) => match(e, index));
      if (entry) return entry;
      await delay(50);
    }
    assert.fail("nginx never logged the request");
  }

  /**
   * Round-robin over two servers alternates, so after a request served by
   * `instance` the next one goes to the other. `last` is the latest request
   * sent through nginx; cheap GET /healthz requests move the rotation on
   * until the latest one was `instance`'s.
   */
  async function nextGoesAwayFrom(instance: Instance, last: AccessEntry): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      if (instanceAt(last.upstream) === instance) return;
      const logged = (await nginx!.accessLog()).length;
      const response = await fetch(`${nginx!.url}/healthz`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      last = await served((entry, index) => index >= logged && entry.uri === "/healthz");
    }
    assert.fail("nginx did not alternate between the two instances");
  }

  before(async () => {
    dir = await tempDir("gamedock-instances-");
    database = await createTestDatabase("postgres", "files_nginx");
    const config = join(dir, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        database: database.config,
        targets: { fs: { driver: "fs", root: join(dir, "blobs") } },
        files: {
          target: "fs",
          lockRedisUrl: SERVICES.redis.url,
          // One key for both: a signed URL made by one instance is valid on the other.
          signingSecret: randomBytes(32).toString("hex"),
        },
        log: { level: "info" },
      }),
    );
    // One after the other: the first one creates the tables.
    for (const name of ["a", "b"] as const) {
      const logFile = join(dir, `${name}.log`);
      const child = await spawnGamedock([
        "files",
        "--config",
        config,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data",
        join(dir, `data-${name}`),
        "--log-file",
        logFile,
      ]);
      const address = new URL(child.url).host;
      instances.push({ name, process: child, url: child.url, address, logFile });
    }
    nginx = await startNginx(join(dir, "nginx"), {
      http: `upstream gamedock { ${instances.map((i) => `server ${i.address};`).join(" ")} }`,
      server: `
        client_max_body_size 0;
        location / {
          proxy_pass http://gamedock;
          proxy_http_version 1.1;
          proxy_request_buffering off;
          proxy_buffering off;
          proxy_set_header Host $host;
        }`,
    });
  });

  after(async () => {
    await nginx?.stop();
    const codes = await Promise.all(
      instances.map(async (instance) => {
        instance.process.child.kill("SIGTERM");
        return { name: instance.name, code: await instance.process.exited };
      }),
    );
    await database?.drop();
    await removeDir(dir);
    for (const { name, code } of codes) assert.equal(code, 0, `instance ${name} exit code`);
  });

  it("a tus upload cut off on one instance is finished through the other", async () => {
    const file = join(dir, "upload.bin");
    const size = 40 * MiB + 12_345;
    await randomFile(file, size);
    const bytes = await readFile(file);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const md5 = createHash("md5").update(bytes).digest("hex");
    const client = new TusClient(nginx!.url);

    const url = await client.start(size, { filename: "两个实例.bin" });
    const id = idOf(url);
    const path = `/files/${id}`;
    // The client goes away after ~15 MB of a 40 MB PATCH.
    await client.abortedPatch(url, 0, bytes, 15 * MiB);
    const cut = await served((e) => e.method === "PATCH" && e.uri === path);
    const interrupted = instanceAt(cut.upstream);
    assert.ok(cut.requestLength > 10 * MiB, `nginx passed on ${cut.requestLength} bytes`);

    let offset = await client.offset(url);
    assert.ok(offset > 0 && offset < size, `offset after the cut: ${offset}`);
    let last = await served((e) => e.method === "HEAD" && e.uri === path);
    while (offset < size) {
      await nextGoesAwayFrom(interrupted, last);
      const logged = (await nginx!.accessLog()).length;
      offset = await client.sendFile(url, file, size, offset, size);
      last = await served((e, index) => index >= logged && e.method === "PATCH");
    }
    const finish = await served((e) => e.method === "PATCH" && e.uri === path && e.status === 204);
    const finisher = instanceAt(finish.upstream);
    assert.notEqual(finisher, interrupted, "the upload was resumed on the other instance");
    // The instances' own logs agree: the finishing 204 is the other instance's.
    const isFinish = (line: RequestLine): boolean =>
      line.method === "PATCH" && line.url === path && line.status === 204;
    assert.ok(await loggedBy(finisher, isFinish), `${finisher.name} logged the 204`);
    assert.ok(!(await requestsOf(interrupted)).some(isFinish), `${interrupted.name} did not`);

    const download = await fetch(`${nginx!.url}${path}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get("etag"), `"${sha256}"`);
    assert.equal(download.headers.get("content-length"), String(size));
    assert.match(download.headers.get("content-disposition") ?? "", /两个实例|%E4%B8%A4/);
    const got = createHash("sha256")
      .update(Buffer.from(await download.arrayBuffer()))
      .digest("hex");
    assert.equal(got, sha256, "the bytes through nginx are the file's");

    // The digests recorded while streaming (across both instances) find it on either one.
    for (const instance of instances) {
      for (const [kind, hex] of [
        ["sha256", sha256],
        ["md5", md5],
      ] as const) {
        const response = await fetch(`${instance.url}/files/by-${kind}/${hex}`);
        assert.equal(response.status, 200, `by-${kind} on ${instance.name}`);
        assert.equal(response.headers.get("etag"), `"${sha256}"`);
        const body = Buffer.from(await response.arrayBuffer());
        assert.equal(createHash("sha256").update(body).digest("hex"), sha256);
      }
    }
  });

  it("a plain PUT through nginx is readable from the other instance directly", async () => {
    const bytes = randomBytes(5 * MiB + 7);
    const name = "plain-put.bin";
    const response = await fetch(`${nginx!.url}/files/${name}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array(bytes),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const view = (await response.json()) as { id: string; sha256: string; size: number };
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    assert.equal(view.sha256, sha256);
    assert.equal(view.size, bytes.length);

    const put = await served((e) => e.method === "PUT" && e.uri === `/files/${name}`);
    assert.equal(put.status, 201);
    const reader = other(instanceAt(put.upstream));
    const download = await fetch(`${reader.url}/files/${view.id}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get("etag"), `"${sha256}"`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes));
  });
});
