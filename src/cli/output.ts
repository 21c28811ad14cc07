/**
 * How commands talk: results on stdout (one JSON document with --json), errors
 * on stderr as `gamedock: <CODE>: <message>` or `{"error":{...}}`, and the exit
 * code from the error registry.
 */
import { CommanderError } from "commander";
import { EXIT, GamedockError, isGamedockError } from "../core/index.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "1 channel", "3 channels". */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function toGamedockError(err: unknown): GamedockError {
  if (isGamedockError(err)) return err;
  if (err instanceof CommanderError)
    return new GamedockError("E_USAGE", err.message.replace(/^error: /, ""));
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return new GamedockError("E_INTERNAL", message);
}

/**
 * Prints the error the way the user asked for and returns the exit code. A
 * usage error points at the help of the command it happened in
 * (`command`: "gamedock pack").
 */
export function reportError(err: unknown, json: boolean, command = "gamedock"): number {
  let error = toGamedockError(err);
  if (error.code === "E_USAGE") {
    error = new GamedockError(
      "E_USAGE",
      `${error.message}; see '${command} --help'`,
      error.details,
    );
  }
  if (json) process.stderr.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
  else process.stderr.write(`gamedock: ${error.code}: ${error.message}\n`);
  return error.exitCode === EXIT.ok ? EXIT.unexpected : error.exitCode;
}

/** Collects repeated `-e key=value` options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
