#!/usr/bin/env node
/**
 * The `gamedock` binary: one file per command under commands/, wired here.
 *
 * The installed binary is bin/gamedock, which starts Node on this file with
 * V8's young generation sized for the command (it says why);
 * `node dist/cli/main.js` runs without that: add the flag by hand.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { register as registerApk } from "./commands/apk-info.js";
import { register as registerChannel } from "./commands/channel.js";
import { register as registerConfig } from "./commands/config.js";
import { register as registerDoctor } from "./commands/doctor.js";
import { register as registerExecutor } from "./commands/executor.js";
import { register as registerFiles } from "./commands/files.js";
import { register as registerGateway } from "./commands/gateway.js";
import { register as registerGuess } from "./commands/guess.js";
import { register as registerLogic } from "./commands/logic.js";
import { register as registerPack } from "./commands/pack.js";
import { register as registerServe } from "./commands/serve.js";
import { register as registerTask } from "./commands/task.js";
import { register as registerToken } from "./commands/token.js";
import { EXIT } from "../core/index.js";
import { reportError } from "./output.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** `gamedock channel put`: the words that name a command, for "see '... --help'". */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Every command throws instead of exiting, and prints no error text of its
 * own: reportError prints the one line of the CLI contract. Help still goes
 * to stdout (or stderr when it is shown because a subcommand is missing).
 * `onEnter` learns which command is being parsed, so that a usage error can
 * point at that command's help.
 */
function configure(command: Command, onEnter: (command: Command) => void): void {
  command
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .showHelpAfterError(false);
  if (command.commands.length > 0) {
    command.hook("preSubcommand", (_parent, sub) => {
      onEnter(sub);
    });
  }
  for (const sub of command.commands) configure(sub, onEnter);
}

export function buildProgram(onEnter: (command: Command) => void = () => undefined): Command {
  const program = new Command("gamedock")
    .description(
      "Signature-safe APK channel packaging and backend services for mobile games.\n" +
        "Exit codes: 0 ok, 1 unexpected failure, 2 usage error, 3 bad input, 4 not found.",
    )
    .version(version())
    .addHelpText("after", "\nRun 'gamedock <command> --help' for a command's options.");
  registerApk(program);
  registerChannel(program);
  registerPack(program);
  registerServe(program);
  registerFiles(program);
  registerConfig(program);
  registerDoctor(program);
  registerTask(program);
  registerToken(program);
  registerGateway(program);
  registerLogic(program);
  registerExecutor(program);
  registerGuess(program);
  configure(program, onEnter);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  let current: Command | null = null;
  const program = buildProgram((command) => {
    current = command;
  });
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version: done.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
      // A command that needs a subcommand got none: its help went to stderr.
      if (err.code === "commander.help") return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(err, json, commandPath(current ?? program));
  }
}

process.exitCode = await main(process.argv);
