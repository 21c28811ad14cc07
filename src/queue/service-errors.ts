/**
 * Errors the drivers raise about their configuration and their servers. A URL
 * appears in messages and logs without its password.
 */
import { GamedockError, redactUrl, serviceUnavailable, withTimeout } from "../core/index.js";

export { redactUrl, serviceUnavailable, withTimeout };

export function configError(message: string): GamedockError {
  return new GamedockError("E_CONFIG", message);
}
