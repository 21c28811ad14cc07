/**
 * The key that signs download URLs when files.signingSecret is not set:
 * generated once into <data>/signing.key (mode 0600) and read from there
 * afterwards, so signed URLs survive restarts. Instances that share one data
 * directory share the key; instances on other machines need files.signingSecret.
 */
import { randomBytes } from "node:crypto";
import { link, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  GamedockError,
  claimTempPath,
  errnoCode,
  fsError,
  releaseTemp,
  type Logger,
  makeDirectory,
  directoryError,
} from "../core/index.js";

const KEY_TEXT = /^[0-9a-f]{64}$/;

async function readKey(path: string, about: KeyPurpose): Promise<Buffer | null> {
  let text: string;
  try {
    text = (await readFile(path, "utf8")).trim();
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw fsError(err, path, "signing key file");
  }
  if (!KEY_TEXT.test(text)) {
    throw new GamedockError(
      "E_CONFIG",
      `${path} does not hold a key (64 hex digits); delete it to have a new one generated (${about.purpose} given out so far stop working) or set ${about.setting}`,
      { path },
    );
  }
  return Buffer.from(text, "hex");
}

/**
 * Writes a new key next to `path` and links it into place: link() fails if
 * another instance got there first, so every instance ends up with the same
 * key, and no one can read a half-written file.
 */
async function createKey(path: string): Promise<void> {
  await makeDirectory(dirname(path), directoryError("directory of the signing key"));
  const temp = claimTempPath(dirname(path));
  try {
    await writeFile(temp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    await link(temp, path).catch((err: unknown) => {
      if (errnoCode(err) !== "EEXIST") throw err;
    });
  } catch (err) {
    throw fsError(err, path, "signing key file");
  } finally {
    await rm(temp, { force: true });
    releaseTemp(temp);
  }
}

/** What a key is for, in its messages and log events. */
export interface KeyPurpose {
  /** "signed download URLs" */
  purpose: string;
  /** The setting that replaces the generated key: "files.signingSecret". */
  setting: string;
  /** The log events' stem: "signing-key". */
  event: string;
}

const DOWNLOAD_URLS: KeyPurpose = {
  purpose: "signed download URLs",
  setting: "files.signingSecret",
  event: "signing-key",
};

export async function loadSigningKey(
  path: string,
  logger: Logger,
  about: KeyPurpose = DOWNLOAD_URLS,
): Promise<Buffer> {
  let key = await readKey(path, about);
  if (!key) {
    await createKey(path);
    key = await readKey(path, about);
    if (!key) throw new GamedockError("E_INTERNAL", `${path} vanished right after it was created`);
    logger.info(
      { event: `${about.event}-created`, path },
      `generated the key for ${about.purpose}`,
    );
  }
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { event: `${about.event}-exposed`, path, mode: (mode & 0o777).toString(8) },
      `the key file for ${about.purpose} is readable by other users: chmod 600 it`,
    );
  }
  return key;
}
