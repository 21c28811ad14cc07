/**
 * The logic worker on both bus drivers: one reply per request when a worker
 * died before replying or between the reply and the acknowledgement, and
 * the concurrency bound.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { busKeys, openBus, type Bus, type BusConfig } from "../../src/bus/index.js";
import {
  decodeGatewayEnvelope,
  encodeEnvelope,
  type ReplyEnvelope,
} from "../../src/realtime/envelope.js";
import {
  AppGroups,
  LogicWorker,
  Pusher,
  RealtimeOperations,
  type Handler,
} from "../../src/realtime/index.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { waitFor } from "../helpers/wait.js";

const redisSkip = await skipUnlessService("redis");
const prefix = uniquePrefix("logic");
const DRIVERS: { title: string; skip: string | false; config: BusConfig }[] = [
  { title: "memory", skip: false, config: { driver: "memory" } },
  { title: "redis", skip: redisSkip, config: { driver: "redis", url: SERVICES.redis.url, prefix } },
];
const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

after(() => dropRedisPrefix(prefix));

for (const driver of DRIVERS) {
  describe(`logic worker on the ${driver.title} bus`, { skip: driver.skip }, () => {
    let n = 0;
    const setup = async (handlers: Record<number, Handler>, concurrency = 4) => {
      const bus: Bus = await openBus(driver.config);
      const group = `g${++n}`;
      const gatewayId = `gw${n}`;
      const pusher = new Pusher(bus, { history: { maxLength: 100, maxAgeMs: 60_000 } });
      const worker = (timings: { claimIdleMs?: number; presenceTtlMs?: number } = {}) =>
        new LogicWorker({
          bus,
          group,
          consumer: `worker-${Math.random()}`,
          handlers: new Map(
            Object.entries(handlers).map(([id, handler]) => [
              Number(id),
              { handler, services: {} },
            ]),
          ),
          concurrency,
          handlerTimeoutMs: 5000,
          claimIdleMs: timings.claimIdleMs ?? 300,
          presenceTtlMs: timings.presenceTtlMs ?? 10_000,
          pusher,
          groups: new AppGroups(bus, pusher),
          log: SILENT,
        });
      const request = (seq: number) =>
        bus.append(
          busKeys.requests(group),
          encodeEnvelope({
            head: {
              msgId: 1001,
              seq,
              uid: "u",
              connId: "c",
              gatewayId,
              ip: "127.0.0.1",
              ts: Date.now(),
            },
            body: { seq },
          }),
        );
      let reads = 0;
      const replies = async () => {
        const r = await bus.reader();
        // A new group each time: it reads the whole stream.
        const check = `check-${++reads}`;
        await r.join(busKeys.gatewayStream(gatewayId), check, "begin");
        const entries = await r.read(busKeys.gatewayStream(gatewayId), check, "c", {
          count: 1000,
          blockMs: 0,
        });
        await r.close();
        return entries.map((e) => decodeGatewayEnvelope(e.payload) as ReplyEnvelope);
      };
      /** A worker that took every request so far and died (its entries stay pending). */
      const dieHolding = async () => {
        const r = await bus.reader();
        await r.join(busKeys.requests(group), "logic", "begin");
        const held = await r.read(busKeys.requests(group), "logic", "dead", {
          count: 1000,
          blockMs: 0,
        });
        await r.close();
        return held;
      };
      return { bus, group, gatewayId, worker, request, replies, dieHolding };
    };

    it("replies once to a request whose worker died before replying", async () => {
      let calls = 0;
      const t = await setup({ 1001: (_ctx, body) => (calls++, body) });
      await t.request(1);
      assert.equal((await t.dieHolding()).length, 1);
      const w = t.worker();
      await w.start();
      await waitFor(async () => (await t.replies()).length === 1, "the claimed request's reply");
      await w.stop();
      assert.equal(calls, 1);
      assert.deepEqual(
        (await t.replies()).map((r) => [r.head.seq, r.head.code]),
        [[1, 0]],
      );
      const [group] = await t.bus.groups(busKeys.requests(t.group));
      assert.equal(group!.pending, 0);
      await t.bus.close();
    });

    it("does not reply twice when the worker died between the reply and the ack", async () => {
      let calls = 0;
      const t = await setup({ 1001: () => calls++ });
      await t.request(1);
      const [held] = await t.dieHolding();
      // What the dead worker managed before dying: the reply, with its marker; no ack.
      const marker = busKeys.replied(t.gatewayId, `${t.group}:${held!.id}`);
      const reply = encodeEnvelope({
        kind: "reply",
        connId: "c",
        head: { msgId: 1001, seq: 1, code: 0 },
        body: "first",
      });
      await t.bus.appendOnce(busKeys.gatewayStream(t.gatewayId), reply, marker, 60_000);
      const w = t.worker();
      await w.start();
      await waitFor(
        async () => (await t.bus.groups(busKeys.requests(t.group)))[0]!.pending === 0,
        "the ack",
      );
      await w.stop();
      assert.equal(calls, 0, "the handler did not run again");
      assert.deepEqual(
        (await t.replies()).map((r) => r.body),
        ["first"],
      );
      await t.bus.close();
    });

    it("handles at most `concurrency` requests at once, and answers every one", async () => {
      let running = 0;
      let peak = 0;
      const t = await setup(
        {
          1001: async (_ctx, body) => {
            peak = Math.max(peak, ++running);
            await new Promise((r) => setTimeout(r, 20));
            running--;
            return body;
          },
        },
        3,
      );
      const w = t.worker();
      await w.start();
      for (let seq = 1; seq <= 40; seq++) await t.request(seq);
      await waitFor(async () => (await t.replies()).length === 40, "40 replies");
      // Handled requests are trimmed away: the work stream does not grow with traffic.
      await waitFor(
        async () => (await t.bus.length(busKeys.requests(t.group))) === 0,
        "the handled requests to be trimmed",
      );
      await w.stop();
      assert.ok(peak <= 3, `peak ${peak}`);
      const seqs = (await t.replies()).map((r) => r.head.seq).sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      await t.bus.close();
    });

    it("stays present when its presence expires sooner than it claims (an idle worker is not reported lost)", async () => {
      const t = await setup({ 1001: (_ctx, body) => body });
      const w = t.worker({ claimIdleMs: 20_000, presenceTtlMs: 600 });
      await w.start();
      // Three presence lifetimes: it must have refreshed in between.
      await new Promise((r) => setTimeout(r, 1800));
      const groups = await new RealtimeOperations(t.bus).logicGroups();
      const consumers = groups.find((g) => g.group === t.group)?.consumers ?? [];
      await t.request(1);
      await waitFor(async () => (await t.replies()).length === 1, "the reply");
      const after = (await new RealtimeOperations(t.bus).logicGroups()).find(
        (g) => g.group === t.group,
      )!.consumers;
      await w.stop();
      assert.ok(after.length === 1 && after[0]!.alive, JSON.stringify(after));
      assert.ok(
        consumers.every((c) => c.alive),
        JSON.stringify(consumers),
      );
      await t.bus.close();
    });
  });
}
