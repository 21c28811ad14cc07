import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { configSchema } from "../../src/core/config-schema.js";
import { DEFAULTS, GamedockError, loadConfig } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";

describe("config", () => {
  it("defaults need no file, and they satisfy the schema", async () => {
    const config = await loadConfig({ env: {} });
    assert.equal(config.server.port, DEFAULTS.server.port);
    assert.equal(config.pack.format, "walle");
    assert.deepEqual(configSchema.parse(DEFAULTS), DEFAULTS);
  });

  it("a file overrides defaults and GAMEDOCK_* env overrides the file", async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, "gamedock.json");
      await writeFile(file, JSON.stringify({ pack: { concurrency: 3, format: "both" } }));
      const config = await loadConfig({
        file,
        env: { GAMEDOCK_PACK_CONCURRENCY: "5", GAMEDOCK_SERVER_PORT: "9000" },
      });
      assert.equal(config.pack.concurrency, 5);
      assert.equal(config.pack.format, "both");
      assert.equal(config.server.port, 9000);
      assert.equal(config.pack.v1Style, "comment");
    } finally {
      await removeDir(dir);
    }
  });

  it("lets a file replace a built-in queue or target entry with another driver", async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, "gamedock.json");
      await writeFile(
        file,
        JSON.stringify({
          queues: { default: { driver: "redis", url: "redis://127.0.0.1:6379/0" } },
          targets: {
            fs: {
              driver: "s3",
              endpoint: "http://127.0.0.1:9000",
              bucket: "b",
              accessKeyId: "k",
              secretAccessKey: "s",
            },
          },
        }),
      );
      const config = await loadConfig({ file, env: {} });
      assert.equal(config.queues.default?.driver, "redis");
      assert.ok(!("path" in (config.queues.default ?? {})), "the sqlite default's path is gone");
      assert.equal(config.targets.fs?.driver, "s3");
    } finally {
      await removeDir(dir);
    }
  });

  it("names the bad field", async () => {
    await assert.rejects(
      loadConfig({ env: { GAMEDOCK_PACK_FORMAT: "zip" } }),
      (err: unknown) =>
        err instanceof GamedockError && err.code === "E_CONFIG" && /pack\.format/.test(err.message),
    );
  });

  it("refuses unknown keys and bad JSON", async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, "c.json");
      await writeFile(file, JSON.stringify({ pack: { speed: 1 } }));
      await assert.rejects(loadConfig({ file, env: {} }), /invalid configuration at pack/);
      await writeFile(file, "{nope");
      await assert.rejects(loadConfig({ file, env: {} }), /not valid JSON/);
    } finally {
      await removeDir(dir);
    }
  });
});
