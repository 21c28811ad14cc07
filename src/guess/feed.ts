/**
 * The match feed (design note 003's `datacenter`): what
 * `POST /api/v1/guess/admin/matches/import` takes, defined in
 * docs/guess.md ("The feed") with a sample in samples/guess-feed.json.
 * Text goes through the one text validator (no control or bidi characters,
 * well-formed Unicode); ids are short ASCII; odds are decimal odds × 1000.
 */
import { z } from "zod";
import { invalidField, textProblem } from "../core/index.js";

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** An option, team or client id: short ASCII. */
export const id = z.string().regex(ID, "1–64 of A-Z a-z 0-9 _ . : -");
/** 1–`max` characters of well-formed text (core's one text check): for every free-text field. */
export const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
    });
const time = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

/** Odds from 1.001 to 1000.000, as integers × 1000. */
export const odds = z.number().int().min(1001).max(1_000_000);

export const MAX_FEED_MATCHES = 500;
export const MAX_OPTIONS = 16;

const feedMatch = z
  .object({
    externalId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "1–128 of A-Z a-z 0-9 _ . : -"),
    type: z.string().regex(/^[a-z0-9_-]{1,32}$/, "1–32 of a-z 0-9 _ -"),
    title: text(200),
    teams: z
      .array(z.object({ id, name: text(100) }).strict())
      .min(2)
      .max(16),
    startsAt: time,
    lockAt: time,
    options: z
      .array(z.object({ id, label: text(100), odds }).strict())
      .min(2)
      .max(MAX_OPTIONS),
  })
  .strict()
  .superRefine((match, ctx) => {
    if (match.lockAt > match.startsAt) {
      ctx.addIssue({ code: "custom", path: ["lockAt"], message: "must not be after startsAt" });
    }
    const seen = new Set<string>();
    match.options.forEach((option, i) => {
      if (seen.has(option.id)) {
        ctx.addIssue({
          code: "custom",
          path: ["options", i, "id"],
          message: "duplicate option id",
        });
      }
      seen.add(option.id);
    });
  });

export const feedSchema = z
  .object({ matches: z.array(feedMatch).min(1).max(MAX_FEED_MATCHES) })
  .strict()
  .superRefine((feed, ctx) => {
    const seen = new Set<string>();
    feed.matches.forEach((match, i) => {
      if (seen.has(match.externalId)) {
        ctx.addIssue({
          code: "custom",
          path: ["matches", i, "externalId"],
          message: "duplicate externalId in one feed",
        });
      }
      seen.add(match.externalId);
    });
  });

export type FeedMatch = z.output<typeof feedMatch>;
export type Feed = z.output<typeof feedSchema>;

/** A feed as the import takes it; E_INVALID_REQUEST naming the first bad field. */
export function parseFeed(body: unknown): Feed {
  const parsed = feedSchema.safeParse(body);
  if (!parsed.success) throw invalidField(parsed.error.issues);
  return parsed.data;
}
