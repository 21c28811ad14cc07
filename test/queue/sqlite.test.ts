/**
 * The embedded driver against the conformance suite, plus what only it has:
 * a database file that cannot be opened.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openQueueBackend } from "../../src/queue/index.js";
import { SqliteQueueStore } from "../../src/queue/sqlite/store.js";
import { queueConformance } from "./conformance.js";
import { waitFor } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "gamedock-queue-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// The default 30 s lease: the crash test passes within its timeout only
// because a dead worker's pid is noticed at once.
queueConformance({
  title: "sqlite",
  skip: false,
  config: { driver: "sqlite", path: join(dir, "nested", "queue.db") },
});

describe("sqlite queue driver", () => {
  it("refuses a path it cannot create, naming it", async () => {
    const file = join(dir, "plain-file");
    writeFileSync(file, "not a directory");
    const path = join(file, "queue.db");
    await assert.rejects(openQueueBackend({ driver: "sqlite", path }), (err: unknown) => {
      assert.ok(err instanceof Error && "code" in err);
      assert.match(String(err.code), /^E_/);
      assert.ok(err.message.includes(file), err.message);
      return true;
    });
  });

  it("redelivers a message leased by another host once that lease expires", async () => {
    const path = join(dir, "foreign-lease.db");
    const backend = await openQueueBackend(
      { driver: "sqlite", path },
      { sqlite: { leaseMs: 300 } },
    );
    try {
      const queue = backend.open<{ n: number }>("foreign");
      await queue.enqueue({ n: 1 });
      // A consumer on another machine sharing the file: its pid cannot be checked.
      const store = new SqliteQueueStore(path);
      const leased = store.claim("foreign", "elsewhere.example/4242/feedface", Date.now(), 300);
      store.close();
      assert.ok(leased);
      const seen: string[] = [];
      const consumer = queue.consume(
        async (delivery) => {
          seen.push(delivery.id);
          await delivery.ack();
        },
        { concurrency: 1 },
      );
      await waitFor(() => seen.length === 1, "the expired lease's message");
      await consumer.close();
      assert.deepEqual(seen, [leased.id]);
    } finally {
      await backend.close();
    }
  });

  it("refuses an empty path with E_CONFIG", async () => {
    await assert.rejects(openQueueBackend({ driver: "sqlite", path: "" }), { code: "E_CONFIG" });
  });
});
