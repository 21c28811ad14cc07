/**
 * `gamedock pack`: one child APK per channel from a signed mother, with a
 * progress bar on a TTY and a one-line summary (or one JSON document).
 */
import { text } from "node:stream/consumers";
import { performance } from "node:perf_hooks";
import { Option, type Command } from "commander";
import {
  PackAborted,
  parseChannelArg,
  parseChannelFileText,
  parseExtras,
  preparePack,
  readChannelFile,
  runPack,
  type BlockFormat,
  type ChannelEntry,
  type ChildResult,
  type V1Style,
} from "../../apk/index.js";
import { GamedockError, Lifecycle, createLogger, loadConfig } from "../../core/index.js";
import { integerFlag } from "../flags.js";
import { collect, count, printJson } from "../output.js";

interface PackCliOptions {
  channels?: string;
  channelFile?: string;
  outDir: string;
  name?: string;
  extra?: string[];
  jobs?: number;
  format?: BlockFormat;
  v1Style?: V1Style;
  allowUnsigned?: boolean;
  force?: boolean;
  json?: boolean;
  config?: string;
}

/** `-f -`: the channel list comes on stdin (`generate-channels | gamedock pack game.apk -f -`). */
async function readChannelStdin(): Promise<ChannelEntry[]> {
  const entries = parseChannelFileText(await text(process.stdin), "stdin");
  if (entries.length === 0) {
    throw new GamedockError("E_CHANNEL_FILE", "the channel list on stdin (-f -) lists no channels");
  }
  return entries;
}

async function gatherChannels(opts: PackCliOptions): Promise<ChannelEntry[]> {
  if (opts.channels === undefined && opts.channelFile === undefined) {
    throw new GamedockError(
      "E_USAGE",
      "no channels given: use -c a,b,c or -f channels.txt (-f - reads stdin)",
    );
  }
  const fromArg = opts.channels !== undefined ? parseChannelArg(opts.channels) : [];
  const fromFile =
    opts.channelFile === undefined
      ? []
      : opts.channelFile === "-"
        ? await readChannelStdin()
        : await readChannelFile(opts.channelFile);
  return [...fromArg, ...fromFile];
}

interface Progress {
  tick: (result: ChildResult) => void;
  stop: () => void;
}

/** A bar on stderr when a person is watching; cli-progress is loaded only then. */
async function progressBar(total: number, enabled: boolean): Promise<Progress> {
  if (!enabled) return { tick: () => undefined, stop: () => undefined };
  const { SingleBar, Presets } = await import("cli-progress");
  const bar = new SingleBar(
    {
      format: "packing [{bar}] {value}/{total} channels | {channel} | {duration_formatted}",
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { channel: "" });
  return {
    tick: (r) => {
      bar.increment(1, { channel: r.channel });
    },
    stop: () => {
      bar.stop();
    },
  };
}

async function pack(apk: string, opts: PackCliOptions): Promise<void> {
  const config = await loadConfig({ file: opts.config });
  // pack logs at debug level only: build a logger just when someone will read it.
  const wantLog = config.log.file !== "" || ["debug", "trace"].includes(config.log.level);
  const log = wantLog
    ? (await createLogger({ level: config.log.level, file: config.log.file || null })).child({
        component: "pack",
      })
    : undefined;
  const started = performance.now();
  const plan = await preparePack({
    mother: apk,
    channels: await gatherChannels(opts),
    outDir: opts.outDir,
    template: opts.name ?? config.pack.nameTemplate,
    extras: parseExtras(opts.extra ?? [], "-e"),
    format: opts.format ?? config.pack.format,
    v1Style: opts.v1Style ?? config.pack.v1Style,
    allowUnsigned: opts.allowUnsigned ?? false,
    force: opts.force ?? false,
  });

  const lifecycle = new Lifecycle();
  let stopSignal: NodeJS.Signals = "SIGINT";
  lifecycle.install((signal) => {
    stopSignal = signal;
  });
  log?.debug({ apk, outDir: plan.outDir, channels: plan.children.length }, "pack planned");
  const bar = await progressBar(plan.children.length, !opts.json && process.stderr.isTTY);
  const onChild = (result: ChildResult): void => {
    log?.debug(
      { channel: result.channel, file: result.file, bytes: result.size, status: result.status },
      "child",
    );
    bar.tick(result);
  };
  let results: ChildResult[];
  try {
    results = await runPack(plan, {
      concurrency: opts.jobs ?? config.pack.concurrency,
      signal: lifecycle.signal,
      onChild,
    });
  } catch (err) {
    bar.stop();
    if (err instanceof PackAborted) {
      process.stderr.write(
        `gamedock: interrupted after ${err.results.length} of ${count(plan.children.length, "channel")}; finished children are complete, nothing half-written remains\n`,
      );
      process.exit(stopSignal === "SIGINT" ? 130 : 143);
    }
    throw err;
  }
  bar.stop();
  const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  log?.debug({ apk, outDir: plan.outDir, channels: results.length, seconds }, "pack done");
  if (opts.json) {
    printJson({ apk, outDir: plan.outDir, channels: results, seconds });
    return;
  }
  const written = results.filter((r) => r.status === "written").length;
  const skipped = results.length - written;
  process.stdout.write(
    `packed ${count(results.length, "channel")} of ${plan.manifest.package} ${plan.manifest.versionName ?? ""} into ${plan.outDir}: ${written} written, ${skipped} skipped (up to date) in ${seconds.toFixed(2)} s\n`,
  );
}

export function register(program: Command): void {
  program
    .command("pack <apk>")
    .summary("write one child APK per channel from a signed mother APK")
    .description(
      "Write one child APK per channel from a signed mother APK. Every signature stays valid: the channel goes into the APK Signing Block (Walle or VasDolly format), or into the zip comment or META-INF for v1-only APKs.\n" +
        "Children are complete or absent: each is written to a temp file and renamed. Children that are already up to date are skipped.",
    )
    .option("-c, --channels <list>", "comma-separated channel ids, e.g. huawei,xiaomi,oppo")
    .option(
      "-f, --channel-file <file>",
      "file with one channel per line, or - for stdin; # starts a comment; key=value extras may follow the channel",
    )
    .option("-o, --out-dir <dir>", "directory for the children, created if missing", ".")
    .option(
      "--name <template>",
      "output file name from the fields {package} {versionName} {versionCode} {label} {channel} {mother} (default: pack.nameTemplate, {package}-{versionName}-{channel}.apk)",
    )
    .option(
      "-e, --extra <key=value>",
      "extra stored with every channel (Walle); repeatable",
      collect,
    )
    .option(
      "-j, --jobs <n>",
      "children written at once, 1 to 64 (default: pack.concurrency, 2)",
      integerFlag("-j/--jobs", 1, 64),
    )
    .addOption(
      new Option(
        "--format <format>",
        "channel format for APKs with a signing block (default: pack.format, walle)",
      ).choices(["walle", "vasdolly", "both"]),
    )
    .addOption(
      new Option(
        "--v1-style <style>",
        "channel style for v1-only APKs: the VasDolly zip comment, or an empty META-INF/channel_<id> entry (default: pack.v1Style, comment)",
      ).choices(["comment", "meta-inf"]),
    )
    .option("--allow-unsigned", "pack an unsigned mother (its children stay unsigned)")
    .option("--force", "rewrite outputs that already exist")
    .option("--json", "print one JSON document: {apk, outDir, channels: [...], seconds}")
    .option("--config <file>", "JSON config file; its pack.* keys give the defaults")
    .action(pack);
}
