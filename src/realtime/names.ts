/**
 * Names the realtime runtime checks and derives: uids and application
 * group names from callers, and the presence entries it keeps besides
 * users' (no uid can take them: uids have no control characters).
 */
import { GamedockError, textProblem } from "../core/index.js";

/** Presence: the live gateways (member: gatewayId). */
export const GATEWAYS_PRESENCE = "\u0000gateways";
/** Presence: the gateways holding members of an application group. */
export const groupPresence = (group: string): string => `\u0000group:${group}`;
/** Presence: the live logic workers of a logic group (member: consumer name). */
export const logicPresence = (group: string): string => `\u0000logic:${group}`;

export const MAX_NAME_LENGTH = 128;

/** A uid or group name from a caller: 1-128 characters, no control or bidi characters. */
export function checkName(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field} must be a string of 1-${MAX_NAME_LENGTH} characters`,
    );
  }
  const problem = textProblem(value);
  if (problem) throw new GamedockError("E_INVALID_REQUEST", `${field} ${problem}`);
  return value;
}
