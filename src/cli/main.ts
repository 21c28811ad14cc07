#!/usr/bin/env node
/**
 * The `gamedock` binary: one file per command under commands/, wired here.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { register as registerApk } from "./commands/apk-info.js";
import { register as registerChannel } from "./commands/channel.js";
import { register as registerConfig } from "./commands/config.js";
import { register as registerFiles } from "./commands/files.js";
import { register as registerPack } from "./commands/pack.js";
import { register as registerServe } from "./commands/serve.js";
import { reportError } from "./output.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("gamedock")
    .description(
      "gamedock: signature-safe APK channel packaging and backend services for mobile games.\n" +
        "Exit codes: 0 ok, 1 unexpected failure, 2 usage error, 3 bad input, 4 not found.",
    )
    .version(version())
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  registerApk(program);
  registerChannel(program);
  registerPack(program);
  registerServe(program);
  registerFiles(program);
  registerConfig(program);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeErr: () => undefined });
    for (const sub of command.commands)
      sub.exitOverride().configureOutput({ writeErr: () => undefined });
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // --help and --version end through exitOverride with exit code 0.
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    if (err instanceof CommanderError && err.code === "commander.help") return 0;
    return reportError(err, json);
  }
}

process.exitCode = await main(process.argv);
