/**
 * The realtime wire protocol (DESIGN "Realtime protocol"): frames are
 * `[head, body]`, JSON text frames on `gamedock.json.v1` (the default) or
 * msgpack binary frames on `gamedock.msgpack.v1`.
 *
 * Client → server head `{msgId, seq}`; reply head `{msgId, seq, code}` with
 * code 0 or an error code (body `{message}`); push head `{msgId, push: true,
 * offset?}`. msgIds below 1000 are the protocol's own.
 */
import { pack, unpack } from "msgpackr";

export const PROTOCOL_MSG = {
  /** Server → client on connect: who the connection is. */
  welcome: 1,
  /** Client → server: a fresh token for a long-lived connection. */
  tokenRefresh: 2,
  /** Server → client: a frame that could not be answered by seq was refused. */
  error: 3,
  /** Server → client: the uid joined or left application groups. */
  membership: 4,
} as const;

/** msgIds below this are the protocol's; applications start here. */
export const FIRST_APP_MSG_ID = 1000;
export const MAX_MSG_ID = 2 ** 31 - 1;
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export const SUBPROTOCOLS = ["gamedock.json.v1", "gamedock.msgpack.v1"] as const;
export type Subprotocol = (typeof SUBPROTOCOLS)[number];

export interface ClientHead {
  msgId: number;
  seq: number;
}

export interface ReplyHead {
  msgId: number;
  seq: number;
  code: 0 | string;
}

export interface PushHead {
  msgId: number;
  push: true;
  offset?: number;
}

export type Frame = [head: object, body: unknown];

/** Close codes the gateway uses (RFC 6455 and the 4000–4999 private range). */
export const CLOSE = {
  /** Shutting down: reconnect elsewhere. */
  restart: 1012,
  /** A frame larger than maxFrameBytes. */
  tooBig: 1009,
  /** The client does not read fast enough. */
  tryAgainLater: 1013,
  /** Token missing, bad or expired. */
  unauthorized: 4401,
  /** Kicked by an operator. */
  kicked: 4403,
  /** Too many messages. */
  rateLimited: 4429,
} as const;

export interface Codec {
  readonly subprotocol: Subprotocol;
  /** Whether frames go as binary (msgpack) rather than text (JSON). */
  readonly binary: boolean;
  encode(frame: Frame): string | Buffer;
  /** Throws on bytes that are not the codec's format. */
  decode(data: Buffer, isBinary: boolean): unknown;
}

const jsonCodec: Codec = {
  subprotocol: "gamedock.json.v1",
  binary: false,
  encode: (frame) => JSON.stringify(frame),
  decode(data, isBinary) {
    if (isBinary) throw new Error("gamedock.json.v1 takes text frames");
    return JSON.parse(data.toString("utf8")) as unknown;
  },
};

const msgpackCodec: Codec = {
  subprotocol: "gamedock.msgpack.v1",
  binary: true,
  encode: (frame) => pack(frame),
  decode(data, isBinary) {
    if (!isBinary) throw new Error("gamedock.msgpack.v1 takes binary frames");
    return unpack(data) as unknown;
  },
};

export function codecFor(subprotocol: string | undefined): Codec {
  return subprotocol === "gamedock.msgpack.v1" ? msgpackCodec : jsonCodec;
}

/** What a client frame turned out to be: a request to route, or why it is refused. */
export type ParsedFrame =
  | { kind: "request"; head: ClientHead; body: unknown }
  | { kind: "tokenRefresh"; head: ClientHead; token: string }
  | { kind: "invalid"; seq?: number; msgId?: number; message: string };

const isWhole = (v: unknown, min: number, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;

/** Checks a decoded client frame: `[head, body]`, head `{msgId, seq}` with whole numbers. */
export function parseClientFrame(decoded: unknown): ParsedFrame {
  if (!Array.isArray(decoded) || decoded.length !== 2) {
    return { kind: "invalid", message: "a frame is a JSON array [head, body]" };
  }
  const [head, body] = decoded as [unknown, unknown];
  if (typeof head !== "object" || head === null || Array.isArray(head)) {
    return { kind: "invalid", message: "the head (frame[0]) must be an object {msgId, seq}" };
  }
  const { msgId, seq } = head as { msgId?: unknown; seq?: unknown };
  const knownSeq = isWhole(seq, 0, MAX_SEQ) ? seq : undefined;
  if (knownSeq === undefined) {
    return { kind: "invalid", message: `head.seq must be a whole number 0..${MAX_SEQ}` };
  }
  if (!isWhole(msgId, 0, MAX_MSG_ID)) {
    return {
      kind: "invalid",
      seq: knownSeq,
      message: `head.msgId must be a whole number ${FIRST_APP_MSG_ID}..${MAX_MSG_ID}`,
    };
  }
  if (msgId === PROTOCOL_MSG.tokenRefresh) {
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== "string" || token.length === 0) {
      return { kind: "invalid", seq: knownSeq, msgId, message: "token refresh body is {token}" };
    }
    return { kind: "tokenRefresh", head: { msgId, seq: knownSeq }, token };
  }
  if (msgId < FIRST_APP_MSG_ID) {
    return {
      kind: "invalid",
      seq: knownSeq,
      msgId,
      message: `msgId ${msgId} is reserved for the protocol (applications use ${FIRST_APP_MSG_ID} and up)`,
    };
  }
  return { kind: "request", head: { msgId, seq: knownSeq }, body };
}
