/**
 * `gamedock files`: the file service alone — /files (PUT, Range downloads,
 * signed URLs, tus) and /healthz — for running several instances behind
 * nginx on a shared database and store. Same flags and config as `serve`.
 */
import type { Command } from "commander";
import { common, runUntilSignal, type ProcessOptions } from "./serve.js";

export function register(program: Command): void {
  common(
    program
      .command("files")
      .description(
        "run only the file service (/files and /healthz; see docs/files.md). Several instances may\n" +
          "share the database, the files target and (for tus locks) Redis behind a load balancer.",
      )
      .option("--host <host>", "address to bind; anything but loopback needs server.tokens")
      .option("--port <port>", "TCP port (0 picks a free one)"),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startFiles } = await import("../../server/index.js");
      const server = await startFiles(config, logger, lifecycle);
      return `gamedock files: listening on ${server.url} (data: ${server.data}; Ctrl-C stops)`;
    });
  });
}
