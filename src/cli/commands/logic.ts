/**
 * `gamedock logic --group G --handlers ./handlers.js`: a logic worker on a
 * Redis bus — takes its group's requests from the gateways, runs the
 * handlers, replies (docs/realtime.md).
 */
import type { Command } from "commander";
import { groupFlag, integerFlag, nonEmptyFlag } from "../flags.js";
import { collect } from "../output.js";
import { configFlags, runUntilSignal, type ProcessOptions } from "./serve.js";

interface LogicOptions extends ProcessOptions {
  group?: string;
  handlers?: string[];
  concurrency?: number;
}

export function register(program: Command): void {
  configFlags(
    program
      .command("logic")
      .summary("run a realtime logic worker (handler modules) on a Redis bus")
      .description(
        "Run a logic worker: it reads its group's requests from the bus, calls the handler of each msgId and replies; see docs/realtime.md.\n" +
          'Needs realtime.bus = {"driver": "redis", "url": …}. Several workers of one group share its requests; one that dies has its requests taken over after realtime.claimIdleMs.',
      )
      .option("--group <group>", "the logic group (default: realtime.defaultGroup)", groupFlag)
      .option(
        "--handlers <path>",
        "a handler module (repeatable; default: realtime.handlers, else samples/handlers.js)",
        (value: string, previous?: string[]) =>
          collect(nonEmptyFlag("--handlers")(value), previous),
      )
      .option(
        "--concurrency <n>",
        "requests handled at once (default: realtime.concurrency, 16)",
        integerFlag("--concurrency", 1, 10_000),
      ),
  ).action(async (opts: LogicOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startLogicProcess } = await import("../../server/index.js");
      const worker = await startLogicProcess(config, logger, lifecycle, {
        ...(opts.group === undefined ? {} : { group: opts.group }),
        ...(opts.handlers === undefined ? {} : { handlers: opts.handlers }),
        ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
      });
      return `gamedock logic: handling group ${worker.group} (Ctrl-C stops)`;
    });
  });
}
