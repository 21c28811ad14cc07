/**
 * The JobQueue contract (src/queue/contract.ts) as behaviour a user would
 * notice, run against every driver with real servers. Each driver's test file
 * calls `queueConformance` with its config.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  openQueueBackend,
  type Delivery,
  type OpenQueueOptions,
  type QueueBackend,
  type QueueBackendConfig,
} from "../../src/queue/index.js";
import { holdInChild, sleep, waitFor, type Held } from "./helpers.js";

export interface DriverUnderTest {
  /** Suite title. */
  title: string;
  /** false, or why the suite is skipped (its service does not answer). */
  skip: string | false;
  /** Shared by every backend the suite opens, the crashing child's included. */
  config: QueueBackendConfig;
  options?: OpenQueueOptions;
  /** Removes what the suite left on the server, once it is over. */
  cleanup?: (queueNames: string[]) => Promise<void>;
}

interface Payload {
  n: number;
  kind?: string;
}

/** Clock slack allowed when checking "not sooner than" (ms). */
const SLACK_MS = 30;
const TEST_TIMEOUT = { timeout: 40_000 };

export function queueConformance(driver: DriverUnderTest): void {
  const usedQueues = new Set<string>();
  const open = (): Promise<QueueBackend> => openQueueBackend(driver.config, driver.options);
  const queueName = (name: string): string => {
    usedQueues.add(name);
    return name;
  };

  describe(`JobQueue contract: ${driver.title}`, { skip: driver.skip }, () => {
    after(async () => {
      const backend = await open();
      try {
        for (const name of usedQueues) await backend.open(name).purge();
      } finally {
        await backend.close();
      }
      await driver.cleanup?.([...usedQueues]);
    });

    it("answers a health check while open, and refuses it once closed", TEST_TIMEOUT, async () => {
      const backend = await open();
      assert.equal(await backend.health(), driver.config.driver);
      await backend.close();
      await assert.rejects(backend.health());
    });

    it(
      "delivers a message once, attempt 1; an acked message never comes back",
      TEST_TIMEOUT,
      async () => {
        const backend = await open();
        try {
          const queue = backend.open<Payload>(queueName("once"));
          await queue.enqueue({ n: 1 });
          const seen: Delivery<Payload>[] = [];
          const secondSettle: unknown[] = [];
          const consumer = queue.consume(
            async (delivery) => {
              seen.push(delivery);
              await delivery.ack();
              await delivery.ack().catch((err: unknown) => secondSettle.push(err));
            },
            { concurrency: 2 },
          );
          await waitFor(() => seen.length === 1, "the delivery");
          // A marker enqueued after the ack comes next: nothing delivered the
          // first message again in between.
          await queue.enqueue({ n: 2, kind: "marker" });
          await waitFor(() => seen.length === 2, "the marker");
          await consumer.close();
          assert.deepEqual(
            seen.map((d) => d.payload),
            [{ n: 1 }, { n: 2, kind: "marker" }],
            "delivered exactly once",
          );
          const [delivery] = seen;
          assert.deepEqual(delivery?.payload, { n: 1 });
          assert.equal(delivery?.attempt, 1);
          assert.ok(delivery && delivery.id.length > 0, "has an id");
          assert.equal(secondSettle.length, 2, "settling twice is refused");
          assert.match(String(secondSettle[0]), /already settled/);
          assert.equal(await queue.pendingCount(), 0);
        } finally {
          await backend.close();
        }
      },
    );

    it(
      "keeps an enqueued message across closing and reopening the backend",
      TEST_TIMEOUT,
      async () => {
        const name = queueName("durable");
        const first = await open();
        try {
          await first.open<Payload>(name).enqueue({ n: 2 });
        } finally {
          await first.close();
        }
        const second = await open();
        try {
          const seen: Payload[] = [];
          const consumer = second.open<Payload>(name).consume(
            async (delivery) => {
              seen.push(delivery.payload);
              await delivery.ack();
            },
            { concurrency: 1 },
          );
          await waitFor(() => seen.length === 1, "the durable message");
          await consumer.close();
          assert.deepEqual(seen, [{ n: 2 }]);
        } finally {
          await second.close();
        }
      },
    );

    it(
      "never runs more handlers at once than the concurrency, and reaches it",
      TEST_TIMEOUT,
      async () => {
        const backend = await open();
        try {
          const queue = backend.open<Payload>(queueName("concurrency"));
          for (let n = 0; n < 12; n++) await queue.enqueue({ n });
          let running = 0;
          let most = 0;
          // The first handlers wait until three run at once, so reaching the
          // concurrency does not depend on how fast the driver is.
          let allRunning = (): void => undefined;
          const three = new Promise<void>((resolve) => {
            allRunning = resolve;
          });
          const done: number[] = [];
          const consumer = queue.consume(
            async (delivery) => {
              running++;
              most = Math.max(most, running);
              if (running === 3) allRunning();
              try {
                await three;
                await sleep(20); // some work, so handlers keep overlapping
                await delivery.ack();
                done.push(delivery.payload.n);
              } finally {
                running--;
              }
            },
            { concurrency: 3 },
          );
          await waitFor(() => done.length === 12, "all 12 messages");
          await consumer.close();
          assert.equal(most, 3, `at most and at least 3 handlers at once (saw ${most})`);
          assert.deepEqual(
            [...done].sort((a, b) => a - b),
            [...Array(12).keys()],
          );
        } finally {
          await backend.close();
        }
      },
    );

    it(
      "retry() redelivers the same message, attempt + 1, not before its delay",
      TEST_TIMEOUT,
      async () => {
        const backend = await open();
        try {
          const queue = backend.open<Payload>(queueName("retry"));
          await queue.enqueue({ n: 4 });
          await queue.enqueue({ n: 5 }, { attempt: 3 });
          const seen: { id: string; attempt: number; payload: Payload; at: number }[] = [];
          const fromEnqueue: number[] = [];
          let retriedAt = 0;
          const consumer = queue.consume(
            async (delivery) => {
              const { id, attempt, payload } = delivery;
              if (payload.n === 5) {
                // Counts from the attempt given at enqueue.
                fromEnqueue.push(attempt);
                if (attempt === 3) await delivery.retry({ delayMs: 0 });
                else await delivery.ack();
                return;
              }
              seen.push({ id, attempt, payload, at: Date.now() });
              if (attempt === 1) {
                retriedAt = Date.now();
                await delivery.retry({ delayMs: 400 });
              } else {
                await delivery.ack();
              }
            },
            { concurrency: 1 },
          );
          await waitFor(
            () => seen.length === 2 && fromEnqueue.length === 2,
            "the retried deliveries",
          );
          await consumer.close();
          assert.deepEqual(fromEnqueue, [3, 4], "attempt given at enqueue, then + 1");
          const [first, second] = seen;
          assert.ok(first && second);
          assert.equal(second.id, first.id, "same id");
          assert.deepEqual(second.payload, { n: 4 });
          assert.deepEqual([first.attempt, second.attempt], [1, 2]);
          const waited = second.at - retriedAt;
          assert.ok(waited >= 400 - SLACK_MS, `redelivered after ${waited} ms, asked for 400`);
        } finally {
          await backend.close();
        }
      },
    );

    it(
      "dead-letters on request and when the handler throws, keeping payload, reason and attempt",
      TEST_TIMEOUT,
      async () => {
        const backend = await open();
        try {
          const queue = backend.open<Payload>(queueName("dead"));
          await queue.enqueue({ n: 1, kind: "reject" });
          await queue.enqueue({ n: 2, kind: "throw" });
          await queue.enqueue({ n: 3, kind: "reject" }, { attempt: 3 });
          const handled: number[] = [];
          const consumer = queue.consume(
            async (delivery) => {
              handled.push(delivery.payload.n);
              if (delivery.payload.kind === "marker") {
                await delivery.ack();
                return;
              }
              if (delivery.payload.kind === "throw") throw new Error("boom: bad input");
              await delivery.deadLetter(`rejected ${delivery.payload.n}`);
            },
            { concurrency: 1 },
          );
          await waitFor(() => handled.length === 3, "three deliveries");
          // A marker enqueued now comes next: none of the three came back.
          await queue.enqueue({ n: 4, kind: "marker" });
          await waitFor(() => handled.length === 4, "the marker");
          await consumer.close();
          assert.deepEqual(handled, [1, 2, 3, 4], "none delivered again");
          const letters = await queue.deadLetters();
          const byN = new Map(letters.map((letter) => [letter.payload.n, letter]));
          assert.equal(letters.length, 3);
          assert.deepEqual(byN.get(1)?.payload, { n: 1, kind: "reject" });
          assert.equal(byN.get(1)?.reason, "rejected 1");
          assert.equal(byN.get(1)?.attempt, 1);
          assert.equal(byN.get(2)?.reason, "boom: bad input");
          assert.equal(byN.get(3)?.attempt, 3);
          assert.ok(letters.every((letter) => letter.id.length > 0));
          assert.equal(await queue.pendingCount(), 0);
          assert.equal((await queue.deadLetters()).length, 3, "reading dead letters keeps them");
        } finally {
          await backend.close();
        }
      },
    );

    it("delivers a front message before those already waiting", TEST_TIMEOUT, async () => {
      const backend = await open();
      try {
        const queue = backend.open<Payload>(queueName("front"));
        await queue.enqueue({ n: 1, kind: "a" });
        await queue.enqueue({ n: 2, kind: "b" });
        await queue.enqueue({ n: 3, kind: "c" });
        await queue.enqueue({ n: 4, kind: "x" }, { front: true });
        const order: string[] = [];
        const consumer = queue.consume(
          async (delivery) => {
            order.push(delivery.payload.kind ?? "");
            await delivery.ack();
          },
          { concurrency: 1 },
        );
        await waitFor(() => order.length === 4, "four deliveries");
        await consumer.close();
        assert.deepEqual(order, ["x", "a", "b", "c"]);
      } finally {
        await backend.close();
      }
    });

    it(
      "redelivers the message of a worker process killed with SIGKILL: same id and payload, attempt not lower",
      TEST_TIMEOUT,
      async () => {
        const name = queueName("crash");
        const backend = await open();
        try {
          const queue = backend.open<Payload>(name);
          // Attempt 2, as if retried once: a redelivery must not count from 1 again.
          await queue.enqueue({ n: 7, kind: "crash" }, { attempt: 2 });
          const { held, kill } = await holdInChild(driver, name);
          assert.deepEqual(held.payload, { n: 7, kind: "crash" });
          assert.equal(held.attempt, 2);
          await kill();
          const seen: Held[] = [];
          const consumer = queue.consume(
            async (delivery) => {
              seen.push({ id: delivery.id, payload: delivery.payload, attempt: delivery.attempt });
              await delivery.ack();
            },
            { concurrency: 1 },
          );
          await waitFor(() => seen.length === 1, "redelivery of the dead worker's message");
          await consumer.close();
          const [again] = seen;
          assert.equal(again?.id, held.id, "same id");
          assert.deepEqual(again.payload, held.payload, "same payload");
          // The contract does not say whether a crash counts as an attempt
          // (RabbitMQ classic queues cannot count deliveries), only that the
          // count never goes back.
          assert.ok(again.attempt >= held.attempt, `attempt ${again.attempt} ≥ ${held.attempt}`);
        } finally {
          await backend.close();
        }
      },
    );

    it("does not deliver a delayed message early", TEST_TIMEOUT, async () => {
      const backend = await open();
      try {
        const queue = backend.open<Payload>(queueName("delayed"));
        const enqueuedAt = Date.now();
        await queue.enqueue({ n: 8, kind: "later" }, { delayMs: 500 });
        await queue.enqueue({ n: 9, kind: "now" });
        const seen: { kind: string; at: number }[] = [];
        const consumer = queue.consume(
          async (delivery) => {
            seen.push({ kind: delivery.payload.kind ?? "", at: Date.now() });
            await delivery.ack();
          },
          { concurrency: 2 },
        );
        await waitFor(() => seen.length === 2, "both messages");
        await consumer.close();
        assert.deepEqual(
          seen.map((s) => s.kind),
          ["now", "later"],
        );
        const waited = (seen[1]?.at ?? 0) - enqueuedAt;
        assert.ok(waited >= 500 - SLACK_MS, `delivered after ${waited} ms, asked for 500`);
      } finally {
        await backend.close();
      }
    });

    it(
      "pendingCount counts waiting, delayed and in-flight messages; purge empties the queue",
      TEST_TIMEOUT,
      async () => {
        const backend = await open();
        try {
          const queue = backend.open<Payload>(queueName("pending"));
          await queue.enqueue({ n: 1 });
          await queue.enqueue({ n: 2 });
          await queue.enqueue({ n: 3 }, { delayMs: 60_000 });
          assert.equal(await queue.pendingCount(), 3);
          let release = (): void => undefined;
          const gate = new Promise<void>((resolve) => {
            release = resolve;
          });
          const handled: number[] = [];
          const consumer = queue.consume(
            async (delivery) => {
              handled.push(delivery.payload.n);
              if (delivery.payload.n === 1) await gate;
              await delivery.ack();
            },
            { concurrency: 1 },
          );
          await waitFor(() => handled.length === 1, "the first delivery");
          assert.equal(await queue.pendingCount(), 3, "one in flight, one waiting, one delayed");
          release();
          await waitFor(() => handled.length === 2, "the second delivery");
          await consumer.close();
          assert.equal(await queue.pendingCount(), 1, "the delayed one is left");
          await queue.purge();
          assert.equal(await queue.pendingCount(), 0);
          assert.deepEqual(await queue.deadLetters(), []);
        } finally {
          await backend.close();
        }
      },
    );
  });
}
