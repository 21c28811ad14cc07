/**
 * What travels on the bus between gateways and logic workers, msgpack-encoded:
 * a request with the head the gateway completed, and, back to a gateway, a
 * reply for one connection or a push for its connections; and what a
 * history keeps of a push.
 */
import { pack, unpack } from "msgpackr";
import type { ReplyHead } from "./protocol.js";

/** The client's head completed by the gateway (DESIGN: uid, connId, gatewayId, ip, ts). */
export interface RequestHead {
  msgId: number;
  seq: number;
  uid: string;
  connId: string;
  gatewayId: string;
  ip: string;
  /** When the gateway received it, ms since the epoch. */
  ts: number;
}

export interface RequestEnvelope {
  head: RequestHead;
  body: unknown;
}

export interface ReplyEnvelope {
  kind: "reply";
  connId: string;
  head: ReplyHead;
  body: unknown;
}

/**
 * A push for this gateway's connections. `stream: "user"` names the target
 * uids with, when persisted, the offset the push got in each one's history;
 * `"all"` is for every connection, with the broadcast history's offset;
 * `"group"` for the members of an application group, with its history's.
 */
export type PushEnvelope =
  | {
      kind: "push";
      stream: "user";
      targets: { uid: string; offset?: number }[];
      msgId: number;
      body: unknown;
    }
  | { kind: "push"; stream: "all"; offset?: number; msgId: number; body: unknown }
  | { kind: "push"; stream: "group"; group: string; offset?: number; msgId: number; body: unknown };

/**
 * A uid joined or left an application group while its connections may be
 * open here. A join carries the group history's position at the join: the
 * gateway replays from it (what was pushed before is not the member's).
 */
export interface MembershipEnvelope {
  kind: "membership";
  uid: string;
  group: string;
  joined: boolean;
  position?: { epoch: string; offset: number };
}

/** An operator's kick: the uid's connections here are closed with 4403. */
export interface KickEnvelope {
  kind: "kick";
  uid: string;
  reason: string;
}

export type GatewayEnvelope = ReplyEnvelope | PushEnvelope | MembershipEnvelope | KickEnvelope;

/** What a history keeps of a push: enough to send it again. */
export interface HistoryRecord {
  msgId: number;
  body: unknown;
}

export const encodeHistoryEntry = (record: HistoryRecord): Buffer => pack(record);

export function decodeHistoryEntry(payload: Buffer): HistoryRecord {
  return unpack(payload) as HistoryRecord;
}

export const encodeEnvelope = (envelope: RequestEnvelope | GatewayEnvelope): Buffer =>
  pack(envelope);

export function decodeRequest(payload: Buffer): RequestEnvelope {
  return unpack(payload) as RequestEnvelope;
}

export function decodeGatewayEnvelope(payload: Buffer): GatewayEnvelope {
  return unpack(payload) as GatewayEnvelope;
}
