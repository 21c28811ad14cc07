/**
 * A publisher's side of the cluster over HTTP (what `gamedock task` uses):
 * store local inputs once (the server is asked for the sha256 first), submit,
 * follow a task's events to its end, and download its outputs atomically.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GamedockError, claimTempPath, makeDirectory, releaseTemp } from "../core/index.js";
import { ServerApi } from "./executor/api-client.js";
import type { ExecutorView, TaskInput, TaskView } from "./model.js";

export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

export class ClusterClient {
  readonly api: ServerApi;

  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {
    this.api = new ServerApi(baseUrl, token);
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** The input for a local file: uploaded only when the server does not have its content yet. */
  async inputFromFile(
    path: string,
    file: string,
    ttlSeconds: number,
  ): Promise<TaskInput & { uploaded: boolean }> {
    const { sha256, size } = await hashFile(file);
    const head = await fetch(`${this.baseUrl}/files/by-sha256/${sha256}`, {
      method: "HEAD",
      headers: this.headers(),
    });
    if (head.ok) return { path, sha256, size, uploaded: false };
    const stored = await this.api.putFile(file, basename(file), ttlSeconds);
    if (stored.sha256 !== sha256) {
      throw new GamedockError(
        "E_UPLOAD_FAILED",
        `${file} changed while it was uploaded (sha256 ${stored.sha256}, read ${sha256})`,
      );
    }
    return { path, sha256, size, uploaded: true };
  }

  submit(body: unknown): Promise<TaskView & { cache?: { hit: boolean; disabled: string | null } }> {
    return this.call("POST", "/api/v1/tasks", body);
  }

  get(id: string): Promise<TaskView> {
    return this.call("GET", `/api/v1/tasks/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<TaskView> {
    return this.call("POST", `/api/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  async executors(): Promise<ExecutorView[]> {
    return (await this.call<{ executors: ExecutorView[] }>("GET", "/api/v1/executors")).executors;
  }

  /** Follows the task's events until it ends; `onChange` hears every new state. */
  async follow(
    id: string,
    onChange: (task: TaskView) => void,
    signal?: AbortSignal,
  ): Promise<TaskView> {
    const response = await fetch(`${this.baseUrl}/api/v1/tasks/${encodeURIComponent(id)}/events`, {
      headers: this.headers(),
      signal,
    });
    if (!response.ok || !response.body) return this.get(id);
    let buffered = "";
    let last: TaskView | null = null;
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffered += Buffer.from(chunk).toString("utf8");
      for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const match = /^event: (\w+)\ndata: (.*)$/s.exec(block);
        if (match?.[1] === "task") {
          last = JSON.parse(match[2]!) as TaskView;
          onChange(last);
        }
      }
    }
    return last && ["done", "failed", "timed_out", "cancelled"].includes(last.status)
      ? last
      : this.get(id);
  }

  /** Downloads every output of a done task under `dir`, each whole or not at all. */
  async download(task: TaskView, dir: string): Promise<string[]> {
    const written: string[] = [];
    for (const output of task.result?.outputs ?? []) {
      const target = join(dir, output.path);
      await makeDirectory(dirname(target));
      const temp = claimTempPath(dirname(target));
      try {
        const response = await fetch(`${this.baseUrl}${output.url}`, { headers: this.headers() });
        if (!response.ok || !response.body) {
          throw new GamedockError(
            "E_NOT_FOUND",
            `output ${output.path} could not be downloaded (HTTP ${response.status})`,
          );
        }
        await pipeline(Readable.fromWeb(response.body), createWriteStream(temp));
        if ((await stat(temp)).size !== output.size) {
          throw new GamedockError(
            "E_TRUNCATED",
            `output ${output.path} arrived with the wrong size`,
          );
        }
        await rename(temp, target);
        written.push(target);
      } finally {
        await rm(temp, { force: true });
        releaseTemp(temp);
      }
    }
    return written;
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.api.request<T>(method, path, body);
  }
}
