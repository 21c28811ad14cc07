/**
 * What the packer's end-to-end tests share: the API of a serve child
 * process, and the children `gamedock pack` writes for the same mother and
 * channels — the reference every stored child must equal byte for byte.
 */
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { runCli, tempDir } from "../helpers/cli.js";

/** fetch() against a serve process; JSON in and out. */
export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** The bytes `gamedock pack` writes for each of `channels` of `apk`, by channel. */
export async function packedByCli(apk: string, channels: string[]): Promise<Map<string, Buffer>> {
  const out = await tempDir("gamedock-expected-");
  try {
    const packed = await runCli(["pack", apk, "-c", channels.join(","), "-o", out, "--json"]);
    assert.equal(packed.code, 0, packed.stderr);
    const report = JSON.parse(packed.stdout) as { channels: { channel: string; file: string }[] };
    const bytes = new Map<string, Buffer>();
    for (const c of report.channels) bytes.set(c.channel, await readFile(c.file));
    return bytes;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
