/**
 * The help a user reads: every command's --help fits 80 columns with breaks
 * only where words no longer fit (never a manual break mid-sentence), the
 * process commands show their defaults, usage errors point at the right
 * command's help, and docs/cli.md's summary lists every command.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { ROOT, errorCode, fixture, runCli } from "../helpers/cli.js";

const WIDTH = 80;

/** The subcommand names listed under "Commands:" in a help text. */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
    .map((m) => m[1]!)
    .filter((name) => name !== "help");
}

/** Every command path, found by walking the help texts: ["apk info", "channel get", ...]. */
let walked: Promise<Map<string, string>> | null = null;
const allHelp = (): Promise<Map<string, string>> => (walked ??= walkHelp());

async function walkHelp(): Promise<Map<string, string>> {
  const helps = new Map<string, string>();
  const visit = async (path: string[]): Promise<void> => {
    const result = await runCli([...path, "--help"]);
    assert.equal(result.code, 0, `${path.join(" ")} --help: ${result.stderr}`);
    helps.set(path.join(" "), result.stdout);
    for (const name of subcommands(result.stdout)) await visit([...path, name]);
  };
  await visit([]);
  return helps;
}

const indent = (line: string): number => line.length - line.trimStart().length;

/**
 * Lines that were broken although the next word would have fitted: a manual
 * line break inside a sentence or an option's description.
 */
function earlyBreaks(help: string): string[] {
  const lines = help.split("\n");
  const found: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const previous = lines[i - 1]!;
    const line = lines[i]!;
    if (previous.trim() === "" || line.trim() === "" || /:$/.test(previous)) continue;
    const continuesItem = indent(line) > 2 && indent(line) > indent(previous);
    const continuesText = indent(line) === 0 && indent(previous) === 0 && !/[.!?)]$/.test(previous);
    const sameItemColumn = indent(line) > 2 && indent(line) === indent(previous);
    if (!continuesItem && !continuesText && !sameItemColumn) continue;
    const firstWord = line.trim().split(/\s+/)[0] ?? "";
    if (previous.length + 1 + firstWord.length <= WIDTH) found.push(`${previous} ⏎ ${line.trim()}`);
  }
  return found;
}

describe("gamedock --help", () => {
  let helps = new Map<string, string>();
  before(async () => {
    helps = await allHelp();
  });

  it("reaches every command", () => {
    for (const path of ["", "apk info", "channel get", "channel put", "channel remove", "pack"])
      assert.ok(helps.has(path), path);
    for (const path of ["serve", "worker", "files", "config print", "doctor"])
      assert.ok(helps.has(path), path);
  });

  it("fits 80 columns and breaks lines only where the next word does not fit", () => {
    for (const [path, help] of helps) {
      const long = help.split("\n").filter((line) => line.length > WIDTH);
      assert.deepEqual(long, [], `gamedock ${path} --help has lines over ${WIDTH} columns`);
      assert.deepEqual(earlyBreaks(help), [], `gamedock ${path} --help breaks lines early`);
    }
  });

  it("serve and files name what they serve and show the defaults of --host, --port, --data", () => {
    const serve = helps.get("serve")!;
    for (const served of ["/api/v1/pack-jobs", "/files", "/healthz", "/metrics"])
      assert.ok(serve.includes(served), served);
    assert.ok(helps.get("files")!.includes("/files"));
    for (const command of ["serve", "files"]) {
      const help = helps.get(command)!.replace(/\s+/g, " ");
      assert.match(help, /--host <host> .*\(default: server\.host, 127\.0\.0\.1\)/);
      assert.match(help, /--port <port> .*\(default: server\.port, 8080\)/);
      assert.match(help, /--data <dir> .*\(default: data, \.\/gamedock-data\)/);
    }
  });
});

describe("usage errors point at the help of their command", () => {
  const cases: [string[], string][] = [
    [["pack", fixture("v1v2v3.apk"), "--bogus"], "gamedock pack --help"],
    [["channel", "put", fixture("v1v2v3.apk")], "gamedock channel put --help"],
    [["serve", "--stages", "packing"], "gamedock serve --help"],
    [["doctor", "--timeout", "0"], "gamedock doctor --help"],
    [["frobnicate"], "gamedock --help"],
  ];
  for (const [args, help] of cases) {
    it(`${args.filter((a) => !a.includes("/")).join(" ")} → see '${help}'`, async () => {
      const result = await runCli(args);
      assert.equal(errorCode(result), "E_USAGE", result.stderr);
      assert.equal(result.code, 2);
      assert.ok(result.stderr.trimEnd().endsWith(`see '${help}'`), result.stderr);
      assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
    });
  }

  it("a command that needs a subcommand prints its help on stderr and exits 2", async () => {
    const result = await runCli(["channel"]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /Usage: gamedock channel/);
    assert.match(result.stderr, /put \[options\] <apk> <channel>/);
  });
});

describe("docs/cli.md", () => {
  it("its summary lists every command", async () => {
    const doc = await readFile(join(ROOT, "docs/cli.md"), "utf8");
    const summary = /```\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    for (const [path, help] of await allHelp()) {
      if (path === "" || subcommands(help).length > 0) continue; // groups, not commands
      assert.match(summary, new RegExp(`^gamedock ${path}\\b`, "m"), `gamedock ${path}`);
    }
  });
});
