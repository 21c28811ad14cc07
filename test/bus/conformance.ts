/**
 * The bus contract (src/bus/contract.ts) as behaviour the gateway and the
 * logic workers rely on, run against every driver; Redis on a real server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Bus, BusEntry, BusReader } from "../../src/bus/index.js";
import { busKeys } from "../../src/bus/index.js";
import { sleep, waitFor } from "./helpers.js";

export interface BusUnderTest {
  title: string;
  /** false, or why the suite is skipped (its service does not answer). */
  skip: string | false;
  open(): Promise<Bus>;
  /** A consumer that reads `count` entries and dies holding them; resolves with their ids once it is dead. */
  takeAndDie(
    bus: Bus,
    stream: string,
    group: string,
    consumer: string,
    count: number,
  ): Promise<string[]>;
  /** The bus as it is after losing everything (a restart without persistence). */
  loseEverything(bus: Bus): Promise<Bus>;
  cleanup?: () => Promise<void>;
}

const TIMEOUT = { timeout: 30_000 };
const payload = (text: string): Buffer => Buffer.from(text);
const texts = (entries: { payload: Buffer }[]): string[] =>
  entries.map((e) => e.payload.toString());

export function busConformance(driver: BusUnderTest): void {
  describe(`bus conformance: ${driver.title}`, { skip: driver.skip }, () => {
    let bus: Bus;
    let n = 0;
    const readers: BusReader[] = [];
    /** A fresh stream name per test, with the hash tag the gateway would use. */
    const stream = (): string => busKeys.requests(`conf${++n}`);
    const reader = async (): Promise<BusReader> => {
      const r = await bus.reader();
      readers.push(r);
      return r;
    };
    const readAll = async (r: BusReader, s: string, group: string, consumer: string) =>
      r.read(s, group, consumer, { count: 100, blockMs: 0 });

    before(async () => {
      bus = await driver.open();
    });
    after(async () => {
      await Promise.all(readers.map((r) => r.close()));
      await bus.close();
      await driver.cleanup?.();
    });

    it("gives each entry to one consumer of a group, and to every group", TIMEOUT, async () => {
      const s = stream();
      const r = await reader();
      await r.join(s, "logic", "begin");
      await r.join(s, "audit", "begin");
      for (let i = 0; i < 6; i++) await bus.append(s, payload(`m${i}`));
      const first = await r.read(s, "logic", "a", { count: 4, blockMs: 0 });
      const second = await readAll(r, s, "logic", "b");
      assert.deepEqual([...texts(first), ...texts(second)], ["m0", "m1", "m2", "m3", "m4", "m5"]);
      assert.equal(first.length, 4, "count caps a read");
      assert.ok(first.every((e) => !e.redelivered));
      assert.deepEqual(await readAll(r, s, "logic", "a"), [], "nothing is delivered twice");
      const audit = await readAll(r, s, "audit", "x");
      assert.equal(audit.length, 6, "another group gets every entry too");
      const ids = [...first, ...second].map((e) => e.id);
      assert.deepEqual(
        audit.map((e) => e.id),
        ids,
        "ids are the same for every group",
      );
    });

    it("a blocked read wakes on append, times out empty, ends at close", TIMEOUT, async () => {
      const s = stream();
      const r = await reader();
      await r.join(s, "g", "end");
      const started = Date.now();
      assert.deepEqual(await r.read(s, "g", "c", { count: 1, blockMs: 150 }), []);
      assert.ok(Date.now() - started >= 100, "it waited");
      const waiting = r.read(s, "g", "c", { count: 10, blockMs: 10_000 });
      await sleep(100);
      await bus.append(s, payload("wake"));
      assert.deepEqual(texts(await waiting), ["wake"]);
      const blocked = (await reader()).read(s, "g", "d", { count: 1, blockMs: 20_000 });
      const closing = readers.at(-1)!;
      await sleep(100);
      await closing.close();
      assert.deepEqual(await blocked, [], "close ends a blocked read with nothing");
    });

    it('joining at "end" skips what came before; at "begin" reads it', TIMEOUT, async () => {
      const s = stream();
      await bus.append(s, payload("old"));
      const r = await reader();
      await r.join(s, "late", "end");
      await r.join(s, "early", "begin");
      await r.join(s, "early", "end"); // joining again changes nothing
      await bus.append(s, payload("new"));
      assert.deepEqual(texts(await readAll(r, s, "late", "c")), ["new"]);
      assert.deepEqual(texts(await readAll(r, s, "early", "c")), ["old", "new"]);
    });

    it("acknowledges once; reports pending, lag and consumers", TIMEOUT, async () => {
      const s = stream();
      const r = await reader();
      await r.join(s, "g", "begin");
      for (let i = 0; i < 5; i++) await bus.append(s, payload(`m${i}`));
      const got = await r.read(s, "g", "c1", { count: 3, blockMs: 0 });
      let [group] = await bus.groups(s);
      assert.equal(group!.name, "g");
      assert.equal(group!.pending, 3);
      assert.equal(group!.lag, 2, "two not delivered yet");
      assert.deepEqual(
        group!.consumers.map((c) => [c.name, c.pending]),
        [["c1", 3]],
      );
      assert.equal(await bus.ack(s, "g", [got[0]!.id, got[1]!.id]), 2);
      assert.equal(await bus.ack(s, "g", [got[0]!.id]), 0, "a second ack counts nothing");
      [group] = await bus.groups(s);
      assert.equal(group!.pending, 1);
      assert.deepEqual(await bus.groups(busKeys.requests("never-written")), []);
    });

    it("claims only entries idle long enough, marked redelivered", TIMEOUT, async () => {
      const s = stream();
      const r = await reader();
      await r.join(s, "g", "begin");
      for (let i = 0; i < 3; i++) await bus.append(s, payload(`m${i}`));
      const held = await readAll(r, s, "g", "dead");
      assert.equal(held.length, 3);
      assert.deepEqual(await bus.claimIdle(s, "g", "alive", { minIdleMs: 5000, count: 10 }), []);
      await sleep(300);
      const claimed = await bus.claimIdle(s, "g", "alive", { minIdleMs: 200, count: 2 });
      assert.deepEqual(texts(claimed), ["m0", "m1"], "oldest first, count caps it");
      assert.ok(claimed.every((e) => e.redelivered));
      const rest = await bus.claimIdle(s, "g", "alive", { minIdleMs: 200, count: 10 });
      assert.deepEqual(texts(rest), ["m2"]);
      assert.deepEqual(
        await bus.claimIdle(s, "g", "other", { minIdleMs: 200, count: 10 }),
        [],
        "a fresh claim resets the idle time",
      );
      const [group] = await bus.groups(s);
      const alive = group!.consumers.find((c) => c.name === "alive");
      assert.equal(alive?.pending, 3);
      await bus.removeConsumer(s, "g", "dead");
      const [after] = await bus.groups(s);
      assert.ok(!after!.consumers.some((c) => c.name === "dead"));
    });

    it(
      "a consumer that dies holding entries: another takes each exactly once",
      TIMEOUT,
      async () => {
        const s = stream();
        const r = await reader();
        await r.join(s, "g", "begin");
        for (let i = 0; i < 20; i++) await bus.append(s, payload(`m${i}`));
        const held = await driver.takeAndDie(bus, s, "g", "doomed", 12);
        assert.equal(held.length, 12);
        const fresh = await readAll(r, s, "g", "survivor");
        assert.equal(fresh.length, 8, "the entries it never took go to the survivor as new");
        const handled = new Map<string, number>();
        const count = (entries: BusEntry[]) => {
          for (const e of entries)
            handled.set(e.payload.toString(), (handled.get(e.payload.toString()) ?? 0) + 1);
        };
        count(fresh);
        await bus.ack(
          s,
          "g",
          fresh.map((e) => e.id),
        );
        await waitFor(async () => {
          const claimed = await bus.claimIdle(s, "g", "survivor", { minIdleMs: 300, count: 5 });
          count(claimed);
          await bus.ack(
            s,
            "g",
            claimed.map((e) => e.id),
          );
          return handled.size === 20;
        }, "the dead consumer's entries to be claimed");
        assert.deepEqual([...handled.values()], Array(20).fill(1), "each entry handled once");
        const [group] = await bus.groups(s);
        assert.equal(group!.pending, 0);
      },
    );

    it("trims only what every group acknowledged", TIMEOUT, async () => {
      const s = stream();
      const r = await reader();
      assert.equal(await bus.trimAcknowledged(busKeys.requests("no-such")), 0);
      await r.join(s, "a", "begin");
      await r.join(s, "b", "begin");
      for (let i = 0; i < 6; i++) await bus.append(s, payload(`m${i}`));
      const a = await readAll(r, s, "a", "c");
      await bus.ack(
        s,
        "a",
        a.map((e) => e.id),
      );
      assert.equal(await bus.trimAcknowledged(s), 0, "group b has read nothing");
      const b = await r.read(s, "b", "c", { count: 4, blockMs: 0 });
      await bus.ack(s, "b", [b[0]!.id, b[2]!.id]); // b[1] stays pending
      assert.equal(await bus.trimAcknowledged(s), 1, "only m0: m1 is pending in b");
      await bus.ack(s, "b", [b[1]!.id, b[3]!.id]);
      assert.equal(await bus.trimAcknowledged(s), 3, "m1..m3; m4, m5 not yet delivered to b");
      assert.equal(await bus.length(s), 2);
      const restB = await readAll(r, s, "b", "c");
      assert.deepEqual(texts(restB), ["m4", "m5"], "undelivered entries survive the trim");
      await bus.ack(
        s,
        "b",
        restB.map((e) => e.id),
      );
      assert.equal(await bus.trimAcknowledged(s), 2);
      assert.equal(await bus.length(s), 0);
      await bus.deleteStream(s);
      assert.deepEqual(await bus.groups(s), [], "a deleted stream has no groups");
    });

    it("appendOnce appends once per marker, until the marker expires", TIMEOUT, async () => {
      const s = busKeys.gatewayStream(`gw${++n}`);
      const marker = busKeys.replied(`gw${n}`, "msg-1");
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => bus.appendOnce(s, payload(`reply${i}`), marker, 400)),
      );
      assert.equal(results.filter((id) => id !== null).length, 1, "one of five racing appends");
      assert.equal(await bus.length(s), 1);
      assert.equal(await bus.marked(marker), true);
      await waitFor(async () => !(await bus.marked(marker)), "the marker to expire");
      assert.notEqual(await bus.appendOnce(s, payload("again"), marker, 400), null);
      assert.equal(await bus.length(s), 2);
    });

    it(
      "appendMany appends in order, as separate entries with increasing ids",
      TIMEOUT,
      async () => {
        const s = stream();
        const r = await reader();
        await r.join(s, "g", "begin");
        assert.deepEqual(await bus.appendMany(s, []), []);
        const ids = await bus.appendMany(s, ["a", "b", "c"].map(payload));
        assert.equal(ids.length, 3);
        const got = await readAll(r, s, "g", "c");
        assert.deepEqual(
          got.map((e) => e.id),
          ids,
        );
        assert.deepEqual(texts(got), ["a", "b", "c"]);
      },
    );

    it(
      "noAck reads leave nothing pending, and trimming removes what they delivered",
      TIMEOUT,
      async () => {
        const s = stream();
        const r = await reader();
        await r.join(s, "g", "begin");
        await bus.appendMany(s, ["a", "b", "c"].map(payload));
        const got = await r.read(s, "g", "c", { count: 2, blockMs: 0, noAck: true });
        assert.deepEqual(texts(got), ["a", "b"]);
        const [group] = await bus.groups(s);
        assert.equal(group?.pending, 0);
        assert.equal(group?.lag, 1);
        assert.deepEqual(await bus.claimIdle(s, "g", "other", { minIdleMs: 0, count: 10 }), []);
        assert.equal(await bus.trimAcknowledged(s), 2);
        assert.deepEqual(texts(await r.read(s, "g", "c", { count: 10, blockMs: 0, noAck: true })), [
          "c",
        ]);
      },
    );

    it("appendOnceMany appends each entry once per marker, in order", TIMEOUT, async () => {
      const s = busKeys.gatewayStream(`gw${++n}`);
      const marker = (m: string): string => busKeys.replied(`gw${n}`, m);
      assert.notEqual(await bus.appendOnce(s, payload("first"), marker("m1"), 60_000), null);
      const ids = await bus.appendOnceMany(
        s,
        [
          { payload: payload("dup-of-earlier"), marker: marker("m1") },
          { payload: payload("new"), marker: marker("m2") },
          { payload: payload("dup-in-call"), marker: marker("m2") },
          { payload: payload("other"), marker: marker("m3") },
        ],
        60_000,
      );
      assert.equal(ids[0], null, "a marker set earlier");
      assert.equal(typeof ids[1], "string");
      assert.equal(ids[2], null, "a marker repeated in the call counts once");
      assert.equal(typeof ids[3], "string");
      const r = await reader();
      await r.join(s, "g", "begin");
      assert.deepEqual(texts(await readAll(r, s, "g", "c")), ["first", "new", "other"]);
      assert.equal(await bus.marked(marker("m3")), true);
      // Racing calls over the same markers: each entry still lands once.
      const racing = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          bus.appendOnceMany(
            s,
            ["r1", "r2"].map((m) => ({ payload: payload(`${m}-${i}`), marker: marker(m) })),
            60_000,
          ),
        ),
      );
      assert.equal(racing.flat().filter((id) => id !== null).length, 2);
      assert.equal(await bus.length(s), 5);
    });

    it("carries any bytes unchanged", TIMEOUT, async () => {
      const s = stream();
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // not UTF-8
      const r = await reader();
      await r.join(s, "g", "begin");
      await bus.append(s, bytes);
      await bus.append(s, Buffer.alloc(0));
      const got = await readAll(r, s, "g", "c");
      assert.deepEqual(
        got.map((e) => e.payload),
        [bytes, Buffer.alloc(0)],
      );
      const h = bus.history(busKeys.userHistory(`bytes${n}`), { maxLength: 10, maxAgeMs: 60_000 });
      const at = await h.append(bytes);
      const read = await h.read({ epoch: at.epoch, offset: 0 }, 10);
      assert.deepEqual(read.entries[0]?.payload, bytes);
    });

    it("numbers history entries and says whether a reader missed any", TIMEOUT, async () => {
      const h = bus.history(busKeys.userHistory(`u${++n}`), { maxLength: 5, maxAgeMs: 60_000 });
      const start = await h.position();
      assert.equal(start.offset, 0);
      assert.equal((await h.position()).epoch, start.epoch, "a position read keeps the epoch");
      for (let i = 1; i <= 3; i++) {
        assert.deepEqual(await h.append(payload(`p${i}`)), { epoch: start.epoch, offset: i });
      }
      let read = await h.read({ epoch: start.epoch, offset: 1 }, 10);
      assert.deepEqual(
        read.entries.map((e) => [e.offset, e.payload.toString()]),
        [
          [2, "p2"],
          [3, "p3"],
        ],
      );
      assert.equal(read.complete, true);
      assert.equal(read.offset, 3);
      read = await h.read({ epoch: start.epoch, offset: 3 }, 10);
      assert.deepEqual([read.entries, read.complete], [[], true], "up to date");
      read = await h.read({ epoch: start.epoch, offset: 0 }, 2);
      assert.deepEqual(
        read.entries.map((e) => e.offset),
        [1, 2],
        "limit caps a read",
      );
      for (let i = 4; i <= 8; i++) await h.append(payload(`p${i}`));
      read = await h.read({ epoch: start.epoch, offset: 1 }, 10);
      assert.deepEqual(
        read.entries.map((e) => e.offset),
        [4, 5, 6, 7, 8],
        "maxLength kept the newest",
      );
      assert.equal(read.complete, false, "2 and 3 were trimmed: the reader missed them");
      read = await h.read({ epoch: "another", offset: 7 }, 10);
      assert.deepEqual(
        [read.entries, read.complete],
        [[], false],
        "another epoch's offsets mean nothing",
      );
      read = await h.read({ epoch: start.epoch, offset: 9 }, 10);
      assert.equal(read.complete, false, "an offset ahead of the history");
    });

    it("drops history entries older than maxAgeMs, then the history itself", TIMEOUT, async () => {
      const h = bus.history(busKeys.groupHistory(`g${++n}`), { maxLength: 100, maxAgeMs: 1000 });
      const first = await h.append(payload("old"));
      await sleep(600);
      await h.append(payload("newer"));
      await sleep(600);
      const read = await h.read({ epoch: first.epoch, offset: 0 }, 10);
      assert.deepEqual(texts(read.entries), ["newer"], "the first is past maxAgeMs");
      assert.equal(read.complete, false);
      await sleep(1500);
      const later = await h.position();
      assert.notEqual(later.epoch, first.epoch, "untouched for maxAgeMs: a new epoch");
      assert.equal(later.offset, 0);
    });

    it("a lost history comes back under a new epoch", TIMEOUT, async () => {
      const name = busKeys.broadcastHistory();
      const limits = { maxLength: 10, maxAgeMs: 60_000 };
      const before = await bus.history(name, limits).append(payload("x"));
      bus = await driver.loseEverything(bus);
      const h = bus.history(name, limits);
      const read = await h.read({ epoch: before.epoch, offset: before.offset }, 10);
      assert.notEqual(read.epoch, before.epoch);
      assert.equal(read.complete, false, "the reader cannot know what it missed");
      const next = await h.append(payload("y"));
      assert.deepEqual(next, { epoch: read.epoch, offset: 1 });
    });

    it("presence: which gateways hold a uid, until it expires or leaves", TIMEOUT, async () => {
      const uid = `user-${++n}`;
      const other = `user-${++n}`;
      await bus.touchPresence([uid, other], "gw-a", 60_000);
      await bus.touchPresence([uid], "gw-b", 300);
      await bus.touchPresence([], "gw-c", 60_000);
      let map = await bus.presence([uid, other, "nobody"]);
      assert.deepEqual(map.get(uid)?.sort(), ["gw-a", "gw-b"]);
      assert.deepEqual(map.get(other), ["gw-a"]);
      assert.equal(map.has("nobody"), false);
      await waitFor(
        async () => (await bus.presence([uid])).get(uid)?.length === 1,
        "gw-b to expire",
      );
      await bus.touchPresence([uid], "gw-b", 60_000);
      await bus.leavePresence(uid, "gw-a");
      map = await bus.presence([uid]);
      assert.deepEqual(map.get(uid), ["gw-b"]);
      await bus.leavePresence(uid, "gw-b");
      assert.equal((await bus.presence([uid])).has(uid), false);
    });

    it("sets: members kept until removed, the set gone with the last", TIMEOUT, async () => {
      const set = busKeys.userGroups(`user-${++n}`);
      assert.deepEqual(await bus.members(set), []);
      assert.equal(await bus.addMember(set, "room:1"), true);
      assert.equal(await bus.addMember(set, "room:1"), false);
      assert.equal(await bus.addMember(set, "room {2}"), true);
      assert.deepEqual((await bus.members(set)).sort(), ["room {2}", "room:1"]);
      assert.equal(await bus.removeMember(set, "room:1"), true);
      assert.equal(await bus.removeMember(set, "room:1"), false);
      assert.equal(await bus.removeMember(set, "room {2}"), true);
      assert.deepEqual(await bus.members(set), []);
    });

    it("records: a value until its ttl, renewed by rewriting, deleted", TIMEOUT, async () => {
      const a = busKeys.gatewayStatus(`gw-${++n}`);
      const b = busKeys.gatewayStatus(`gw-${++n}`);
      await bus.putRecord(a, payload("first"), 60_000);
      await bus.putRecord(a, payload("second"), 60_000);
      await bus.putRecord(b, payload("short"), 300);
      let got = await bus.getRecords([a, b, busKeys.gatewayStatus("none")]);
      assert.deepEqual(
        got.map((v) => v?.toString() ?? null),
        ["second", "short", null],
      );
      await waitFor(
        async () => (await bus.getRecords([b]))[0] === null,
        "the short record to expire",
      );
      await bus.deleteRecord(a);
      got = await bus.getRecords([a]);
      assert.deepEqual(got, [null]);
    });

    it("refuses bad arguments with E_INTERNAL naming them", TIMEOUT, async () => {
      const r = await reader();
      const s = stream();
      await r.join(s, "g", "begin");
      await assert.rejects(r.read(s, "g", "c", { count: 0, blockMs: 0 }), {
        code: "E_INTERNAL",
        message: /count/,
      });
      await assert.rejects(bus.append("", payload("x")), { code: "E_INTERNAL", message: /stream/ });
      assert.throws(() => bus.history("h", { maxLength: 0, maxAgeMs: 1 }), /maxLength/);
    });
  });
}
