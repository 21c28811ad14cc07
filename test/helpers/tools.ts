/**
 * Helpers for tests that check our output with Debian's Android tools (`apksigner`, `aapt`,
 * `zipalign`), put Debian's `nginx` in front of gamedock, or drive Debian's `chromium`. A missing
 * tool skips the suite with a loud message, unless GAMEDOCK_REQUIRE_TOOLS=1 (CI), where it is an
 * error — a skipped verification must never pass silently there.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export type ToolName = "apksigner" | "aapt" | "zipalign" | "nginx" | "chromium";

const INSTALL_HINT = "apt-get install apksigner aapt zipalign android-framework-res";
const hintFor = (name: ToolName): string =>
  name === "nginx" || name === "chromium" ? `apt-get install ${name}` : INSTALL_HINT;
/** nginx lives in /usr/sbin, which is on root's PATH but often not on a user's. */
const SEARCH_PATH = `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin`;
const available = new Map<ToolName, boolean>();
const warned = new Set<ToolName>();

const located = new Map<ToolName, string | null>();

/** The tool's absolute path, or null (looked up once per process, like `command -v`). */
export function toolPath(name: ToolName): string | null {
  let path = located.get(name);
  if (path === undefined) {
    const probe = spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], {
      encoding: "utf8",
      env: { ...process.env, PATH: SEARCH_PATH },
    });
    path = probe.status === 0 ? probe.stdout.trim() || null : null;
    located.set(name, path);
  }
  return path;
}

/** Whether `name` is on PATH (or in an sbin directory). */
export function toolAvailable(name: ToolName): boolean {
  let found = available.get(name);
  if (found === undefined) {
    found = toolPath(name) !== null;
    available.set(name, found);
  }
  return found;
}

const requireTools = (): boolean => process.env.GAMEDOCK_REQUIRE_TOOLS === "1";

/**
 * For node:test's `{ skip }` option: `false` when every tool is present, otherwise a skip reason
 * (also printed once per tool to stderr so nobody mistakes the skip for a pass). Throws instead
 * when GAMEDOCK_REQUIRE_TOOLS=1.
 */
export function skipUnlessTool(...names: [ToolName, ...ToolName[]]): string | false {
  const missing = names.filter((name) => !toolAvailable(name));
  if (missing.length === 0) return false;
  const hints = [...new Set(missing.map(hintFor))].join("; ");
  const reason = `Debian tool(s) not found on PATH: ${missing.join(", ")} (${hints})`;
  if (requireTools()) {
    throw new Error(`${reason}; GAMEDOCK_REQUIRE_TOOLS=1 forbids skipping`);
  }
  for (const name of missing) {
    if (warned.has(name)) continue;
    warned.add(name);
    process.stderr.write(
      `\n!!! SKIPPING tests that need '${name}': not found on PATH (${hintFor(name)}).\n` +
        `!!! Set GAMEDOCK_REQUIRE_TOOLS=1 to make this a failure.\n\n`,
    );
  }
  return reason;
}

interface ExecOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion; a non-zero exit is a result, a missing binary is an error. */
async function run(tool: ToolName, args: string[]): Promise<ExecOutput> {
  try {
    const { stdout, stderr } = await execFileAsync(tool, args, {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, LC_ALL: "C.UTF-8" },
    });
    return { code: 0, stdout, stderr };
  } catch (error: unknown) {
    if (isExitError(error)) {
      return { code: error.code, stdout: error.stdout, stderr: error.stderr };
    }
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      throw new Error(`'${tool}' not found on PATH (${INSTALL_HINT})`, { cause: error });
    }
    throw error;
  }
}

function isExitError(error: unknown): error is Error & ExecOutput {
  return (
    error instanceof Error &&
    "code" in error &&
    typeof error.code === "number" &&
    "stdout" in error &&
    typeof error.stdout === "string" &&
    "stderr" in error &&
    typeof error.stderr === "string"
  );
}

