/**
 * Runs `gamedock serve` inside the test process on a free port with its data
 * in a temp directory, configured through the same file + schema path a user
 * takes. For tests of the HTTP API; crash tests run the real CLI instead.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Lifecycle,
  createLogger,
  loadConfig,
  type Config,
  type Logger,
} from "../../src/core/index.js";
import type { Stage } from "../../src/packer/index.js";
import { startServe } from "../../src/server/index.js";
import { tempDir } from "./cli.js";

export interface TestServer {
  url: string;
  data: string;
  close(): Promise<void>;
  /** fetch() against the server; JSON in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/**
 * The configuration a test server runs on: `config` over a free port and a log
 * file in `data`, through the same file + schema path a user takes.
 */
export async function testConfig(
  data: string,
  config: Record<string, unknown>,
): Promise<{ effective: Config; logger: Logger }> {
  const file = join(data, "config.json");
  await writeFile(
    file,
    JSON.stringify({
      data,
      log: { level: "warn", file: join(data, "gamedock.log") },
      ...config,
      server: { port: 0, ...(config.server as object | undefined) },
    }),
  );
  const effective = await loadConfig({ file, env: {} });
  const logger = await createLogger({ level: effective.log.level, file: effective.log.file });
  return { effective, logger };
}

export async function startTestServer(
  config: Record<string, unknown> = {},
  /** stages: the packer stages to run (none: an API-only server); data: reuse a data directory. */
  options: { stages?: readonly Stage[]; data?: string } = {},
): Promise<TestServer> {
  const data = options.data ?? (await tempDir("gamedock-serve-"));
  const { effective, logger } = await testConfig(data, config);
  const lifecycle = new Lifecycle();
  const server = await startServe(effective, logger, lifecycle, options.stages);
  return {
    url: server.url,
    data,
    close: () => lifecycle.shutdown(),
    async api(method, path, body) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, json };
    },
  };
}

/** Polls GET /api/v1/pack-jobs/:id until `until` holds (default: finished). */
export async function waitForJob<T extends { status: string; finishedAt: string | null }>(
  server: Pick<TestServer, "api">,
  id: string,
  until: (job: T) => boolean = (job) => job.finishedAt !== null,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, json } = await server.api("GET", `/api/v1/pack-jobs/${id}`);
    if (status !== 200)
      throw new Error(`GET job ${id} answered ${status}: ${JSON.stringify(json)}`);
    const job = json as T;
    if (until(job)) return job;
    if (Date.now() > deadline)
      throw new Error(`job ${id} did not get there: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
