/**
 * `gamedock serve` (or `worker`) as a real child process, for tests that
 * `kill -9` it: started through the CLI with a config file, its URL read from
 * the banner it prints.
 */
import { TSX_CLI, spawnCli, type CliProcess } from "../helpers/processes.js";

export interface ServeProcess extends CliProcess {
  /** The URL it listens on; "" for a worker (no HTTP). */
  url: string;
}

export async function spawnGamedock(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const { process, match } = await spawnCli(
    args,
    /listening on (http:\/\/\S+)|running stages/,
    TSX_CLI,
    env,
  );
  return { ...process, url: match[1] ?? "" };
}

export { kill9 } from "../helpers/processes.js";
