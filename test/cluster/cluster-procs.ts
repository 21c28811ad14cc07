/**
 * The task cluster as separate processes, for the multi-process tests and
 * bench:cluster: `gamedock serve` whose cluster queue is Redis, and
 * `gamedock executor`s that name the same queue, each started through the
 * real CLI from a config file a user would write. An executor is defined by
 * its name: the same name means the same config, cache directory and so the
 * same executor id — which is what a restart after `kill -9` keeps.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ROOT } from "../helpers/cli.js";
import { logLines, spawnCli, stopGracefully, type CliProcess } from "../helpers/processes.js";
import { SERVICES } from "../helpers/services.js";
import { waitFor } from "../helpers/wait.js";

export const FIXTURE_TOOL = join(ROOT, "test/cluster/fixtures/tool.sh");
export interface TaskJson {
  id: string;
  status: string;
  tool: string;
  executor: string | null;
  attempts: number;
  retries: number;
  error: { code: string; message: string } | null;
  result: { exitCode: number | null; stdout: string; stderr: string } | null;
}

export interface ExecutorJson {
  id: string;
  state: string;
  tools: Record<string, string>;
  busy: number;
}

const FINAL = ["done", "failed", "timed_out", "cancelled"];
export const isFinal = (task: TaskJson): boolean => FINAL.includes(task.status);

export interface ClusterServe {
  url: string;
  process: CliProcess;
  logFile: string;
  /** fetch() against serve; JSON in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  submit(body: Record<string, unknown>): Promise<TaskJson>;
  task(id: string): Promise<TaskJson>;
  executors(): Promise<ExecutorJson[]>;
  /** Polls the task until `until` holds (default: finished); fails after `timeoutMs`. */
  waitTask(id: string, until?: (t: TaskJson) => boolean, timeoutMs?: number): Promise<TaskJson>;
  /** Stores a local file in the file service (streamed); answers its digest. */
  store(name: string, path: string): Promise<{ sha256: string; size: number }>;
  close(): Promise<void>;
}

/** The Redis queue every process of one test names (one prefix per test run). */
export function redisQueue(prefix: string, lockMs: number): Record<string, unknown> {
  return { driver: "redis", url: SERVICES.redis.url, prefix, lockMs };
}

export interface ServeSpec {
  /** Where its config, data and log go. */
  dir: string;
  /** The Redis key prefix of the cluster queue (one per test). */
  prefix: string;
  /** Merged over the tests' fast timings (an executor silent for 4 s is lost). */
  cluster?: Record<string, unknown>;
  /** The queue's lock: a killed executor's message comes back after this. */
  lockMs?: number;
  cli?: readonly string[];
}

/** `gamedock serve` (API only) whose cluster queue is Redis. */
export async function startClusterServe(spec: ServeSpec): Promise<ClusterServe> {
  const { dir, prefix } = spec;
  const logFile = join(dir, "serve.log");
  const configFile = join(dir, "serve.json");
  await writeFile(
    configFile,
    JSON.stringify({
      data: join(dir, "serve-data"),
      log: { level: "info", file: logFile },
      server: { port: 0 },
      queues: { cluster: redisQueue(prefix, spec.lockMs ?? 5000) },
      cluster: {
        queue: "cluster",
        sweepIntervalMs: 250,
        heartbeatMs: 500,
        lostAfterMs: 4000,
        ...spec.cluster,
      },
    }),
  );
  const { process: proc, match } = await spawnCli(
    ["serve", "--config", configFile, "--stages", "none"],
    /listening on (http:\/\/\S+)/,
    spec.cli,
  );
  const url = match[1]!;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, json };
  };
  const task = async (id: string) => (await api("GET", `/api/v1/tasks/${id}`)).json as TaskJson;
  return {
    url,
    process: proc,
    logFile,
    api,
    task,
    async submit(body) {
      const answer = await api("POST", "/api/v1/tasks", body);
      if (answer.status !== 201) {
        throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      }
      return answer.json as TaskJson;
    },
    async executors() {
      return ((await api("GET", "/api/v1/executors")).json as { executors: ExecutorJson[] })
        .executors;
    },
    async waitTask(id, until = isFinal, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = await task(id);
        if (until(current)) return current;
        if (Date.now() > deadline) {
          throw new Error(`task ${id} did not get there: ${JSON.stringify(current)}`);
        }
        await delay(100);
      }
    },
    async store(name, path) {
      const { size } = await stat(path);
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      const response = await fetch(`${url}/files/${encodeURIComponent(name)}`, {
        method: "PUT",
        headers: { "content-length": String(size) },
        body: createReadStream(path),
        duplex: "half",
      });
      if (response.status !== 201) throw new Error(`PUT ${name}: ${await response.text()}`);
      return { sha256: hash.digest("hex"), size };
    },
    async close() {
      await stopGracefully(proc);
    },
  };
}

