/**
 * The client's pure parts, for what a live gateway cannot be made to show on
 * demand: a push delivered twice (replay overlapping live) is dropped, epochs
 * from the welcome and membership frames (msgId 4) decide the resume query,
 * URL forms, backoff bounds, option checks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "../../src/client/backoff.js";
import { connect } from "../../src/client/index.js";
import { ResumePoints } from "../../src/client/resume.js";
import { gatewayUrl } from "../../src/client/urls.js";
import type { PushHead, Welcome } from "../../src/client/index.js";

const welcome = (over: Partial<Welcome> = {}): Welcome => ({
  uid: "u",
  group: "default",
  connId: "c",
  gatewayId: "g",
  epoch: "E1",
  offset: 10,
  allEpoch: "A1",
  allOffset: 100,
  recovered: true,
  ...over,
});
const head = (over: Partial<PushHead>): PushHead => ({ msgId: 1500, push: true, ...over });
const query = (points: ResumePoints): Record<string, string> => {
  const params = new URLSearchParams();
  points.addTo(params);
  return Object.fromEntries(params);
};

describe("resume points", () => {
  it("drops a push at or below the held offset, per stream", () => {
    const points = new ResumePoints();
    points.welcome(welcome({ groups: { red: { epoch: "R1", offset: 5 } } }));
    assert.equal(points.accept(head({ stream: "user", offset: 11 })), true);
    assert.equal(points.accept(head({ stream: "user", offset: 11 })), false, "a duplicate");
    assert.equal(points.accept(head({ stream: "user", offset: 9 })), false, "an old one");
    assert.equal(points.accept(head({ stream: "all", offset: 101 })), true, "streams apart");
    assert.equal(points.accept(head({ stream: "group", group: "red", offset: 5 })), false);
    assert.equal(points.accept(head({ stream: "group", group: "red", offset: 6 })), true);
    assert.equal(points.accept(head({ stream: "user" })), true, "no offset: not persisted");
    assert.deepEqual(query(points), {
      lastOffset: "11",
      epoch: "E1",
      allOffset: "101",
      allEpoch: "A1",
      groups: JSON.stringify({ red: { epoch: "R1", offset: 6 } }),
    });
  });

  it("keeps its offsets across a welcome of the same epoch, takes the server's for another", () => {
    const points = new ResumePoints({
      user: { epoch: "E1", offset: 4 },
      all: { epoch: "old", offset: 50 },
      groups: { red: { epoch: "R1", offset: 2 }, gone: { epoch: "G", offset: 1 } },
    });
    // The welcome's offsets are where the replay that follows will end.
    points.welcome(welcome({ groups: { red: { epoch: "R1", offset: 9 } } }));
    assert.deepEqual(points.snapshot(), {
      user: { epoch: "E1", offset: 4 },
      all: { epoch: "A1", offset: 100 },
      groups: { red: { epoch: "R1", offset: 2 } },
    });
    // A gateway that predates groups says nothing of them: keep them.
    points.welcome(welcome());
    assert.deepEqual(Object.keys(points.snapshot().groups), ["red"]);
  });

  it("follows membership frames", () => {
    const points = new ResumePoints();
    points.welcome(welcome({ groups: {} }));
    points.membership({ joined: { blue: { epoch: "B1", offset: 3 } }, left: [] });
    assert.equal(points.accept(head({ stream: "group", group: "blue", offset: 3 })), false);
    points.membership({ joined: {}, left: ["blue"] });
    assert.deepEqual(points.snapshot().groups, {});
    assert.equal(query(points).groups, undefined);
  });
});

describe("gateway URLs", () => {
  it("takes the WebSocket URL or the HTTP base", () => {
    assert.equal(gatewayUrl("ws://h:8080/ws"), "ws://h:8080/ws");
    assert.equal(gatewayUrl("http://h:8080"), "ws://h:8080/ws");
    assert.equal(gatewayUrl("https://games.example/rt/"), "wss://games.example/rt/ws");
    assert.equal(gatewayUrl("http://h:8080/ws"), "ws://h:8080/ws");
    assert.throws(() => gatewayUrl("ftp://h/"), { code: "E_CLIENT_INVALID" });
    assert.throws(
      () => gatewayUrl("/ws"),
      { code: "E_CLIENT_INVALID" },
      "relative, outside a page",
    );
  });
});

describe("backoff", () => {
  it("grows from min, doubling, capped at max", () => {
    const bounds = { minMs: 100, maxMs: 1000 };
    assert.equal(
      backoffDelay(0, bounds, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(0, bounds, () => 1),
      200,
    );
    assert.equal(
      backoffDelay(2, bounds, () => 1),
      800,
    );
    assert.equal(
      backoffDelay(40, bounds, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(40, bounds, () => 0),
      100,
    );
  });
});

describe("options", () => {
  it("refuses what cannot work, at connect()", () => {
    assert.throws(() => connect("ws://h/ws", {}), { code: "E_CLIENT_INVALID", message: /token/ });
    assert.throws(() => connect([], { token: "t" }), { code: "E_CLIENT_INVALID" });
    assert.throws(() => connect("ws://h/ws", { token: "t", whileDisconnected: "drop" as "fail" }), {
      code: "E_CLIENT_INVALID",
      message: /whileDisconnected/,
    });
    assert.throws(() => connect("ws://h/ws", { token: "t", reconnectMinMs: -1 }), {
      code: "E_CLIENT_INVALID",
    });
  });
});
