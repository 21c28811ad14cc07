/** `gamedock config print`: the effective configuration, as JSON. */
import type { Command } from "commander";
import { loadConfig } from "../../core/index.js";
import { printJson } from "../output.js";

export function register(program: Command): void {
  program
    .command("config")
    .summary("show the configuration")
    .description("Show the configuration; see docs/configuration.md.")
    .command("print")
    .summary("print the effective configuration as JSON")
    .description(
      "Print the effective configuration as JSON: the defaults, overridden by the --config file, overridden by GAMEDOCK_* environment variables.",
    )
    .option("--config <file>", "JSON config file")
    .action(async (opts: { config?: string }) => {
      printJson(await loadConfig({ file: opts.config }));
    });
}
