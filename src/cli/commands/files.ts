/**
 * `gamedock files`: the file service alone — /files (PUT, Range downloads,
 * signed URLs, tus) and /healthz — for running several instances behind
 * nginx on a shared database and store. Same flags and config as `serve`.
 */
import type { Command } from "commander";
import { configFlags, listenFlags, runUntilSignal, type ProcessOptions } from "./serve.js";

export function register(program: Command): void {
  configFlags(
    listenFlags(
      program
        .command("files")
        .summary("run only the file service (/files and /healthz)")
        .description(
          "Run only the file service: /files (uploads, Range downloads, signed URLs, tus) and /healthz; see docs/files.md.\n" +
            "Several instances may share the database, the files target and (for tus locks) Redis behind a load balancer.",
        ),
    ),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      // Only the file service's modules: server/index.js would load serve's whole graph.
      const { startFiles } = await import("../../server/files.js");
      const server = await startFiles(config, logger, lifecycle);
      return `gamedock files: listening on ${server.url} (data: ${server.data}; Ctrl-C stops)`;
    });
  });
}
