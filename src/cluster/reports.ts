/**
 * What executors send the server (register, heartbeat, claim, progress, the
 * end of a run), validated like any client input: an executor is a client.
 */
import { z } from "zod";
import { invalidField } from "../core/index.js";
import { NAME } from "./request.js";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1-64 of A-Z a-z 0-9 _ . : -");

export const registrationSchema = z
  .object({
    id,
    host: z.string().min(1).max(255),
    pool: z.string().regex(NAME),
    tools: z.record(z.string().regex(NAME), sha256),
    labels: z.record(z.string().max(64), z.string().max(256)).default({}),
    slots: z.number().int().min(1).max(256),
    cache: z.object({ bytes: z.number().int().min(0), max: z.number().int().min(0) }).strict(),
    /** The key `serve` gives its in-process executor: it consumes the server's own queue. */
    localKey: z.string().optional(),
  })
  .strict();

export const heartbeatSchema = z
  .object({
    busy: z.number().int().min(0),
    cacheBytes: z.number().int().min(0),
    /** Tasks the executor is running now. */
    running: z.array(z.string().max(64)).max(1024),
  })
  .strict();

export const progressSchema = z
  .object({ executor: id, status: z.enum(["staging", "running", "uploading"]) })
  .strict();

const output = z
  .object({
    path: z.string().min(1).max(1024),
    sha256,
    size: z.number().int().min(0),
    fileId: z.string().min(1).max(128),
  })
  .strict();

const result = z
  .object({
    exitCode: z.number().int().nullable(),
    stdout: z.string().max(1024 * 1024),
    stderr: z.string().max(1024 * 1024),
    outputs: z.array(output).max(100_000),
    logs: z
      .object({
        stdout: z.string().max(128).nullable(),
        stderr: z.string().max(128).nullable(),
        truncated: z.boolean(),
      })
      .strict(),
    ms: z.number().int().min(0),
  })
  .strict();

export const completionSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("result"), executor: id, result }).strict(),
  z
    .object({
      kind: z.literal("error"),
      executor: id,
      error: z
        .object({ code: z.string().regex(/^E_[A-Z_]+$/), message: z.string().max(4096) })
        .strict(),
      result: result.optional(),
    })
    .strict(),
  /** Given back unfinished (the executor is shutting down): another run, not counted. */
  z.object({ kind: z.literal("handback"), executor: id }).strict(),
]);

export type Registration = z.infer<typeof registrationSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export type Completion = z.infer<typeof completionSchema>;
export type RunReport = z.infer<typeof result>;

export function parseReport<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalidField(parsed.error.issues);
  return parsed.data;
}
