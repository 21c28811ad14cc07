import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  NOTIFY_LEVELS,
  isNotifyEvent,
  shouldNotify,
  wantsEvent,
  type NotifyEvent,
  type NotifyLevel,
} from "../../src/notify/index.js";
import { channelDone, channelFailed, jobFinished } from "./events.js";

type EventType = NotifyEvent["type"];

describe("notification levels", () => {
  // level → [channel.done, channel.failed, job.finished]
  const table: Record<NotifyLevel, [boolean, boolean, boolean]> = {
    none: [false, false, false],
    failure: [false, true, false],
    summary: [false, false, true],
    each: [true, true, true],
  };
  const types: EventType[] = ["channel.done", "channel.failed", "job.finished"];

  for (const level of NOTIFY_LEVELS) {
    it(`${level}: ${types.filter((_, i) => table[level][i]).join(", ") || "nothing"}`, () => {
      types.forEach((type, i) => {
        assert.equal(wantsEvent(level, type), table[level][i], `${level} × ${type}`);
      });
    });
  }

  it("lists the four levels", () => {
    assert.deepEqual([...NOTIFY_LEVELS], ["none", "failure", "summary", "each"]);
  });

  it("shouldNotify follows the table for ordinary events", () => {
    for (const level of NOTIFY_LEVELS) {
      for (const event of [channelDone, channelFailed, jobFinished]) {
        assert.equal(shouldNotify(level, event), wantsEvent(level, event.type));
      }
    }
  });

  it("shouldNotify tells a failure sink about a job that failed with no channel failure", () => {
    const failedEarly: NotifyEvent = {
      ...(jobFinished as Extract<NotifyEvent, { type: "job.finished" }>),
      status: "failed",
      counts: { done: 0, failed: 0, cancelled: 0, total: 3 },
      failed: [],
    };
    assert.equal(shouldNotify("failure", failedEarly), true);
    assert.equal(shouldNotify("none", failedEarly), false);
    // A cancelled job is not a failure.
    assert.equal(shouldNotify("failure", { ...failedEarly, status: "cancelled" }), false);
  });
});

describe("isNotifyEvent", () => {
  it("accepts each event type, including after a JSON round trip", () => {
    for (const event of [channelDone, channelFailed, jobFinished]) {
      assert.equal(isNotifyEvent(JSON.parse(JSON.stringify(event))), true, event.type);
    }
    assert.equal(
      isNotifyEvent({
        ...channelDone,
        output: { ...(channelDone as { output: object }).output, url: null },
      }),
      true,
    );
  });

  it("rejects unknown types and missing or mistyped fields", () => {
    assert.equal(isNotifyEvent(null), false);
    assert.equal(isNotifyEvent("channel.done"), false);
    assert.equal(isNotifyEvent({ ...channelDone, type: "channel.started" }), false);
    assert.equal(isNotifyEvent({ ...channelDone, id: 7 }), false);
    assert.equal(isNotifyEvent({ ...channelFailed, attempts: -1 }), false);
    assert.equal(isNotifyEvent({ ...jobFinished, status: "running" }), false);
    assert.equal(isNotifyEvent({ ...jobFinished, failed: [{ channel: "x" }] }), false);
  });
});
