import type { Command } from "commander";
import { loadConfig } from "../../core/index.js";
import { printJson } from "../output.js";

export function register(program: Command): void {
  program
    .command("config")
    .description("configuration")
    .command("print")
    .description(
      "print the effective configuration: defaults, then --config file, then GAMEDOCK_* env",
    )
    .option("--config <file>", "JSON config file")
    .action(async (opts: { config?: string }) => {
      printJson(await loadConfig({ file: opts.config }));
    });
}