export interface ExecutorProcess {
  id: string;
  name: string;
  process: CliProcess;
  logFile: string;
  cacheDir: string;
}

export interface ExecutorSpec {
  /** Names its config, cache, work directory and log in `dir`: the same name is the same executor. */
  name: string;
  dir: string;
  prefix: string;
  /** The URL it calls (serve's, or a proxy in front of it). */
  server: string;
  /** Tool name → absolute path of the binary. */
  tools: Record<string, string>;
  slots?: number;
  lockMs?: number;
  cacheMax?: string;
  cli?: readonly string[];
}

/** `gamedock executor` named `spec.name`; resolves once it has registered. */
export async function startExecutor(spec: ExecutorSpec): Promise<ExecutorProcess> {
  const base = join(spec.dir, spec.name);
  const logFile = `${base}.log`;
  const configFile = `${base}.json`;
  const cacheDir = `${base}-cache`;
  await writeFile(
    configFile,
    JSON.stringify({
      data: `${base}-data`,
      log: { level: "info", file: logFile },
      queues: { cluster: redisQueue(spec.prefix, spec.lockMs ?? 5000) },
      cluster: { queue: "cluster", tools: spec.tools },
    }),
  );
  const args = ["executor", "--config", configFile, "--server", spec.server, "--cache", cacheDir];
  if (spec.slots !== undefined) args.push("--slots", String(spec.slots));
  if (spec.cacheMax !== undefined) args.push("--cache-max", spec.cacheMax);
  const { process: proc, match } = await spawnCli(
    args,
    /gamedock executor (\S+): running/,
    spec.cli,
  );
  return { id: match[1]!, name: spec.name, process: proc, logFile, cacheDir };
}

/**
 * Runs of one task an executor reported as ended — a result or an error, not
 * a task it gave back at shutdown — from its "task run reported" log lines.
 */
export async function runsReported(
  executor: ExecutorProcess,
  taskId: string,
  kinds: readonly string[] = ["result", "error"],
): Promise<number> {
  return (await logLines(executor.logFile)).filter(
    (line) =>
      line.event === "task-run" && line.taskId === taskId && kinds.includes(String(line.kind)),
  ).length;
}

/**
 * Waits until `executor` has logged a run of `taskId` (of `kinds`): it logs
 * after the server recorded the run, so a test that saw the task finish may
 * read the log a moment before the line is there.
 */
export async function runLogged(
  executor: ExecutorProcess,
  taskId: string,
  kinds: readonly string[] = ["result", "error"],
): Promise<void> {
  await waitFor(
    async () => (await runsReported(executor, taskId, kinds)) >= 1,
    `executor ${executor.id}'s log line for its run of ${taskId}`,
  );
}

/** Ends of the task that serve recorded ("task finished" log lines). */
export async function endsRecorded(serve: ClusterServe, taskId: string): Promise<number> {
  return (await logLines(serve.logFile)).filter(
    (line) => line.event === "task-finished" && line.taskId === taskId,
  ).length;
}

export { dropRedisPrefix } from "../helpers/services.js";
export {
  TSX_CLI,
  kill9,
  logLines,
  spawnCli,
  stopGracefully,
  type CliProcess,
} from "../helpers/processes.js";
