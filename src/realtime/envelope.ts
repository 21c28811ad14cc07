/**
 * What travels on the bus between gateways and logic workers, msgpack-encoded:
 * a request with the head the gateway completed, and, back to a gateway, a
 * reply for one connection (pushes join it in a later step).
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

export type GatewayEnvelope = ReplyEnvelope;

export const encodeEnvelope = (envelope: RequestEnvelope | GatewayEnvelope): Buffer =>
  pack(envelope);

export function decodeRequest(payload: Buffer): RequestEnvelope {
  return unpack(payload) as RequestEnvelope;
}

export function decodeGatewayEnvelope(payload: Buffer): GatewayEnvelope {
  return unpack(payload) as GatewayEnvelope;
}
