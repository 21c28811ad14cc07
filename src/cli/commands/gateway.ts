/**
 * `gamedock gateway`: the WebSocket gateway alone — /ws and /healthz — over
 * a Redis bus, for running several gateways in front of `gamedock logic`
 * workers (docs/realtime.md). Same flags and config as `serve`.
 */
import type { Command } from "commander";
import { configFlags, listenFlags, runUntilSignal, type ProcessOptions } from "./serve.js";

export function register(program: Command): void {
  configFlags(
    listenFlags(
      program
        .command("gateway")
        .summary("run only the realtime gateway (/ws and /healthz) on a Redis bus")
        .description(
          "Run only the realtime WebSocket gateway: /ws and /healthz; see docs/realtime.md.\n" +
            'Needs realtime.bus = {"driver": "redis", "url": …}: requests go to the logic workers (gamedock logic) through Redis Streams.',
        ),
    ),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startGatewayProcess } = await import("../../server/index.js");
      const gateway = await startGatewayProcess(config, logger, lifecycle);
      return `gamedock gateway: listening on ${gateway.url} (/ws; Ctrl-C stops)`;
    });
  });
}
