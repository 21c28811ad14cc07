/**
 * `POST /api/v1/push {to, msgId, body, persist?}` for other backends (the
 * design note's push and notice processes). `to` is `{uid}`, `{uids: […]}`,
 * `{group}` or `{all: true}`. Answers 200 `{gateways, offsets,
 * broadcastOffset?, groupOffset?}`;
 * bad input is 400 E_INVALID_REQUEST naming the field. Off loopback the
 * server's API tokens protect it like every /api route.
 */
import type { FastifyInstance } from "fastify";
import { GamedockError } from "../core/index.js";
import { checkName } from "./names.js";
import { MAX_PUSH_UIDS, type Pusher, type PushTarget } from "./push.js";

function bad(message: string): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", message);
}

const TO_SHAPES = 'to must be {"uid": …}, {"uids": […]}, {"group": …} or {"all": true}';

function target(to: unknown): PushTarget {
  if (typeof to !== "object" || to === null || Array.isArray(to)) {
    throw bad(TO_SHAPES);
  }
  const keys = Object.keys(to);
  if (keys.length !== 1)
    throw bad(`to names one of uid, uids, group, all; got ${JSON.stringify(keys)}`);
  const t = to as { uid?: unknown; uids?: unknown; group?: unknown; all?: unknown };
  if ("uid" in t) return { uid: checkName(t.uid, "to.uid") };
  if ("uids" in t) {
    if (!Array.isArray(t.uids) || t.uids.length === 0 || t.uids.length > MAX_PUSH_UIDS) {
      throw bad(`to.uids must be a list of 1-${MAX_PUSH_UIDS} uids`);
    }
    return { uids: t.uids.map((uid, i) => checkName(uid, `to.uids[${i}]`)) };
  }
  if (t.all === true) return { all: true };
  if ("group" in t) return { group: checkName(t.group, "to.group") };
  throw bad(TO_SHAPES);
}

export function registerPushRoute(app: FastifyInstance, pusher: Pusher): void {
  app.post("/api/v1/push", async (request) => {
    const payload = request.body as Record<string, unknown> | null;
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      throw bad("the body must be a JSON object {to, msgId, body, persist?}");
    }
    const unknown = Object.keys(payload).filter(
      (k) => !["to", "msgId", "body", "persist"].includes(k),
    );
    if (unknown.length > 0)
      throw bad(`unknown field ${unknown[0]!}: a push is {to, msgId, body, persist?}`);
    if (payload.persist !== undefined && typeof payload.persist !== "boolean") {
      throw bad("persist must be true or false");
    }
    if (!("body" in payload)) throw bad("body is missing (null is a body)");
    return pusher.push(target(payload.to), payload.msgId as number, payload.body, {
      persist: payload.persist ?? true,
    });
  });
}
