#!/usr/bin/env bash
# Builds the small, real, signed APK fixtures in test/fixtures/ from scripts/fixture-src/.
#
#   bash scripts/make-fixtures.sh      (or: npm run fixtures)
#
# Needs Debian's aapt, zipalign, apksigner, android-framework-res, openssl and node.
# Re-runnable: keys and the rotation lineage are generated once (then reused, they are committed);
# every APK is rebuilt. aapt writes fixed 1980 timestamps and all keys are RSA (PKCS#1 v1.5
# signatures are deterministic), so a re-run reproduces the committed fixtures byte for byte.
# test/fixtures/README.md describes every fixture; update it when this script changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/fixture-src"
OUT="$ROOT/test/fixtures"
KEYS="$OUT/keys"

for tool in aapt aapt2 zipalign apksigner openssl node; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "make-fixtures: '$tool' not found (apt-get install aapt zipalign apksigner android-framework-res openssl)" >&2
    exit 1
  fi
done

# The framework resources every manifest links against (android:label, android:versionName ...).
FRAMEWORK="${GAMEDOCK_FRAMEWORK_RES:-}"
if [[ -z "$FRAMEWORK" ]]; then
  FRAMEWORK="$(dpkg -L android-framework-res 2>/dev/null | grep -m1 '/framework-res\.apk$' || true)"
fi
if [[ -z "$FRAMEWORK" || ! -f "$FRAMEWORK" ]]; then
  echo "make-fixtures: framework-res.apk not found (apt-get install android-framework-res, or set GAMEDOCK_FRAMEWORK_RES)" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$KEYS"

# --- keys (TEST ONLY, committed on purpose) ----------------------------------------------------

# make_key NAME "SUBJECT": RSA-2048 key as PKCS#8 DER (NAME.pk8) and self-signed X.509 DER
# certificate (NAME.x509.der), the two formats `apksigner --key/--cert` reads.
make_key() {
  local name="$1" subject="$2"
  if [[ -f "$KEYS/$name.pk8" && -f "$KEYS/$name.x509.der" ]]; then
    return
  fi
  openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 36500 -subj "$subject" \
    -keyout "$WORK/$name.key.pem" -out "$WORK/$name.cert.pem" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -inform PEM -outform DER \
    -in "$WORK/$name.key.pem" -out "$KEYS/$name.pk8"
  openssl x509 -in "$WORK/$name.cert.pem" -outform DER -out "$KEYS/$name.x509.der"
  chmod 644 "$KEYS/$name.pk8" # public test key: readable by the unprivileged test user too
  echo "make-fixtures: generated test key $name"
}

make_key key-a "/CN=gamedock TEST ONLY key A/O=gamedock test fixtures"
make_key key-b "/CN=gamedock TEST ONLY key B/O=gamedock test fixtures"

signer_a=(--v1-signer-name CERT --key "$KEYS/key-a.pk8" --cert "$KEYS/key-a.x509.der")
signer_b=(--v1-signer-name CERT --key "$KEYS/key-b.pk8" --cert "$KEYS/key-b.x509.der")

# Proof of rotation A -> B for APK Signature Scheme v3.
LINEAGE="$KEYS/lineage-a-to-b.bin"
if [[ ! -f "$LINEAGE" ]]; then
  apksigner rotate --out "$LINEAGE" \
    --old-signer --key "$KEYS/key-a.pk8" --cert "$KEYS/key-a.x509.der" \
    --new-signer --key "$KEYS/key-b.pk8" --cert "$KEYS/key-b.x509.der"
  echo "make-fixtures: generated lineage $LINEAGE"
fi

# --- builders ----------------------------------------------------------------------------------

# build_unsigned SOURCE OUT.apk: resources-only APK, zipaligned (-p 4). Built by (legacy) aapt, or
# by aapt2 when BUILDER=aapt2. Extra aapt options come from AAPT_OPTS (word-split on purpose).
build_unsigned() {
  local source="$SRC/$1" out="$2"
  if [[ "${BUILDER:-aapt}" == aapt2 ]]; then
    rm -f "$WORK/compiled.zip"
    aapt2 compile --dir "$source/res" -o "$WORK/compiled.zip"
    aapt2 link -o "$WORK/raw.apk" -I "$FRAMEWORK" --manifest "$source/AndroidManifest.xml" \
      "$WORK/compiled.zip"
  else
    # shellcheck disable=SC2086
    aapt package -f ${AAPT_OPTS:-} -M "$source/AndroidManifest.xml" -S "$source/res" \
      -I "$FRAMEWORK" -F "$WORK/raw.apk"
  fi
  zipalign -p -f 4 "$WORK/raw.apk" "$out"
  rm -f "$WORK/raw.apk"
}

# publish TMP NAME: moves a finished APK into test/fixtures atomically.
publish() {
  mv -f "$1" "$OUT/$2"
  echo "make-fixtures: wrote test/fixtures/$2 ($(stat -c %s "$OUT/$2") bytes)"
}

# sign_fixture SOURCE NAME [apksigner sign options...]: build, sign, verify, publish.
sign_fixture() {
  local source="$1" name="$2"
  shift 2
  build_unsigned "$source" "$WORK/unsigned-$name"
  apksigner sign "$@" --out "$WORK/$name" "$WORK/unsigned-$name"
  rm -f "$WORK/unsigned-$name" "$WORK/$name.idsig"
  apksigner verify "$WORK/$name" >/dev/null
  publish "$WORK/$name" "$name"
}

