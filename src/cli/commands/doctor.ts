/**
 * `gamedock doctor`: loads the configuration the way serve does (--config,
 * then GAMEDOCK_* variables, then --data) and checks it against every engine
 * it names. One line per check, ✓ or ✗ (⚠ for an optional one) and, for a
 * failure, the fix; --json prints {checks: [...]}. Exit 0 when every required
 * check passes, 1 otherwise.
 */
import type { Command } from "commander";
import { GamedockError, createLogger, isGamedockError, type Config } from "../../core/index.js";
import type { Check } from "../../server/index.js";
import { integerFlag, nonEmptyFlag } from "../flags.js";
import { count, printJson } from "../output.js";
import { effectiveConfig } from "./serve.js";

interface DoctorOptions {
  config?: string;
  data?: string;
  timeout: number;
  json?: boolean;
}

function describeSource(opts: DoctorOptions): string {
  const vars = Object.keys(process.env).filter((name) => name.startsWith("GAMEDOCK_")).length;
  const parts = [opts.config ?? "built-in defaults"];
  if (vars > 0) parts.push(count(vars, "GAMEDOCK_* variable"));
  if (opts.data !== undefined) parts.push("--data");
  return `loaded from ${parts.join(", ")}`;
}

function mark(check: Check): string {
  if (check.ok) return "✓";
  return check.optional ? "⚠" : "✗";
}

function printText(checks: Check[]): void {
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${mark(check)} ${check.name}: ${check.detail}`);
    if (!check.ok && check.fix) lines.push(`    fix: ${check.fix}`);
  }
  const failed = checks.filter((c) => !c.ok && !c.optional).length;
  const warned = checks.filter((c) => !c.ok && c.optional).length;
  const warnings = warned > 0 ? ` (${count(warned, "warning")})` : "";
  lines.push(
    failed === 0
      ? `all required checks passed${warnings}`
      : `${count(failed, "check")} failed${warnings}: see the fixes above`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function doctor(opts: DoctorOptions): Promise<void> {
  let config: Config;
  try {
    config = await effectiveConfig({ config: opts.config, data: opts.data });
  } catch (err) {
    // A config that does not load is the first thing doctor reports, not a crash.
    if (!isGamedockError(err) || !["E_CONFIG", "E_NOT_FOUND", "E_NO_PERMISSION"].includes(err.code))
      throw err;
    report([{ name: "config", ok: false, detail: err.message, fix: configFix(err) }], opts);
    return;
  }
  const { runDoctor } = await import("../../server/index.js");
  const logger = await createLogger({ level: "silent" });
  const checks = await runDoctor(config, {
    timeoutMs: opts.timeout * 1000,
    source: describeSource(opts),
    logger,
  });
  report(checks, opts);
  // A driver whose connection timed out may keep retrying in the background:
  // the answer is printed, so it must not keep the process alive.
  setTimeout(() => process.exit(), 300).unref();
}

function configFix(err: GamedockError): string {
  if (err.code === "E_CONFIG") {
    const field = typeof err.details?.field === "string" ? err.details.field : null;
    return field
      ? `correct ${field} in the config file or its GAMEDOCK_* variable (docs/configuration.md)`
      : "correct the config file (docs/configuration.md)";
  }
  return "give --config a readable JSON file";
}

function report(checks: Check[], opts: DoctorOptions): void {
  if (opts.json) printJson({ checks });
  else printText(checks);
  process.exitCode = checks.every((c) => c.ok || c.optional) ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command("doctor")
    .summary("check the configuration against every engine it names")
    .description(
      "Check the effective configuration (the same --config file and GAMEDOCK_* variables as serve) against every engine it names: the directories, the database and its migrations, each queue backend, each upload target (a write, read and delete of a probe object under gamedock/doctor/), the tus lock Redis, each notifier (a connection only: no event is sent), and Debian's apksigner, aapt and zipalign (optional).\n" +
        "Prints one line per check with ✓ or ✗ and, for ✗, what to fix. Exits 0 when every required check passes, 1 otherwise.",
    )
    .option("--config <file>", "JSON config file (see docs/configuration.md)")
    .option("--data <dir>", "directory for embedded state, as for serve", nonEmptyFlag("--data"))
    .option(
      "--timeout <seconds>",
      "longest wait for one check, 1 to 300 seconds",
      integerFlag("--timeout", 1, 300),
      5,
    )
    .option("--json", "print one JSON document: {checks: [{name, ok, detail, fix?}]}")
    .action(doctor);
}
