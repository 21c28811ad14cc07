/**
 * The body of POST /api/v1/pack-jobs, checked for shape. Every problem is
 * collected (one per schema issue, `field` naming it, e.g. "channels.3.id"),
 * and the fields and channels that passed are handed on, so job-check can
 * still check their values. What the values may be (channel ids, extras,
 * limits) is checked there with the same validators the CLI uses.
 */
import { z } from "zod";
import { GamedockError, invalidField } from "../core/index.js";
import { NOTIFY_LEVELS, type NotifyLevel } from "../notify/index.js";
import type { FieldProblems } from "./field-problems.js";

// Values are checked by apk's validateExtras (keys, sizes, characters, count).
const extras = z.record(z.string(), z.string());

const channelItem = z.union([
  z.string(),
  z.object({ id: z.string(), extras: extras.optional() }).strict(),
]);

export const jobRequestSchema = z
  .object({
    apk: z.union([
      z.string().min(1).max(4096),
      z.object({ fileId: z.string().min(1).max(128) }).strict(),
    ]),
    channels: z.array(channelItem).min(1, "give at least one channel"),
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
export type ChannelItem = z.infer<typeof channelItem>;
type Field = keyof JobRequest;
const FIELDS = Object.keys(jobRequestSchema.shape) as Field[];

/** What of a request passed its shape. */
export interface JobRequestParts {
  /** The fields that passed (absent: not given, or `broken`). */
  request: Partial<JobRequest>;
  /** Top-level fields with a problem of shape: checks of their values are skipped. */
  broken: ReadonlySet<Field>;
  /** The channels that passed, with their place in the request. */
  channels: { index: number; item: ChannelItem }[];
}

type Body = Record<string, unknown>;

/** Each field of `body` that has no issue, parsed on its own. */
function passedFields(body: Body, broken: ReadonlySet<Field>): Partial<JobRequest> {
  const request: Record<string, unknown> = {};
  for (const field of FIELDS) {
    if (broken.has(field) || field === "channels") continue;
    const parsed = jobRequestSchema.shape[field].safeParse(body[field]);
    if (parsed.success && parsed.data !== undefined) request[field] = parsed.data;
  }
  // Each value was parsed by its own field's schema, so the record has the request's types.
  return request;
}

/**
 * The request's shape, every problem recorded in `problems`; null when the
 * body is not an object at all. More than `maxChannels` channels are refused
 * before the schema walks them (the other fields are still checked).
 */
export function readJobRequest(
  body: unknown,
  maxChannels: number,
  problems: FieldProblems,
): JobRequestParts | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    problems.add(
      new GamedockError("E_INVALID_REQUEST", "the request body must be a JSON object"),
      "",
    );
    return null;
  }
  const broken = new Set<Field>();
  const brokenItems = new Set<number>();
  let subject = body as Body;
  let schema: z.ZodType = jobRequestSchema;
  const channels = subject.channels;
  if (Array.isArray(channels) && channels.length > maxChannels) {
    problems.add(
      new GamedockError(
        "E_CHANNELS_LIMIT",
        `channels: ${channels.length} channels in one job; at most ${maxChannels} are allowed (packer.limits.maxChannels) — split the list into several jobs`,
        { limit: maxChannels },
      ),
      "channels",
    );
    broken.add("channels");
    subject = { ...subject };
    delete subject.channels;
    schema = jobRequestSchema.omit({ channels: true });
  }
  const result = schema.safeParse(subject);
  if (result.success && !broken.has("channels")) {
    const request = result.data as JobRequest;
    const items = request.channels.map((item, index) => ({ index, item }));
    return { request, broken, channels: items };
  }
  for (const issue of result.error?.issues ?? []) {
    problems.add(invalidField([issue]), issue.path.map(String).join("."));
    const [top, item] = issue.path;
    if (typeof top === "string" && (FIELDS as string[]).includes(top)) {
      if (top === "channels" && typeof item === "number") brokenItems.add(item);
      else broken.add(top as Field);
    }
  }
  const passed: JobRequestParts["channels"] = [];
  if (!broken.has("channels") && Array.isArray(channels)) {
    for (const [index, raw] of (channels as unknown[]).entries()) {
      if (brokenItems.has(index)) continue;
      const item = channelItem.safeParse(raw);
      if (item.success) passed.push({ index, item: item.data });
    }
  }
  return { request: passedFields(subject, broken), broken, channels: passed };
}