# --- fixtures ----------------------------------------------------------------------------------

# minSdk 21: apksigner's defaults pick v1 (< 24), v2 and v3 (max SDK open).
sign_fixture sample v1v2v3.apk "${signer_a[@]}"

# JAR signing only. minSdk 19 < 24 so v1 alone verifies everywhere; targetSdk 28 (< 30, which
# would require v2).
sign_fixture v1only v1only.apk --v2-signing-enabled false --v3-signing-enabled false "${signer_a[@]}"

# minSdk 24: v1 may be dropped.
sign_fixture v2only v2only.apk --v1-signing-enabled false --v3-signing-enabled false "${signer_a[@]}"

# v1 + v2 by the oldest signer (A); v3 by B with the A -> B proof of rotation.
# (apksigner 31 has no --rotation-min-sdk-version, so no v3.1 block: see README.)
sign_fixture sample v3rotated.apk --lineage "$LINEAGE" "${signer_a[@]}" --next-signer "${signer_b[@]}"

# Chinese label and a versionName that is a @string reference (resolved through resources.arsc).
sign_fixture chinese chinese.apk "${signer_a[@]}"
# Same sources, but aapt --utf16 makes the resources.arsc string pools UTF-16 instead of UTF-8.
AAPT_OPTS=--utf16 sign_fixture chinese chinese-utf16.apk "${signer_a[@]}"
# Same sources through aapt2, the builder of modern APKs (different chunk layout, and its
# resources.arsc mixes UTF-8 and UTF-16 pools).
BUILDER=aapt2 sign_fixture chinese chinese-aapt2.apk "${signer_a[@]}"

# versionName is a literal Chinese string in the manifest (its UTF-16 string pool).
sign_fixture chinese-literal chinese-literal.apk "${signer_a[@]}"

# Label > 127 characters and > 127 UTF-8 bytes, with an apostrophe and double quotes.
sign_fixture longname longname.apk "${signer_a[@]}"

# Aligned, never signed.
build_unsigned sample "$WORK/unsigned.apk"
publish "$WORK/unsigned.apk" unsigned.apk

# v1v2v3.apk with the verity padding pair (0x42726577) removed from its APK Signing Block, as
# older apksigner versions and other signers wrote it. The block is not covered by the v2/v3
# digests and it still starts at the same offset, so the signatures stay valid.
node --input-type=module - "$OUT/v1v2v3.apk" "$WORK/v1v2v3-nopad.apk" <<'EOF'
import { readFileSync, writeFileSync } from "node:fs";
const [input, output] = process.argv.slice(2);
const apk = readFileSync(input);
const eocd = apk.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
const cdOffset = apk.readUInt32LE(eocd + 16);
if (apk.toString("latin1", cdOffset - 16, cdOffset) !== "APK Sig Block 42") {
  throw new Error(`${input}: no APK Signing Block`);
}
const blockStart = cdOffset - Number(apk.readBigUInt64LE(cdOffset - 24)) - 8;
const kept = [];
for (let p = blockStart + 8; p < cdOffset - 24; ) {
  const len = Number(apk.readBigUInt64LE(p));
  if (apk.readUInt32LE(p + 8) !== 0x42726577) kept.push(apk.subarray(p, p + 8 + len));
  p += 8 + len;
}
const pairs = Buffer.concat(kept);
const size = Buffer.alloc(8);
size.writeBigUInt64LE(BigInt(pairs.length + 24));
const block = Buffer.concat([size, pairs, size, Buffer.from("APK Sig Block 42", "latin1")]);
const tail = Buffer.from(apk.subarray(cdOffset));
tail.writeUInt32LE(blockStart + block.length, eocd - cdOffset + 16);
writeFileSync(output, Buffer.concat([apk.subarray(0, blockStart), block, tail]));
EOF
apksigner verify "$WORK/v1v2v3-nopad.apk" >/dev/null
publish "$WORK/v1v2v3-nopad.apk" v1v2v3-nopad.apk

# --- summary (compare with test/fixtures/README.md) --------------------------------------------

node --input-type=module - "$OUT" <<'EOF'
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
const dir = process.argv[2];
const names = { 0x7109871a: "v2", 0xf05368c0: "v3", 0x1b93ad61: "v3.1", 0x42726577: "padding" };
for (const file of readdirSync(dir).filter((f) => f.endsWith(".apk")).sort()) {
  const apk = readFileSync(join(dir, file));
  const eocd = apk.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cdOffset = apk.readUInt32LE(eocd + 16);
  const v1 = apk.includes(Buffer.from("META-INF/MANIFEST.MF")) ? "v1 " : "";
  let pairs = "no signing block";
  if (apk.toString("latin1", cdOffset - 16, cdOffset) === "APK Sig Block 42") {
    const blockStart = cdOffset - Number(apk.readBigUInt64LE(cdOffset - 24)) - 8;
    const ids = [];
    for (let p = blockStart + 8; p < cdOffset - 24; ) {
      const id = apk.readUInt32LE(p + 8);
      ids.push(names[id] ?? `0x${id.toString(16)}`);
      p += 8 + Number(apk.readBigUInt64LE(p));
    }
    pairs = `block@${blockStart} size ${cdOffset - blockStart}: ${ids.join(" ")}`;
  }
  console.log(`${file.padEnd(22)} ${String(apk.length).padStart(6)} B  ${v1}${pairs}`);
}
EOF
