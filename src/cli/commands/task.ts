/**
 * `gamedock task submit|get|cancel` and `gamedock executors`: the cluster from
 * a publisher's shell (docs/cluster.md). Local inputs are uploaded only when
 * the server does not have their content yet; `--wait` follows the task with
 * a progress line on stderr and downloads its outputs with `-o`.
 */
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { ERROR_CODES, GamedockError, type ErrorCode } from "../../core/index.js";
import { integerFlag, nonEmptyFlag } from "../flags.js";
import { collect, count, printJson } from "../output.js";

interface ServerOptions {
  server: string;
  token?: string;
  json?: boolean;
}

interface SubmitOptions extends ServerOptions {
  input?: string[];
  output?: string[];
  pool?: string;
  key?: string;
  cacheable?: boolean;
  retries?: number;
  assignMs?: number;
  stagingMs?: number;
  runMs?: number;
  env?: string[];
  wait?: boolean;
  outDir?: string;
}

function serverFlags(command: Command): Command {
  return command
    .addOption(
      new Option("--server <url>", "the gamedock server")
        .default("http://127.0.0.1:8080")
        .env("GAMEDOCK_SERVER"),
    )
    .addOption(new Option("--token <token>", "API token").env("GAMEDOCK_TOKEN"))
    .option("--json", "print one JSON document on stdout");
}

async function client(opts: ServerOptions) {
  const { ClusterClient } = await import("../../cluster/client.js");
  return new ClusterClient(opts.server.replace(/\/+$/, ""), opts.token ?? null);
}

/** `path=@local-file` or `path=sha256:HEX:SIZE`. */
function parseInput(spec: string): { path: string; file?: string; sha256?: string; size?: number } {
  const eq = spec.indexOf("=");
  const path = eq > 0 ? spec.slice(0, eq) : "";
  const source = spec.slice(eq + 1);
  if (path !== "" && source.startsWith("@") && source.length > 1)
    return { path, file: source.slice(1) };
  const digest = /^sha256:([0-9a-f]{64}):(\d+)$/.exec(source);
  if (path !== "" && digest) return { path, sha256: digest[1]!, size: Number(digest[2]) };
  throw new GamedockError(
    "E_USAGE",
    `--input ${JSON.stringify(spec)} must be path=@local-file or path=sha256:HEX:SIZE`,
  );
}

function describe(task: { status: string; executor: string | null; attempts: number }): string {
  return `${task.status}${task.executor ? ` on ${task.executor}` : ""}${task.attempts > 1 ? ` (run ${task.attempts})` : ""}`;
}

