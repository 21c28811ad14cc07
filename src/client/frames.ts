/**
 * The wire format on `gamedock.json.v1`: frames are JSON `[head, body]`.
 * Written against docs/realtime.md, not imported from the server side, so
 * the browser bundle carries none of the server's code (msgpack included).
 */
import type { Membership, PushHead, StreamPosition, Welcome } from "./types.js";

export const SUBPROTOCOL = "gamedock.json.v1";

/** msgIds below 1000 are the protocol's own. */
export const MSG = {
  welcome: 1,
  tokenRefresh: 2,
  error: 3,
  membership: 4,
} as const;

export const FIRST_APP_MSG_ID = 1000;
const MAX_MSG_ID = 2 ** 31 - 1;

export const isAppMsgId = (msgId: unknown): msgId is number =>
  typeof msgId === "number" &&
  Number.isInteger(msgId) &&
  msgId >= FIRST_APP_MSG_ID &&
  msgId <= MAX_MSG_ID;

/** What one server frame is. */
export type ServerFrame =
  | { kind: "reply"; msgId: number; seq: number; code: 0 | string; body: unknown }
  | { kind: "push"; head: PushHead; body: unknown }
  | { kind: "error"; code: string; body: unknown }
  | { kind: "invalid"; message: string };

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function decodeServerFrame(data: unknown): ServerFrame {
  if (typeof data !== "string") {
    return { kind: "invalid", message: "a binary frame on gamedock.json.v1 (text frames only)" };
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(data);
  } catch {
    return { kind: "invalid", message: "a frame that is not JSON" };
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || !isObject(decoded[0])) {
    return { kind: "invalid", message: "a frame that is not [head, body]" };
  }
  const head = decoded[0];
  const body: unknown = decoded[1];
  if (typeof head.msgId !== "number") return { kind: "invalid", message: "a head without msgId" };
  if (head.push === true) {
    if (head.msgId === MSG.error) {
      return { kind: "error", code: typeof head.code === "string" ? head.code : "E_UNKNOWN", body };
    }
    return { kind: "push", head: head as unknown as PushHead, body };
  }
  if (typeof head.seq === "number" && (head.code === 0 || typeof head.code === "string")) {
    return { kind: "reply", msgId: head.msgId, seq: head.seq, code: head.code, body };
  }
  return { kind: "invalid", message: "a head that is neither a reply nor a push" };
}

/** Throws (TypeError) when JSON cannot carry the body: a cycle, a BigInt. */
export function encodeRequest(msgId: number, seq: number, body: unknown): string {
  return JSON.stringify([{ msgId, seq }, body === undefined ? null : body]);
}

const isPosition = (v: unknown): v is StreamPosition =>
  isObject(v) && typeof v.epoch === "string" && typeof v.offset === "number";

/** `{name: {epoch, offset}}` with the malformed entries left out. */
function positions(v: unknown): Record<string, StreamPosition> {
  const out: Record<string, StreamPosition> = {};
  if (!isObject(v)) return out;
  for (const [name, p] of Object.entries(v)) {
    if (isPosition(p)) out[name] = { epoch: p.epoch, offset: p.offset };
  }
  return out;
}

/** The welcome's body, or null when it lacks what resuming needs. */
export function parseWelcome(body: unknown): Welcome | null {
  if (!isObject(body)) return null;
  const { uid, epoch, offset, allEpoch, allOffset } = body;
  if (
    typeof uid !== "string" ||
    typeof epoch !== "string" ||
    typeof offset !== "number" ||
    typeof allEpoch !== "string" ||
    typeof allOffset !== "number"
  ) {
    return null;
  }
  const text = (v: unknown): string => (typeof v === "string" ? v : "");
  return {
    uid,
    group: text(body.group),
    connId: text(body.connId),
    gatewayId: text(body.gatewayId),
    epoch,
    offset,
    allEpoch,
    allOffset,
    ...(body.groups === undefined ? {} : { groups: positions(body.groups) }),
    recovered: body.recovered !== false,
  };
}

export function parseMembership(body: unknown): Membership | null {
  if (!isObject(body)) return null;
  const left = Array.isArray(body.left)
    ? body.left.filter((n): n is string => typeof n === "string")
    : [];
  return { joined: positions(body.joined), left };
}
