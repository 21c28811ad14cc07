/**
 * Builds (once, then reuses) a real signed APK of about `mb` megabytes with
 * Debian's aapt, zipalign and apksigner: a tiny manifest plus an incompressible
 * stored asset, signed v1+v2+v3 with a bench-only key.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

function frameworkRes(): string {
  const files = execFileSync("dpkg", ["-L", "android-framework-res"], { encoding: "utf8" });
  const apk = files.split("\n").find((f) => /framework-res\.apk$/.test(f));
  if (!apk)
    throw new Error(
      "android-framework-res is not installed (apt-get install android-framework-res)",
    );
  return apk;
}

const MANIFEST = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="com.gamedock.bench" android:versionCode="1" android:versionName="1.0">
  <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="29" />
  <application android:label="Bench" android:hasCode="false" />
</manifest>
`;

async function writeRandom(path: string, mb: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    const chunk = 1024 * 1024;
    for (let i = 0; i < mb; i++) await handle.write(randomBytes(chunk));
  } finally {
    await handle.close();
  }
}

export async function buildSignedApk(target: string, mb: number): Promise<string> {
  if (existsSync(target)) return target;
  await mkdir(dirname(target), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), "gamedock-bench-"));
  try {
    process.stderr.write(`building a signed ${mb} MB APK at ${target} (once) ...\n`);
    await writeFile(join(work, "AndroidManifest.xml"), MANIFEST);
    await mkdir(join(work, "assets"));
    await writeRandom(join(work, "assets/data.bin"), mb);
    const key = join(dirname(target), "bench.jks");
    if (!existsSync(key)) {
      execFileSync(
        "keytool",
        [
          "-genkeypair",
          "-keystore",
          key,
          "-storepass",
          "benchpass",
          "-keypass",
          "benchpass",
          "-alias",
          "bench",
          "-keyalg",
          "RSA",
          "-keysize",
          "2048",
          "-validity",
          "10000",
          "-dname",
          "CN=gamedock bench",
        ],
        { stdio: "ignore" },
      );
    }
    const unaligned = join(work, "unaligned.apk");
    const aligned = join(work, "aligned.apk");
    execFileSync("aapt", [
      "package",
      "-f",
      "-0",
      "bin",
      "-M",
      join(work, "AndroidManifest.xml"),
      "-A",
      join(work, "assets"),
      "-I",
      frameworkRes(),
      "-F",
      unaligned,
    ]);
    execFileSync("zipalign", ["-p", "-f", "4", unaligned, aligned]);
    execFileSync("apksigner", [
      "sign",
      "--ks",
      key,
      "--ks-pass",
      "pass:benchpass",
      "--ks-key-alias",
      "bench",
      "--v1-signing-enabled",
      "true",
      "--v2-signing-enabled",
      "true",
      "--v3-signing-enabled",
      "true",
      "--out",
      `${target}.tmp`,
      aligned,
    ]);
    execFileSync("mv", [`${target}.tmp`, target]);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