export interface ApksignerResult {
  /** apksigner exited 0 and printed "Verifies". */
  ok: boolean;
  v1: boolean;
  v2: boolean;
  v3: boolean;
  /** Always false with apksigner < 33, which neither writes nor reports v3.1. */
  v31: boolean;
  /** stdout then stderr, for assertion messages. */
  output: string;
}

export interface VerifyOptions {
  /**
   * Lowest API level to verify for. Default: the APK's own minSdkVersion, which is what makes
   * both a v1-only APK (minSdk < 24) and a v2-only APK (minSdk >= 24) verify. Pass 24 to check a
   * v2-only APK whose manifest claims less, or a higher level to look past a v1 problem.
   */
  minSdk?: number;
  maxSdk?: number;
  /** Adds `--print-certs`: "Signer #1 certificate DN: ..." lines in `output`. */
  printCerts?: boolean;
}

/** `apksigner verify --verbose`, parsed. Never throws for a bad APK: check `ok`. */
export async function apksignerVerify(
  apkPath: string,
  options: VerifyOptions = {},
): Promise<ApksignerResult> {
  const args = ["verify", "--verbose"];
  if (options.minSdk !== undefined) args.push("--min-sdk-version", String(options.minSdk));
  if (options.maxSdk !== undefined) args.push("--max-sdk-version", String(options.maxSdk));
  if (options.printCerts === true) args.push("--print-certs");
  args.push("--", apkPath);
  const result = await run("apksigner", args);
  const output = result.stdout + result.stderr;
  // "Verified using v1 scheme (JAR signing): true", "... v3.1 scheme (APK Signature Scheme v3.1): true"
  const schemes = new Map<string, boolean>();
  for (const match of output.matchAll(
    /^Verified using (v[\d.]+) scheme\b[^\n]*: (true|false)$/gm,
  )) {
    schemes.set(match[1]!, match[2] === "true");
  }
  return {
    ok: result.code === 0 && /^Verifies$/m.test(result.stdout),
    v1: schemes.get("v1") ?? false,
    v2: schemes.get("v2") ?? false,
    v3: schemes.get("v3") ?? false,
    v31: schemes.get("v3.1") ?? false,
    output,
  };
}

export interface Badging {
  package: string;
  versionCode: number;
  versionName: string;
  minSdk: number;
  targetSdk: number;
  label: string;
}

/** Undoes aapt's output escaping (ResTable::normalizeForOutput: `\\`, `\n`, `\"`). */
function unescapeAapt(value: string): string {
  return value.replace(/\\(["\\n])/g, (_all, char: string) => (char === "n" ? "\n" : char));
}

/** `aapt dump badging`, parsed. Values are resolved through resources.arsc by aapt itself. */
export async function aaptBadging(apkPath: string): Promise<Badging> {
  const result = await run("aapt", ["dump", "badging", apkPath]);
  const out = result.stdout;
  // Values are single-quoted but a quote inside is not escaped, so each value ends at the
  // quote that is followed by the next known attribute (or the end of the line).
  const pkg =
    /^package: name='(.*?)' versionCode='(.*?)' versionName='(.*?)'(?= [A-Za-z]+='|$)/m.exec(out);
  if (result.code !== 0 || pkg === null) {
    throw new Error(
      `aapt dump badging ${apkPath} failed (exit ${result.code}):\n${result.stderr}${out}`,
    );
  }
  const line = (pattern: RegExp): string | undefined => pattern.exec(out)?.[1];
  const minSdk = Number(line(/^sdkVersion:'(\d+)'$/m) ?? "1");
  const targetSdk = Number(line(/^targetSdkVersion:'(\d+)'$/m) ?? String(minSdk));
  const label =
    line(/^application-label:'(.*)'$/m) ?? line(/^application: label='(.*?)' icon='/m) ?? "";
  return {
    package: unescapeAapt(pkg[1]!),
    versionCode: Number(pkg[2] || "0"),
    versionName: unescapeAapt(pkg[3]!),
    minSdk,
    targetSdk,
    label: unescapeAapt(label),
  };
}
