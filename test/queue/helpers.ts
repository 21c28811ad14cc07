/**
 * Helpers for the queue tests: polling for a condition, a logger that keeps
 * what the drivers log, and a worker process (fixtures/hold-message.ts) that
 * takes a message and holds it until killed.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { OpenQueueOptions, QueueBackendConfig, QueueLogger } from "../../src/queue/index.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/hold-message.ts", import.meta.url));

import { PATIENCE_MS } from "../helpers/wait.js";

export { sleep, waitFor } from "../helpers/wait.js";

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

/** A QueueLogger that keeps every line, so a test can wait for what a user would read. */
export function captureLogger(): { logger: QueueLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine["level"]) =>
    (fields: object, msg: string): void => {
      lines.push({ level, msg, fields: { ...fields } });
    };
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

export interface Held {
  id: string;
  payload: unknown;
  attempt: number;
}

/** Starts the hold-message child; resolves with what it holds and a way to kill it. */
export async function holdInChild(
  driver: { config: QueueBackendConfig; options?: OpenQueueOptions },
  queueName: string,
): Promise<{ held: Held; kill: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      FIXTURE,
      JSON.stringify(driver.config),
      queueName,
      JSON.stringify(driver.options ?? {}),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited; // reaped: its pid no longer exists
  };
  try {
    const lines = createInterface({ input: child.stdout });
    const held = await new Promise<Held>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("child never held a message"));
      }, PATIENCE_MS);
      lines.on("line", (line) => {
        if (line.startsWith("HOLDING ")) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice("HOLDING ".length)) as Held);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`child exited (${String(code)}) before holding a message`));
      });
    });
    return { held, kill };
  } catch (err) {
    await kill();
    throw err;
  }
}
