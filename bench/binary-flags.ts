/**
 * The node flags the `gamedock` binary starts with (its shebang line,
 * src/cli/main.ts says why). The benches start the CLI as `node <flags>
 * main.js`, so they measure the processes users run.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const MAIN = join(resolve(import.meta.dirname, ".."), "src/cli/main.ts");

export function binaryNodeFlags(): string[] {
  const shebang = readFileSync(MAIN, "utf8").split("\n", 1)[0] ?? "";
  const match = /^#!\/usr\/bin\/env -S node\b(.*)$/.exec(shebang);
  return match?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}
