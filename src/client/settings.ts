/**
 * The client's options with their defaults filled in and checked once, so a
 * typo (a negative timeout, an unknown mode) fails at connect() with a
 * message instead of behaving oddly an hour later.
 */
import { CLIENT_ERRORS, GamedockClientError } from "./errors.js";
import type { ClientOptions, WhileDisconnected } from "./types.js";

export interface Settings {
  whileDisconnected: WhileDisconnected;
  /** ms; above the gateway's handlerTimeoutMs (10 s by default), so its E_TIMEOUT comes first. */
  requestTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  reconnect: boolean;
  connectTimeoutMs: number;
}

export const DEFAULT_SETTINGS: Settings = {
  whileDisconnected: "queue",
  requestTimeoutMs: 15_000, // ms
  reconnectMinMs: 250, // ms
  reconnectMaxMs: 10_000, // ms
  reconnect: true,
  connectTimeoutMs: 10_000, // ms, socket opened → welcome
};

function positive(name: keyof ClientOptions, value: number, allowInfinity = false): number {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new GamedockClientError(CLIENT_ERRORS.invalid, `${name} must be a positive number of ms`);
  }
  if (!allowInfinity && !Number.isFinite(value)) {
    throw new GamedockClientError(CLIENT_ERRORS.invalid, `${name} must be finite`);
  }
  return value;
}

export function settingsFrom(options: ClientOptions): Settings {
  const d = DEFAULT_SETTINGS;
  const whileDisconnected = options.whileDisconnected ?? d.whileDisconnected;
  if (whileDisconnected !== "queue" && whileDisconnected !== "fail") {
    throw new GamedockClientError(
      CLIENT_ERRORS.invalid,
      `whileDisconnected is "queue" or "fail", not ${JSON.stringify(whileDisconnected)}`,
    );
  }
  const reconnectMinMs = positive("reconnectMinMs", options.reconnectMinMs ?? d.reconnectMinMs);
  const reconnectMaxMs = positive("reconnectMaxMs", options.reconnectMaxMs ?? d.reconnectMaxMs);
  if (reconnectMaxMs < reconnectMinMs) {
    throw new GamedockClientError(
      CLIENT_ERRORS.invalid,
      `reconnectMaxMs (${reconnectMaxMs}) is below reconnectMinMs (${reconnectMinMs})`,
    );
  }
  return {
    whileDisconnected,
    requestTimeoutMs: positive(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? d.requestTimeoutMs,
      true,
    ),
    reconnectMinMs,
    reconnectMaxMs,
    reconnect: options.reconnect ?? d.reconnect,
    connectTimeoutMs: positive("connectTimeoutMs", options.connectTimeoutMs ?? d.connectTimeoutMs),
  };
}
