/** Helpers for the bus tests: polling, and a consumer process that takes entries and is killed. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { BusConfig } from "../../src/bus/index.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/take-and-hold.ts", import.meta.url));

export { sleep, waitFor } from "../helpers/wait.js";

/**
 * Runs take-and-hold.ts: resolves once the child holds `count` entries
 * unacknowledged, with their ids; then SIGKILLs it and waits for its exit.
 */
export async function takeInChildAndKill(
  config: BusConfig,
  stream: string,
  group: string,
  consumer: string,
  count: number,
): Promise<string[]> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", FIXTURE, JSON.stringify(config), stream, group, consumer, String(count)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  try {
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) return JSON.parse(line) as string[];
    throw new Error("the consumer process exited before it held its entries");
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}
