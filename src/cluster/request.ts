/**
 * The body of POST /api/v1/tasks, validated: shapes by zod, then the rules
 * zod cannot say — sandbox paths that cannot leave the sandbox, unique inputs,
 * allowed env keys, and the limits of cluster.limits. A bad field answers 400
 * with `details.field` naming it; a limit answers 400 E_LIMIT naming it.
 */
import { posix } from "node:path";
import { z } from "zod";
import { GamedockError, invalidField, textProblem } from "../core/index.js";
import { NOTIFY_LEVELS, type NotifyLevel } from "../notify/index.js";
import type { NewTask, TaskInput, Timeouts } from "./model.js";

export const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const timeout = z.number().int().min(100).max(86_400_000);

export const taskRequestSchema = z
  .object({
    tool: z.string().regex(NAME, "tool names are 1-64 of A-Z a-z 0-9 _ . -"),
    args: z.array(z.string()).default([]),
    inputs: z
      .array(
        z
          .object({
            path: z.string().min(1).max(1024),
            sha256: z.string().regex(SHA256, "64 lowercase hex digits"),
            size: z.number().int().min(0),
          })
          .strict(),
      )
      .default([]),
    outputs: z.array(z.string().min(1).max(1024)).default([]),
    env: z.record(z.string(), z.string()).default({}),
    pool: z.string().regex(NAME, "pool names are 1-64 of A-Z a-z 0-9 _ . -").optional(),
    timeouts: z
      .object({ assignMs: timeout, stagingMs: timeout, runMs: timeout })
      .partial()
      .strict()
      .default({}),
    retries: z.number().int().min(0).max(10).optional(),
    cacheable: z.boolean().default(false),
    key: z.string().min(1).max(255).optional(),
    notify: z
      .object({
        level: z.enum(NOTIFY_LEVELS as [NotifyLevel, ...NotifyLevel[]]),
        targets: z.array(z.string().min(1)).max(64).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type TaskRequest = z.infer<typeof taskRequestSchema>;

export interface TaskLimits {
  maxArgs: number;
  maxInputs: number;
  maxInputBytes: number;
  maxOutputs: number;
}

function invalid(field: string, message: string): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", `${field}: ${message}`, { field });
}

function limit(field: string, message: string, limitName: string): GamedockError {
  return new GamedockError("E_LIMIT", `${field}: ${message} (cluster.limits.${limitName})`, {
    field,
    limit: limitName,
  });
}

/** A relative path that stays inside the sandbox; `glob` allows * and ? (outputs). */
export function checkSandboxPath(path: string, field: string, glob = false): string {
  const problem = textProblem(path);
  if (problem !== null) throw invalid(field, `${JSON.stringify(path)}: ${problem}`);
  if (path.startsWith("/"))
    throw invalid(
      field,
      `${JSON.stringify(path)} is absolute; give a path relative to the task's sandbox`,
    );
  if (path.includes("\\"))
    throw invalid(field, `${JSON.stringify(path)}: use "/" to separate directories`);
  const segments = path.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw invalid(
      field,
      `${JSON.stringify(path)} must not have empty, "." or ".." parts: it must stay inside the sandbox`,
    );
  }
  if (!glob && /[*?[\]]/.test(path))
    throw invalid(field, `${JSON.stringify(path)}: wildcards are only for outputs`);
  if (posix.normalize(path) !== path)
    throw invalid(field, `${JSON.stringify(path)} is not a normal path`);
  return path;
}

/** Inputs: paths checked, none twice, none inside another ("a" and "a/b" cannot both be files). */
function checkInputs(inputs: TaskInput[], limits: TaskLimits): TaskInput[] {
  if (inputs.length > limits.maxInputs) {
    throw limit("inputs", `${inputs.length} inputs; at most ${limits.maxInputs}`, "maxInputs");
  }
  const seen = new Set<string>();
  let total = 0;
  inputs.forEach((input, i) => {
    checkSandboxPath(input.path, `inputs.${i}.path`);
    if (seen.has(input.path))
      throw invalid(`inputs.${i}.path`, `${JSON.stringify(input.path)} is given twice`);
    seen.add(input.path);
    total += input.size;
  });
  for (const path of seen) {
    const parts = path.split("/");
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join("/");
      if (seen.has(dir)) {
        throw invalid(
          "inputs",
          `${JSON.stringify(dir)} is an input file and also the directory of ${JSON.stringify(path)}`,
        );
      }
    }
  }
  if (total > limits.maxInputBytes) {
    throw limit(
      "inputs",
      `the inputs add up to ${total} bytes; at most ${limits.maxInputBytes}`,
      "maxInputBytes",
    );
  }
  return inputs;
}

function checkEnv(env: Record<string, string>, allowed: readonly string[]): Record<string, string> {
  for (const [key, value] of Object.entries(env)) {
    if (!allowed.includes(key)) {
      throw invalid(
        `env.${key}`,
        `${JSON.stringify(key)} may not be set by a task (allowed: ${allowed.join(", ") || "none"}; cluster.envAllow)`,
      );
    }
    const problem = textProblem(value);
    if (problem !== null) throw invalid(`env.${key}`, problem);
  }
  return env;
}

/** The notifiers a task's events go to: named ones must be configured; none named = all. */
function checkNotify(
  notify: { level: NotifyLevel; targets?: string[] | undefined } | undefined,
  notifiers: readonly string[],
): { level: NotifyLevel; targets: string[] } {
  const level = notify?.level ?? "none";
  if (level === "none") return { level, targets: [] };
  const targets = notify?.targets ?? [...notifiers];
  targets.forEach((name, i) => {
    if (!notifiers.includes(name)) {
      throw invalid(
        `notify.targets.${i}`,
        `notifier ${JSON.stringify(name)} is not configured (configured: ${notifiers.join(", ") || "none"})`,
      );
    }
  });
  if (targets.length === 0) {
    throw invalid(
      "notify.level",
      `notify.level ${level} needs a notifier, and none is configured (see docs/notifications.md)`,
    );
  }
  return { level, targets };
}

/** A task as the request asked for it: everything but the id and owner the server gives it. */
export type CheckedTask = Omit<NewTask, "id" | "owner">;

export function parseTaskRequest(
  body: unknown,
  options: {
    limits: TaskLimits;
    envAllow: readonly string[];
    defaults: Timeouts & { retries: number };
    pool: string;
    notifiers: readonly string[];
  },
): CheckedTask {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("", "the request body must be a JSON object");
  }
  const parsed = taskRequestSchema.safeParse(body);
  if (!parsed.success) throw invalidField(parsed.error.issues);
  const request = parsed.data;
  const { limits } = options;
  if (request.args.length > limits.maxArgs) {
    throw limit("args", `${request.args.length} arguments; at most ${limits.maxArgs}`, "maxArgs");
  }
  request.args.forEach((arg, i) => {
    // argv is passed as given (no shell), but a C string cannot hold NUL or a lone surrogate.
    if (arg.includes("\0") || /\p{Cs}/u.test(arg)) {
      throw invalid(`args.${i}`, "an argument may not contain NUL or ill-formed Unicode");
    }
  });
  if (request.outputs.length > limits.maxOutputs) {
    throw limit(
      "outputs",
      `${request.outputs.length} outputs; at most ${limits.maxOutputs}`,
      "maxOutputs",
    );
  }
  request.outputs.forEach((output, i) => checkSandboxPath(output, `outputs.${i}`, true));
  if (request.key !== undefined) {
    const problem = textProblem(request.key);
    if (problem !== null) throw invalid("key", problem);
  }
  return {
    tool: request.tool,
    pool: request.pool ?? options.pool,
    args: request.args,
    inputs: checkInputs(request.inputs, limits),
    outputs: request.outputs,
    env: checkEnv(request.env, options.envAllow),
    timeouts: {
      assignMs: request.timeouts.assignMs ?? options.defaults.assignMs,
      stagingMs: request.timeouts.stagingMs ?? options.defaults.stagingMs,
      runMs: request.timeouts.runMs ?? options.defaults.runMs,
    },
    retries: request.retries ?? options.defaults.retries,
    cacheable: request.cacheable,
    key: request.key ?? null,
    notify: checkNotify(request.notify, options.notifiers),
  };
}
