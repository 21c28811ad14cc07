import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ERROR_CODES, EXIT, Lifecycle, createLogger } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";

describe("Lifecycle", () => {
  it("aborts its signal and runs hooks last-registered first, once", async () => {
    const lifecycle = new Lifecycle();
    const order: string[] = [];
    lifecycle.onShutdown("db", () => {
      order.push("db");
    });
    lifecycle.onShutdown("http", async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push("http");
    });
    lifecycle.onShutdown("broken", () => {
      throw new Error("hook failed");
    });
    assert.equal(lifecycle.signal.aborted, false);
    await Promise.all([lifecycle.shutdown(), lifecycle.shutdown()]);
    assert.equal(lifecycle.signal.aborted, true);
    assert.deepEqual(order, ["http", "db"]);
  });
});

describe("logger", () => {
  it("writes ELK-ready JSON lines and redacts secrets", async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, "log", "gamedock.log");
      const log = await createLogger({ level: "info", file });
      log.info({ component: "test", token: "t0ps3cret", s3: { secretAccessKey: "k3y" } }, "hello");
      log.flush();
      await new Promise((r) => setTimeout(r, 50));
      const line = JSON.parse((await readFile(file, "utf8")).trim()) as Record<string, unknown>;
      assert.equal(line.message, "hello");
      assert.equal(line.level, "info");
      assert.match(String(line["@timestamp"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(line.component, "test");
      assert.equal(line.token, "[redacted]");
      assert.deepEqual(line.s3, { secretAccessKey: "[redacted]" });
    } finally {
      await removeDir(dir);
    }
  });
});

describe("error registry", () => {
  it("every code maps to a documented exit code and an HTTP status", () => {
    const exits = new Set<number>(Object.values(EXIT));
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^E_[A-Z0-9_]+$/);
      assert.ok(exits.has(spec.exit) && spec.exit > EXIT.ok, code);
      assert.ok(spec.http >= 400 && spec.http < 600, code);
    }
  });
});
