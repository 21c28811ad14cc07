/**
 * What a WebSocket close code means for the client (docs/realtime.md): most
 * mean "reconnect" (the network, 1012 a gateway stopping, 1013 one full or
 * the client too slow, 4429), a few mean "stop for good", since retrying
 * could only fail the same way.
 */
import type { ClosedInfo } from "./types.js";

export const CLOSE = {
  normal: 1000,
  /** No close frame: the network dropped, the handshake failed, or the client gave up. */
  abnormal: 1006,
  /** A frame over the gateway's maxFrameBytes. */
  tooBig: 1009,
  unauthorized: 4401,
  kicked: 4403,
} as const;

/** Why the client stops after this close, or null when it reconnects. */
export function finalReason(
  code: number,
  reason: string,
  can: { renewToken: boolean; reconnect: boolean },
): ClosedInfo | null {
  const said = reason ? `: ${reason}` : "";
  if (code === CLOSE.kicked) {
    return {
      code: "E_KICKED",
      message: `the gateway kicked the connection${said}`,
      closeCode: code,
    };
  }
  if (code === CLOSE.unauthorized && !can.renewToken) {
    return {
      code: "E_UNAUTHORIZED",
      message: `the gateway refused the token${said} (give getToken to replace it)`,
      closeCode: code,
    };
  }
  if (!can.reconnect) {
    return {
      code: "E_CLOSED",
      message: `the connection closed with ${code}${said}`,
      closeCode: code,
    };
  }
  return null;
}

/**
 * Whether idempotent requests in flight may be resent after this close.
 * Not after 1009: the frame that was too big is among them, and would close
 * the next connection too.
 */
export const mayResend = (code: number): boolean => code !== CLOSE.tooBig;
