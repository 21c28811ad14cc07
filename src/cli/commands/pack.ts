import { performance } from "node:perf_hooks";
import { InvalidArgumentError, Option, type Command } from "commander";
import {
  PackAborted,
  parseChannelArg,
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
import { collect, printJson } from "../output.js";

interface PackCliOptions {
  channels?: string;
  channelFile?: string;
  outDir: string;
  name?: string;
  extra: string[];
  jobs?: number;
  format?: BlockFormat;
  v1Style?: V1Style;
  allowUnsigned?: boolean;
  force?: boolean;
  json?: boolean;
  config?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new InvalidArgumentError("must be a whole number from 1 to 64");
  }
  return n;
}

async function gatherChannels(opts: PackCliOptions): Promise<ChannelEntry[]> {
  if (opts.channels === undefined && opts.channelFile === undefined) {
    throw new GamedockError("E_USAGE", "no channels given: use -c a,b,c or -f channels.txt");
  }
  const fromArg = opts.channels !== undefined ? parseChannelArg(opts.channels) : [];
  const fromFile = opts.channelFile !== undefined ? await readChannelFile(opts.channelFile) : [];
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
    extras: parseExtras(opts.extra, "-e"),
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
        `gamedock: interrupted after ${err.results.length} of ${plan.children.length} channels; finished children are complete, nothing half-written remains\n`,
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
    `packed ${results.length} channels of ${plan.manifest.package} ${plan.manifest.versionName ?? ""} into ${plan.outDir}: ${written} written, ${skipped} skipped (up to date) in ${seconds.toFixed(2)} s\n`,
  );
}

export function register(program: Command): void {
  program
    .command("pack <apk>")
    .description(
      "write one child APK per channel from a signed mother APK; every signature stays valid",
    )
    .option("-c, --channels <list>", "comma-separated channel ids, e.g. huawei,xiaomi,oppo")
    .option(
      "-f, --channel-file <file>",
      "file with one channel per line; '#' starts a comment; key=value extras may follow the channel",
    )
    .option("-o, --out-dir <dir>", "directory for the children (created if missing)", ".")
    .option(
      "--name <template>",
      'output file name; fields {package} {versionName} {versionCode} {label} {channel} {mother} (default "{package}-{versionName}-{channel}.apk")',
    )
    .option(
      "-e, --extra <key=value>",
      "extra stored with every channel (Walle); repeatable",
      collect,
      [],
    )
    .option(
      "-j, --jobs <n>",
      "children written at once (default 2, or pack.concurrency)",
      positiveInt,
    )
    .addOption(
      new Option(
        "--format <format>",
        "channel format for v2/v3-signed APKs (default walle)",
      ).choices(["walle", "vasdolly", "both"]),
    )
    .addOption(
      new Option(
        "--v1-style <style>",
        "channel style for v1-only APKs: VasDolly zip comment, or META-INF/channel_<id> (default comment)",
      ).choices(["comment", "meta-inf"]),
    )
    .option("--allow-unsigned", "pack an unsigned mother (its children stay unsigned)")
    .option("--force", "rewrite outputs that already exist")
    .option("--json", "print one JSON document: {apk, outDir, channels: [...], seconds}")
    .option("--config <file>", "JSON config file (pack.* keys give defaults)")
    .action(pack);
}
