/**
 * Collecting a finished tool's outputs: every pattern must match, every match
 * must be a regular file whose real path stays inside the sandbox, and the
 * set must fit the limits — checked before a single byte is hashed, so a tool
 * that leaves a huge file is refused without reading it.
 *
 * Runs after the whole process group is dead: nothing changes the sandbox
 * between these checks and the hashing (the executor uploads from `file`).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, realpath, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { GamedockError, errnoCode } from "../../core/index.js";
import type { CollectedOutput, RunLimits } from "./contract.js";
import type { OutputPattern } from "./glob.js";
import { insideRoot, isWithin } from "./relative-path.js";
import { walkTree } from "./tree-walk.js";

export interface OutputRules {
  /** Real path of the sandbox. */
  sandbox: string;
  patterns: readonly OutputPattern[];
  /** Where inputs were placed: a glob never matches them (a literal pattern may). */
  inputPaths: ReadonlySet<string>;
  limits: Pick<RunLimits, "maxOutputs" | "maxOutputBytes">;
}

interface Candidate {
  rel: string;
  abs: string;
}

/** The outputs, hashed; or a GamedockError E_OUTPUT_MISSING / E_OUTPUT_INVALID / E_LIMIT. */
export async function collectOutputs(rules: OutputRules): Promise<CollectedOutput[]> {
  const candidates = await matchPatterns(rules);
  const { maxOutputs, maxOutputBytes } = rules.limits;
  if (candidates.length > maxOutputs) {
    throw limitError("maxOutputs", maxOutputs, candidates.length, "files");
  }
  const files: { rel: string; file: string }[] = [];
  let total = 0;
  for (const candidate of candidates) {
    const file = await regularFileInside(rules.sandbox, candidate);
    total += (await stat(file)).size;
    files.push({ rel: candidate.rel, file });
  }
  if (total > maxOutputBytes) throw limitError("maxOutputBytes", maxOutputBytes, total, "bytes");
  const outputs: CollectedOutput[] = [];
  for (const { rel, file } of files) outputs.push({ path: rel, file, ...(await hashFile(file)) });
  return outputs;
}

/** Every pattern's matches, in pattern order, each path once. */
async function matchPatterns(rules: OutputRules): Promise<Candidate[]> {
  const files = rules.patterns.some((pattern) => !pattern.literal)
    ? await filesForGlobs(rules.sandbox, rules.inputPaths)
    : [];
  const found = new Map<string, Candidate>();
  for (const pattern of rules.patterns) {
    const matches = pattern.literal
      ? await literalMatch(rules.sandbox, pattern)
      : files.filter((file) => pattern.matches(file.rel));
    if (matches.length === 0) {
      throw new GamedockError(
        "E_OUTPUT_MISSING",
        `output ${JSON.stringify(pattern.source)} matched no file in the sandbox`,
        { pattern: pattern.source },
      );
    }
    for (const match of matches) if (!found.has(match.rel)) found.set(match.rel, match);
  }
  return [...found.values()];
}

/** What a glob may match: anything but a directory, that is not an input. */
async function filesForGlobs(sandbox: string, inputPaths: ReadonlySet<string>) {
  const files: Candidate[] = [];
  for await (const entry of walkTree(sandbox)) {
    if (!entry.stats.isDirectory() && !inputPaths.has(entry.rel)) files.push(entry);
  }
  return files;
}

async function literalMatch(sandbox: string, pattern: OutputPattern): Promise<Candidate[]> {
  const abs = insideRoot(sandbox, pattern.segments, "output");
  const stats = await lstat(abs).catch((err: unknown) => {
    if (["ENOENT", "ENOTDIR", "EACCES"].includes(errnoCode(err) ?? "")) return null;
    throw err;
  });
  if (stats === null) return [];
  if (stats.isDirectory()) {
    throw invalid(pattern.normal, "is a directory; name the files in it (for example dir/**)");
  }
  return [{ rel: pattern.normal, abs }];
}

/** The real path of a match, checked to be a regular file inside the sandbox. */
async function regularFileInside(sandbox: string, candidate: Candidate): Promise<string> {
  let real: string;
  try {
    real = await realpath(candidate.abs);
  } catch (err) {
    const why =
      errnoCode(err) === "ENOENT"
        ? "is a symbolic link to nothing"
        : `cannot be resolved (${errnoCode(err) ?? String(err)})`;
    throw invalid(candidate.rel, why);
  }
  if (!isWithin(sandbox, real)) {
    throw invalid(candidate.rel, `leads to ${real}, outside the sandbox`, { target: real });
  }
  const stats = await stat(real);
  if (!stats.isFile()) {
    throw invalid(candidate.rel, "is not a regular file (a directory, fifo, socket or device)");
  }
  return real;
}

function invalid(path: string, why: string, extra: Record<string, unknown> = {}): GamedockError {
  return new GamedockError("E_OUTPUT_INVALID", `output ${JSON.stringify(path)} ${why}`, {
    path,
    ...extra,
  });
}

function limitError(limit: string, max: number, actual: number, unit: string): GamedockError {
  return new GamedockError(
    "E_LIMIT",
    `the outputs are ${actual} ${unit}, more than ${limit} (${max})`,
    { limit, max, actual },
  );
}

/** sha256 and length of a file, streamed. */
async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(createReadStream(file), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      size += chunk.length;
      hash.update(chunk);
    }
  });
  return { size, sha256: hash.digest("hex") };
}
