/**
 * The HTTP conventions of a real `gamedock serve` (src/server/http.ts), as a
 * client meets them: every refusal — Node's own 400 and 431, strict JSON,
 * body limits — answers the documented JSON error shape, and an internal
 * error answers a generic message with a request id whose log line holds the
 * stack.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/wait.js";
import Database from "better-sqlite3";
import { useTempDir } from "../helpers/cli.js";
import { spawnGamedock, type ServeProcess } from "../packer/serve-process.js";

interface ErrorBody {
  error: { code: string; message: string; requestId?: string; details?: Record<string, unknown> };
}

/** Sends raw bytes and reads the whole answer (the server closes after an error). */
async function rawRequest(
  url: string,
  bytes: string,
): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (answer += d));
    socket.on("end", () => {
      resolve(answer);
    });
    socket.on("error", reject);
    socket.write(bytes);
  });
  const [head = "", body = ""] = text.split("\r\n\r\n");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head, body };
}

async function post(
  url: string,
  body: string,
): Promise<{ status: number; json: ErrorBody; requestId: string | null }> {
  const response = await fetch(`${url}/api/v1/pack-jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return {
    status: response.status,
    json: (await response.json()) as ErrorBody,
    requestId: response.headers.get("x-request-id"),
  };
}

describe("gamedock serve: HTTP errors", () => {
  let dir = "";
  useTempDir((d) => (dir = d));
  let server: ServeProcess;
  const logFile = (): string => join(dir, "gamedock.log");

  before(async () => {
    const config = join(dir, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        data: join(dir, "data"),
        server: { port: 0, maxBodyBytes: 4096 },
        log: { level: "info", file: logFile() },
      }),
    );
    server = await spawnGamedock(["serve", "--config", config]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
  });

  it("20 KB of headers: 431 with the JSON error body", async () => {
    const answer = await rawRequest(
      server.url,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(20 * 1024)}\r\n\r\n`,
    );
    assert.equal(answer.status, 431, answer.headers);
    assert.match(answer.headers, /content-type: application\/json/i);
    const body = JSON.parse(answer.body) as ErrorBody;
    assert.equal(body.error.code, "E_HEADERS_TOO_LARGE");
    assert.match(body.error.message, /headers are larger/);
  });

  it("garbage bytes: 400 with the JSON error body", async () => {
    const answer = await rawRequest(server.url, "\x16\x03\x01 this is not HTTP at all\r\n\r\n");
    assert.equal(answer.status, 400, answer.headers);
    const body = JSON.parse(answer.body) as ErrorBody;
    assert.equal(body.error.code, "E_INVALID_REQUEST");
  });

  it("a duplicate key: 400 E_JSON_DUPLICATE_KEY naming the key", async () => {
    const answer = await post(
      server.url,
      '{"apk": "demo.apk", "channels": ["a"], "channels": ["b"]}',
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.code, "E_JSON_DUPLICATE_KEY");
    assert.match(answer.json.error.message, /"channels"/);
    assert.equal(answer.json.error.requestId, answer.requestId);
  });

  it("a body nested 100 deep: 400", async () => {
    const answer = await post(server.url, `{"apk": ${"[".repeat(100)}${"]".repeat(100)}}`);
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.code, "E_INVALID_REQUEST");
    assert.match(answer.json.error.message, /nested deeper/);
  });

  it("a body over server.maxBodyBytes: 413 E_REQUEST_TOO_LARGE", async () => {
    const answer = await post(
      server.url,
      JSON.stringify({ apk: "demo.apk", channels: ["x".repeat(5000)] }),
    );
    assert.equal(answer.status, 413);
    assert.equal(answer.json.error.code, "E_REQUEST_TOO_LARGE");
    assert.match(answer.json.error.message, /4096 bytes \(server\.maxBodyBytes\)/);
  });

  it("an internal error: a generic message, the request id, and the stack in the log", async () => {
    // A database broken behind the server's back: a true internal failure.
    const db = new Database(join(dir, "data", "gamedock.db"));
    db.exec("ALTER TABLE pack_jobs RENAME TO pack_jobs_moved");
    db.close();
    try {
      const response = await fetch(`${server.url}/api/v1/pack-jobs`);
      assert.equal(response.status, 500);
      const body = (await response.json()) as ErrorBody;
      const requestId = response.headers.get("x-request-id");
      assert.ok(requestId);
      assert.equal(body.error.code, "E_INTERNAL");
      assert.equal(body.error.requestId, requestId);
      assert.match(body.error.message, new RegExp(`request id ${requestId}`));
      assert.doesNotMatch(
        JSON.stringify(body),
        /pack_jobs|sqlite|\/tmp\//i,
        "no internals in the answer",
      );

      // The logger writes to its file asynchronously: the line may land just after the answer.
      let logged: Record<string, unknown> | undefined;
      await waitFor(async () => {
        const lines = (await readFile(logFile(), "utf8")).trim().split("\n");
        logged = lines
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => entry.requestId === requestId && entry.level === "error");
        return logged !== undefined;
      }, "an error line with the request id");
      assert.match(JSON.stringify(logged), /no such table: pack_jobs/);
      assert.match(JSON.stringify(logged), /\\n\s+at /, "with the stack");
    } finally {
      const repair = new Database(join(dir, "data", "gamedock.db"));
      repair.exec("ALTER TABLE pack_jobs_moved RENAME TO pack_jobs");
      repair.close();
    }
  });
});
