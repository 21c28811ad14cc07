/**
 * An executor's side of the server's HTTP API: register, heartbeat, the
 * calls about a task it runs, and the file service for its outputs. Every
 * executor uses it — `serve`'s own over loopback too — so there is one path.
 * Answers that are not 2xx become the GamedockError the server named.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { GamedockError, isGamedockError, type ErrorCode, ERROR_CODES } from "../../core/index.js";
import type { ExecutorView, TaskSpec, TaskView } from "../model.js";
import type { Completion, Heartbeat, Registration } from "../reports.js";

export interface StoredFile {
  id: string;
  sha256: string;
  size: number;
}

export class ServerApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  register(registration: Registration): Promise<{ executor: ExecutorView; heartbeatMs: number }> {
    return this.request("POST", "/api/v1/executors", registration);
  }

  heartbeat(id: string, beat: Heartbeat): Promise<{ cancel: string[] }> {
    return this.request("POST", `/api/v1/executors/${encodeURIComponent(id)}/heartbeat`, beat);
  }

  async deregister(id: string): Promise<void> {
    await this.request("DELETE", `/api/v1/executors/${encodeURIComponent(id)}`);
  }

  /** The task's spec, or null when it is not there to be taken (E_TASK_STATE). */
  async claim(taskId: string, executor: string): Promise<TaskSpec | null> {
    try {
      return await this.request<TaskSpec>(
        "POST",
        `/api/v1/tasks/${encodeURIComponent(taskId)}/claim`,
        { executor },
      );
    } catch (err) {
      if (isGamedockError(err) && (err.code === "E_TASK_STATE" || err.code === "E_TASK_NOT_FOUND"))
        return null;
      throw err;
    }
  }

  async progress(
    taskId: string,
    executor: string,
    status: "staging" | "running" | "uploading",
  ): Promise<void> {
    await this.request("POST", `/api/v1/tasks/${encodeURIComponent(taskId)}/progress`, {
      executor,
      status,
    });
  }

  complete(taskId: string, completion: Completion): Promise<TaskView> {
    return this.request("POST", `/api/v1/tasks/${encodeURIComponent(taskId)}/complete`, completion);
  }

  /** Stores a local file in the file service (streamed), kept for `ttlSeconds`. */
  async putFile(
    path: string,
    name: string,
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<StoredFile> {
    const { size } = await stat(path);
    const url = `${this.baseUrl}/files/${encodeURIComponent(name)}?ttl=${ttlSeconds}`;
    const response = await fetch(url, {
      method: "PUT",
      headers: {
        ...this.auth(),
        "content-length": String(size),
        "content-type": "application/octet-stream",
      },
      body: createReadStream(path),
      duplex: "half",
      signal,
    });
    return this.answer<StoredFile>(response, `PUT /files/${name}`);
  }

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** One JSON call; a non-2xx answer throws the GamedockError the server named. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...this.auth(),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new GamedockError(
        "E_SERVICE_UNAVAILABLE",
        `the server at ${this.baseUrl} does not answer (${(err as Error).message})`,
        { url: this.baseUrl },
      );
    }
    return this.answer<T>(response, `${method} ${path}`);
  }

  private async answer<T>(response: Response, what: string): Promise<T> {
    const text = await response.text();
    if (response.ok) return (text === "" ? undefined : JSON.parse(text)) as T;
    let code: ErrorCode = response.status >= 500 ? "E_SERVICE_UNAVAILABLE" : "E_INVALID_REQUEST";
    let message = `${what} answered ${response.status}`;
    try {
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (error?.code && error.code in ERROR_CODES) code = error.code as ErrorCode;
      if (error?.message) message = error.message;
    } catch {
      // not our JSON: keep the status
    }
    throw new GamedockError(code, message, { status: response.status });
  }
}
