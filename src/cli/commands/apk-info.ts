/** `gamedock apk info`: the facts of one APK, as text or one JSON document. */
import type { Command } from "commander";
import { inspectApk, type ApkInfo } from "../../apk/index.js";
import { printJson } from "../output.js";

function formatInfo(info: ApkInfo): string {
  const schemes = Object.entries(info.signatures)
    .filter(([, on]) => on)
    .map(([name]) => name)
    .join(", ");
  const channel = info.channel
    ? `${info.channel.channel} (${info.channel.format}${Object.keys(info.channel.extras).length ? `, extras ${JSON.stringify(info.channel.extras)}` : ""})`
    : "none";
  return [
    `package:     ${info.package}`,
    `version:     ${info.versionName ?? "-"} (${info.versionCode})`,
    `label:       ${info.label ?? "-"}`,
    `sdk:         min ${info.minSdk}, target ${info.targetSdk}`,
    `size:        ${info.size} bytes`,
    `signatures:  ${schemes || "none"}`,
    `channel:     ${channel}`,
  ].join("\n");
}

export function register(program: Command): void {
  program
    .command("apk")
    .summary("inspect APKs")
    .description("Inspect APKs.")
    .command("info <apk>")
    .summary("show package, version, label, signatures and channel")
    .description(
      "Show an APK's package, version, label, SDK levels, signature schemes and channel, read from its manifest, resources.arsc and signing block.",
    )
    .option("--json", "print one JSON document")
    .action(async (apk: string, opts: { json?: boolean }) => {
      const info = await inspectApk(apk);
      if (opts.json) printJson(info);
      else process.stdout.write(`${formatInfo(info)}\n`);
    });
}
