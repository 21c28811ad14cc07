/**
 * The body of POST /api/v1/pack-jobs, validated for shape. A bad field
 * answers 400 with `details.field` naming it (e.g. "channels.3.id"). What the
 * values may be (channel ids, extras, limits) is checked by job-create with
 * the same validators the CLI uses.
 */
import { z } from "zod";
import { GamedockError, invalidField } from "../core/index.js";
import { NOTIFY_LEVELS, type NotifyLevel } from "../notify/index.js";

// Values are checked by apk's validateExtras (keys, sizes, characters, count).
const extras = z.record(z.string(), z.string());

export const jobRequestSchema = z
  .object({
    apk: z.union([
      z.string().min(1).max(4096),
      z.object({ fileId: z.string().min(1).max(128) }).strict(),
    ]),
    channels: z
      .array(
        z.union([z.string(), z.object({ id: z.string(), extras: extras.optional() }).strict()]),
      )
      .min(1, "give at least one channel"),
    name: z.string().min(1).max(1024).optional(),
    format: z.enum(["walle", "vasdolly", "both"]).optional(),
    extras: extras.optional(),
    upload: z
      .object({ target: z.string().min(1).optional(), prefix: z.string().max(512).optional() })
      .strict()
      .optional(),
    notify: z
      .object({
        level: z.enum(NOTIFY_LEVELS as [NotifyLevel, ...NotifyLevel[]]),
        targets: z.array(z.string().min(1)).max(64).optional(),
      })
      .strict()
      .optional(),
    queue: z.string().min(1).max(64).optional(),
  })
  .strict();

export type JobRequest = z.infer<typeof jobRequestSchema>;

/** `maxChannels` is checked before the schema walks every item. */
export function parseJobRequest(body: unknown, maxChannels: number): JobRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new GamedockError("E_INVALID_REQUEST", "the request body must be a JSON object", {
      field: "",
    });
  }
  const channels = (body as { channels?: unknown }).channels;
  if (Array.isArray(channels) && channels.length > maxChannels) {
    throw new GamedockError(
      "E_CHANNELS_LIMIT",
      `channels: ${channels.length} channels in one job; at most ${maxChannels} are allowed (packer.limits.maxChannels) — split the list into several jobs`,
      { field: "channels", limit: maxChannels },
    );
  }
  const result = jobRequestSchema.safeParse(body);
  if (!result.success) throw invalidField(result.error.issues);
  return result.data;
}

/** Wraps an error about one field so its details name the field. */
export function fieldError(err: unknown, field: string): unknown {
  if (err instanceof GamedockError) {
    return new GamedockError(err.code, err.message, { ...err.details, field });
  }
  return err;
}
