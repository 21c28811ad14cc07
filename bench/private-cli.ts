/**
 * The gamedock CLI for a bench: `src/` compiled by tsc into a private copy
 * under bench/.cache/<name> (a concurrent `npm run build` cannot pull it
 * away), with what the compiled code reads beside its dist/ —
 * package.json (the version, and "type": "module" for the copy) and
 * samples/ (serve's default handler module) — started with the `gamedock`
 * binary's node flags. When tsc fails (src/ is being edited), the sources
 * through tsx instead, said in the label.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { binaryNodeFlags } from "./binary-flags.js";

export const ROOT = resolve(import.meta.dirname, "..");

export interface BenchCli {
  /**
   * node's arguments up to the command: the binary's flags for every
   * command but the realtime roles (bin/gamedock), then main.js (or tsx and
   * main.ts).
   */
  cli: string[];
  /** The same without the flags: put `binaryNodeFlags(command)` in front. */
  main: string[];
  /** The copy's directory (bench/.cache/<name>). */
  dir: string;
  label: string;
}

export function privateCli(name: string): BenchCli {
  const dir = join(ROOT, "bench/.cache", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  cpSync(join(ROOT, "samples"), join(dir, "samples"), { recursive: true });
  try {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    execFileSync(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--outDir", join(dir, "dist")],
      { cwd: ROOT, stdio: "pipe" },
    );
    const main = [join(dir, "dist/cli/main.js")];
    return {
      cli: [...binaryNodeFlags("serve"), ...main],
      main,
      dir,
      label: "compiled (tsc) private copy",
    };
  } catch (err) {
    const why = String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 500);
    process.stderr.write(`tsc failed; running src/cli/main.ts through tsx instead: ${why}\n`);
    const main = ["--import", "tsx", join(ROOT, "src/cli/main.ts")];
    return {
      cli: [...binaryNodeFlags("serve"), ...main],
      main,
      dir,
      label: "sources through tsx (tsc failed: src/ is being edited)",
    };
  }
}
