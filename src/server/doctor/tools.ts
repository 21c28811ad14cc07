/**
 * Debian's Android tools. gamedock itself does not run them; they are how a
 * user checks its output (`apksigner verify`, `aapt dump badging`) and what
 * the test suite verifies every child with. Missing is a warning, not a failure.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { Check } from "./check.js";

export const TOOLS = ["apksigner", "aapt", "zipalign"] as const;

async function findOnPath(command: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

export async function checkTool(tool: (typeof TOOLS)[number]): Promise<Check> {
  const name = `tool ${tool}`;
  const found = await findOnPath(tool);
  if (found) return { name, ok: true, detail: found, optional: true };
  return {
    name,
    ok: false,
    optional: true,
    detail: `${tool} is not on PATH (optional: for verifying children yourself)`,
    fix: `apt-get install ${TOOLS.join(" ")}`,
  };
}
