/**
 * Parsers for flag values. A bad value is a usage error that names the flag
 * the user typed — never the config key or environment variable the flag is
 * later turned into, which the user did not write.
 */
import { GamedockError } from "../core/index.js";

function usage(message: string): GamedockError {
  return new GamedockError("E_USAGE", message);
}

/** A whole number from `min` to `max`, written in decimal digits. */
export function integerFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const text = value.trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      throw usage(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export const portFlag = integerFlag("--port", 0, 65535);

/**
 * A host name or address to bind. An IPv6 address may come in brackets, the
 * way it is written in URLs ("[::1]"): the brackets are removed here, and the
 * printed URL puts them back.
 */
export function hostFlag(value: string): string {
  const text = value.trim();
  const bare = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  if (bare === "" || /[\s[\]/]/.test(bare)) {
    throw usage(
      `--host must be a host name or an IP address (IPv6 with or without brackets), not ${JSON.stringify(value)}`,
    );
  }
  return bare;
}

/** A value that must not be empty (a path, a file name). */
export function nonEmptyFlag(flag: string): (value: string) => string {
  return (value) => {
    if (value.trim() === "") throw usage(`${flag} needs a value, not an empty string`);
    return value;
  };
}

/** --group: a realtime logic group name (1-64 of A-Z a-z 0-9 _ . -). */
export function groupFlag(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new GamedockError(
      "E_USAGE",
      `--group takes 1-64 of A-Z a-z 0-9 _ . -, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}
