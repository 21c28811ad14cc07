/**
 * `gamedock channel get | put | remove`: the channel of one APK. Writing
 * keeps every signature valid and replaces the APK atomically.
 */
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import {
  openApk,
  parseExtras,
  planChannelRemoval,
  planChild,
  readApkLayout,
  readChannel,
  validateChannelId,
  writeChild,
  requireSigned,
  type BlockFormat,
  type ChannelInfo,
  type ChildPlan,
  type V1Style,
} from "../../apk/index.js";
import { CopyInterrupted, GamedockError, Lifecycle } from "../../core/index.js";
import { collect, printJson } from "../output.js";

interface PutOptions {
  extra?: string[];
  output?: string;
  format: BlockFormat;
  v1Style: V1Style;
  allowUnsigned?: boolean;
  json?: boolean;
}

async function get(apk: string, opts: { json?: boolean }): Promise<void> {
  const layout = await readApkLayout(apk);
  const channel = readChannel(layout);
  if (opts.json) {
    printJson(channel);
    return;
  }
  if (!channel) throw new GamedockError("E_NOT_FOUND", `${apk} carries no channel`, { path: apk });
  const extras = Object.entries(channel.extras).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(`${[channel.channel, ...extras].join(" ")}\n`);
}

/**
 * Writing in place is safe: the child goes to a temp file beside it and replaces
 * it by rename. Ctrl-C must not kill us before writeChild has removed that temp file.
 */
async function writeSafely(apk: string, plan: ChildPlan, out: string): Promise<void> {
  const lifecycle = new Lifecycle();
  lifecycle.install();
  try {
    await writeChild(apk, plan, out);
  } catch (err) {
    if (err instanceof CopyInterrupted || lifecycle.signal.aborted) {
      process.stderr.write(`gamedock: interrupted; ${out} was not changed\n`);
      process.exit(130);
    }
    throw err;
  }
}

async function remove(apk: string, opts: { output?: string; json?: boolean }): Promise<void> {
  const layout = await readApkLayout(apk);
  // A damaged channel is exactly what one may want to remove: report it, do not stop.
  let before: ChannelInfo | null;
  let what: string;
  try {
    before = readChannel(layout);
    what = before ? `channel ${before.channel} (${before.format}) removed` : "had no channel";
  } catch (err) {
    if (!(err instanceof GamedockError && err.code === "E_BAD_SIGNING_BLOCK")) throw err;
    before = null;
    what = "unreadable channel removed";
  }
  const out = resolve(opts.output ?? apk);
  const plan = planChannelRemoval(layout);
  await writeSafely(apk, plan, out);
  if (opts.json) printJson({ apk, output: out, removed: before, size: plan.size });
  else process.stdout.write(`${out}: ${what}, ${plan.size} bytes\n`);
}

async function put(apk: string, channel: string, opts: PutOptions): Promise<void> {
  validateChannelId(channel, "argument <channel>");
  const extras = parseExtras(opts.extra ?? [], "-e");
  const { layout } = await openApk(apk);
  requireSigned(layout, opts.allowUnsigned ?? false);
  const plan = planChild(layout, { channel, extras, format: opts.format, v1Style: opts.v1Style });
  const out = resolve(opts.output ?? apk);
  await writeSafely(apk, plan, out);
  if (opts.json)
    printJson({ apk, output: out, channel, extras, format: plan.format, size: plan.size });
  else process.stdout.write(`${out}: channel ${channel} (${plan.format}), ${plan.size} bytes\n`);
}

export function register(program: Command): void {
  const channel = program
    .command("channel")
    .summary("read, write or remove the channel of one APK")
    .description("Read, write or remove the channel of one APK; every signature stays valid.");
  channel
    .command("get <apk>")
    .summary("print the channel and extras an APK carries")
    .description(
      "Print the channel and extras an APK carries: Walle, VasDolly, a VasDolly zip comment or a META-INF/channel_* entry. Without --json, an APK with no channel exits 4.",
    )
    .option("--json", "print one JSON document (null when there is no channel)")
    .action(get);
  channel
    .command("put <apk> <channel>")
    .summary("write a channel into an APK")
    .description(
      "Write a channel into an APK, keeping every signature valid. Without -o the APK is replaced in place, atomically.",
    )
    .option("-e, --extra <key=value>", "extra stored with the channel (Walle); repeatable", collect)
    .option("-o, --output <file>", "write the result here instead of replacing <apk>")
    .addOption(
      new Option("--format <format>", "channel format for APKs with a signing block")
        .choices(["walle", "vasdolly", "both"])
        .default("walle"),
    )
    .addOption(
      new Option("--v1-style <style>", "channel style for v1-only APKs (no signing block)")
        .choices(["comment", "meta-inf"])
        .default("comment"),
    )
    .option("--allow-unsigned", "write a channel into an unsigned APK")
    .option("--json", "print one JSON document")
    .action(put);
  channel
    .command("remove <apk>")
    .summary("remove every channel gamedock can write")
    .description(
      "Remove every channel gamedock can write (Walle, VasDolly, zip comment, META-INF), keeping every signature valid. Without -o the APK is replaced in place, atomically.",
    )
    .option("-o, --output <file>", "write the result here instead of replacing <apk>")
    .option("--json", "print one JSON document")
    .action(remove);
}
