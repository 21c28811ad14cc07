/**
 * The node flags the `gamedock` binary (bin/gamedock, a shell script) starts
 * a command with: the benches start the CLI as `node <flags> main.js
 * <command>`, so they measure the processes users run.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const BIN = join(resolve(import.meta.dirname, ".."), "bin/gamedock");

/** The flags for `command`, read off the script's `case` lines (`a | b) young=N ;;`). */
export function binaryNodeFlags(command: string): string[] {
  for (const line of readFileSync(BIN, "utf8").split("\n")) {
    const match = /^\s*([\w*| -]+)\)\s*young=(\d+)\s*;;/.exec(line);
    if (!match) continue;
    const patterns = match[1]!.split("|").map((p) => p.trim());
    if (patterns.includes(command) || patterns.includes("*")) {
      return [`--max-semi-space-size=${match[2]}`];
    }
  }
  throw new Error(`bin/gamedock has no young-generation size for "${command}"`);
}
