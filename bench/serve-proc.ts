/**
 * `gamedock serve` as a child process for the benches that submit pack jobs
 * over HTTP (bench:service, bench:upload): start it on a free port, read its
 * URL from the banner (as the tests do), stop it, and wait for a job to
 * finish — on its server-sent event stream, or by polling.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = resolve(import.meta.dirname, "..");
/** A job whose channels do not move for this long is stuck (a broken build): fail the run. */
export const STALL_MS = 60_000;
/** How often pollUntilFinished GETs the job. */
const POLL_MS = 20;

export interface Serve {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

export interface ServeOptions {
  /** serve's JSON log lines go here instead of stderr. */
  logFile?: string | undefined;
  /** A configuration file (`--config`). */
  config?: string | undefined;
}

/**
 * Starts `gamedock serve --data <data> --port 0` with the CLI's node arguments
 * (`cli`, from privateCli) and resolves with its URL once it listens.
 */
export async function startServe(
  cli: readonly string[],
  data: string,
  options: ServeOptions = {},
): Promise<Serve> {
  const args = [...cli, "serve", "--data", data, "--port", "0"];
  if (options.config !== undefined) args.push("--config", options.config);
  if (options.logFile !== undefined) args.push("--log-file", options.logFile);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000); // info logs to stderr by default: keep only the end
  });
  const exited = new Promise<number | null>((done) => {
    child.on("exit", (code) => {
      done(code);
    });
  });
  const url = await new Promise<string>((done, fail) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1] !== undefined) done(match[1]);
    });
    void exited.then((code) => {
      fail(new Error(`gamedock serve exited (${code}) before it was ready: ${stderr}`));
    });
  });
  return { child, url, exited, stderr: () => stderr };
}

export async function stopServe(serve: Serve): Promise<void> {
  serve.child.kill("SIGTERM");
  const killed = setTimeout(() => serve.child.kill("SIGKILL"), 10_000);
  await serve.exited;
  clearTimeout(killed);
}

export interface JobView {
  id: string;
  status: string;
  channels: { channel: string; state: string; output: { size: number } | null }[];
}

export async function requestJson(url: string, init?: RequestInit): Promise<JobView> {
  const response = await fetch(url, init);
  const body = await response.text();
  if (!response.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${response.status} ${body}`);
  return JSON.parse(body) as JobView;
}

/** POST /api/v1/pack-jobs with a JSON body; answers the created job. */
export function submitJob(serve: Serve, body: Record<string, unknown>): Promise<JobView> {
  return requestJson(`${serve.url}/api/v1/pack-jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const FINISHED = ["done", "partial", "failed", "cancelled"];

function stalled(serve: Serve, id: string, states: string, stallMs: number): Error {
  return new Error(
    `job ${id} made no progress for ${stallMs / 1000} s (channels: ${states})\n${serve.stderr()}`,
  );
}

/** GET the job every POLL_MS until it has finished; returns its status. */
export async function pollUntilFinished(
  serve: Serve,
  id: string,
  stallMs = STALL_MS,
): Promise<string> {
  let states = "";
  let movedAt = performance.now();
  for (;;) {
    const job = await requestJson(`${serve.url}/api/v1/pack-jobs/${id}`);
    if (FINISHED.includes(job.status)) return job.status;
    const now = job.channels.map((c) => c.state).join();
    if (now !== states) [states, movedAt] = [now, performance.now()];
    if (performance.now() - movedAt > stallMs) throw stalled(serve, id, now, stallMs);
    await sleep(POLL_MS);
  }
}

/**
 * Reads GET /events until the `end` event; returns the job's final status.
 * The stream (docs/packer-api.md, "Progress") sends `summary` (the job
 * without its channels) first and then as a heartbeat, `channel` each time a
 * channel changed, and `end` with the status. Only `channel` events count as
 * progress: a job none of whose channels changes for `stallMs` fails the wait.
 */
export async function streamUntilFinished(
  serve: Serve,
  id: string,
  stallMs = STALL_MS,
): Promise<string> {
  const abort = new AbortController();
  const states = new Map<string, string>();
  const stop = (): void => {
    abort.abort();
  };
  let watchdog = setTimeout(stop, stallMs);
  try {
    const response = await fetch(`${serve.url}/api/v1/pack-jobs/${id}/events`, {
      signal: abort.signal,
    });
    if (!response.ok || !response.body) throw new Error(`GET events: ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined) continue; // a keep-alive comment
        if (block.startsWith("event: end")) return (JSON.parse(data) as { status: string }).status;
        if (!block.startsWith("event: channel")) continue; // a summary
        const channel = JSON.parse(data) as JobView["channels"][number];
        states.set(channel.channel, channel.state);
        clearTimeout(watchdog);
        watchdog = setTimeout(stop, stallMs);
      }
    }
    throw new Error(`the event stream of job ${id} ended without an end event`);
  } catch (err) {
    if (abort.signal.aborted) throw stalled(serve, id, [...states.values()].join(), stallMs);
    throw err;
  } finally {
    clearTimeout(watchdog);
    stop(); // closes the stream
  }
}