async function submit(tool: string, args: string[], opts: SubmitOptions): Promise<void> {
  const api = await client(opts);
  const inputs = [];
  for (const spec of opts.input ?? []) {
    const input = parseInput(spec);
    if (input.file !== undefined) {
      const stored = await api.inputFromFile(input.path, resolve(input.file), 7 * 86_400);
      if (!opts.json)
        process.stderr.write(
          `${input.path}: ${stored.uploaded ? "uploaded" : "already on the server"} (${stored.size} bytes)\n`,
        );
      inputs.push({ path: stored.path, sha256: stored.sha256, size: stored.size });
    } else {
      inputs.push({ path: input.path, sha256: input.sha256, size: input.size });
    }
  }
  const env = Object.fromEntries(
    (opts.env ?? []).map((pair) => {
      const eq = pair.indexOf("=");
      if (eq <= 0)
        throw new GamedockError("E_USAGE", `--env ${JSON.stringify(pair)} must be KEY=value`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
  const timeouts = {
    ...(opts.assignMs !== undefined ? { assignMs: opts.assignMs } : {}),
    ...(opts.stagingMs !== undefined ? { stagingMs: opts.stagingMs } : {}),
    ...(opts.runMs !== undefined ? { runMs: opts.runMs } : {}),
  };
  let task = await api.submit({
    tool,
    args,
    inputs,
    outputs: opts.output ?? [],
    env,
    timeouts,
    ...(opts.pool ? { pool: opts.pool } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    cacheable: opts.cacheable === true,
  });
  if (opts.wait) {
    let shown = "";
    task = await api.follow(task.id, (update) => {
      const line = describe(update);
      if (line !== shown && !opts.json) process.stderr.write(`task ${update.id}: ${line}\n`);
      shown = line;
    });
  }
  const written =
    opts.wait && opts.outDir && task.status === "done"
      ? await api.download(task, resolve(opts.outDir))
      : [];
  if (opts.json) printJson({ ...task, downloaded: written });
  else {
    process.stdout.write(`${task.id} ${task.status}\n`);
    if (written.length > 0)
      process.stdout.write(
        `downloaded ${count(written.length, "output")} to ${resolve(opts.outDir ?? ".")}\n`,
      );
  }
  if (opts.wait && task.status !== "done") {
    const code = task.error?.code ?? "E_INTERNAL";
    throw new GamedockError(
      code in ERROR_CODES ? (code as ErrorCode) : "E_INTERNAL",
      `task ${task.id} ended ${task.status}: ${task.error?.message ?? ""}${task.result?.stderr ? `\n${task.result.stderr.trimEnd()}` : ""}`,
    );
  }
}

export function register(program: Command): void {
  const task = program
    .command("task")
    .summary("submit, inspect and cancel cluster tasks")
    .description(
      "Tasks of the cluster: a tool run by an executor on inputs named by sha256 (docs/cluster.md).",
    );

  serverFlags(
    task
      .command("submit")
      .summary("submit a task; --wait follows it and -o downloads its outputs")
      .description(
        "Submit a task that runs <tool> with [args...] on an executor of the pool. Put tool arguments that start with - after --, e.g.\n" +
          "  gamedock task submit etc1 --input in.png=@icon.png --output out.pkm -- -o out.pkm in.png\n\n" +
          "Local inputs (path=@file) are uploaded only when the server does not hold their content yet.",
      )
      .argument("<tool>", "tool name, as executors map it in cluster.tools")
      .argument("[args...]", "arguments passed to the tool as given (no shell)")
      .option("--input <spec>", "path=@local-file or path=sha256:HEX:SIZE (repeatable)", collect)
      .option("--output <glob>", "a file or glob the tool leaves (repeatable)", collect)
      .option("--env <KEY=value>", "a variable cluster.envAllow allows (repeatable)", collect)
      .option("--pool <pool>", "executor pool (default: the server's default pool)")
      .option("--key <key>", "idempotency key: the same key returns the same task")
      .option("--cacheable", "reuse the result of an identical earlier task")
      .option("--retries <n>", "re-runs after an executor is lost", integerFlag("--retries", 0, 10))
      .option(
        "--assign-ms <ms>",
        "fail if no executor takes it within this",
        integerFlag("--assign-ms", 100, 86_400_000),
      )
      .option(
        "--staging-ms <ms>",
        "fail if its inputs are not staged within this",
        integerFlag("--staging-ms", 100, 86_400_000),
      )
      .option("--run-ms <ms>", "kill the tool after this", integerFlag("--run-ms", 100, 86_400_000))
      .option("--wait", "follow it to its end (exit 1 with its error if it fails)")
      .option("-o, --out-dir <dir>", "with --wait: download the outputs here", nonEmptyFlag("-o")),
  ).action(async (tool: string, args: string[], opts: SubmitOptions) => {
    await submit(tool, args, opts);
  });

  serverFlags(task.command("get").summary("show a task").argument("<id>", "task id")).action(
    async (id: string, opts: ServerOptions) => {
      const found = await (await client(opts)).get(id);
      if (opts.json) printJson(found);
      else
        process.stdout.write(
          `${found.id} ${describe(found)}${found.error ? ` ${found.error.code}: ${found.error.message}` : ""}\n`,
        );
    },
  );

  serverFlags(task.command("cancel").summary("cancel a task").argument("<id>", "task id")).action(
    async (id: string, opts: ServerOptions) => {
      const cancelled = await (await client(opts)).cancel(id);
      if (opts.json) printJson(cancelled);
      else process.stdout.write(`${cancelled.id} ${cancelled.status}\n`);
    },
  );

  serverFlags(program.command("executors").summary("list the cluster's executors")).action(
    async (opts: ServerOptions) => {
      const executors = await (await client(opts)).executors();
      if (opts.json) printJson({ executors });
      else {
        for (const e of executors) {
          process.stdout.write(
            `${e.id} ${e.state} pool=${e.pool} tools=${Object.keys(e.tools).join(",")} busy=${e.busy}/${e.slots} cache=${e.cache.bytes}/${e.cache.max}\n`,
          );
        }
        if (executors.length === 0) process.stdout.write("no executors\n");
      }
    },
  );
}
