/**
 * The task cluster's part of `gamedock doctor`: its queue names a configured
 * backend (a redis one when executors run elsewhere), and every tool the
 * executor would offer is an executable file.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import type { Config } from "../../core/index.js";
import { fail, pass, type Check } from "./check.js";

export function checkClusterQueue(config: Config): Check {
  const name = "cluster.queue";
  const queue = config.queues[config.cluster.queue];
  if (!queue) {
    return fail(
      name,
      `cluster.queue ${JSON.stringify(config.cluster.queue)} is not one of queues (${Object.keys(config.queues).join(", ") || "none"})`,
      "set cluster.queue to a configured queue",
    );
  }
  return pass(
    name,
    queue.driver === "redis"
      ? `${config.cluster.queue} (redis): executors on other machines can join`
      : `${config.cluster.queue} (${queue.driver}): only this server's own executor takes tasks; use a redis queue for \`gamedock executor\` elsewhere`,
  );
}

export async function checkClusterTool(name: string, path: string): Promise<Check> {
  const key = `cluster.tools.${name}`;
  try {
    const info = await stat(path);
    if (!info.isFile())
      return fail(key, `${path} is not a file`, `point ${key} at the tool's binary`);
    await access(path, constants.X_OK);
    return pass(key, `${path} is executable`);
  } catch {
    return fail(
      key,
      `${path} does not exist or is not executable`,
      `install the tool, or fix the path in ${key}`,
    );
  }
}
