/**
 * What each committed fixture is, as test/fixtures/README.md promises and
 * scripts/make-fixtures.sh builds it: the one place tests take these facts from.
 */
import type { Badging } from "./tools.js";

export type Encoding = "utf8" | "utf16";

export interface FixtureFacts {
  badging: Badging;
  /** null: unsigned. */
  schemes: { v1: boolean; v2: boolean; v3: boolean; v31: boolean } | null;
  /** null: no APK Signing Block. */
  padding: boolean | null;
  manifestPool: Encoding;
  /** resources.arsc pools in file order: global values, package type names, package key names. */
  arscPools: [Encoding, Encoding, Encoding];
}

const SAMPLE: Badging = {
  package: "com.gamedock.sample",
  versionCode: 42,
  versionName: "1.2.3",
  minSdk: 21,
  targetSdk: 29,
  label: "Gamedock Sample",
};
const CHINESE: Badging = {
  package: "com.gamedock.chinese",
  versionCode: 7,
  versionName: "版本1.0测试",
  minSdk: 21,
  targetSdk: 29,
  label: "游戏盒子测试",
};
export const LONG_LABEL =
  '游戏盒子超长名称测试：Gamedock\'s "long label" fixture — 用于测试 resources.arsc 中 ' +
  "UTF-8 字符串池的长长度编码，字符数与字节数都超过一百二十七。" +
  "The quick brown fox jumps over the lazy dog 0123456789 结束";

const ALL = { v1: true, v2: true, v3: true, v31: false };
const UTF8_ARSC: [Encoding, Encoding, Encoding] = ["utf8", "utf8", "utf8"];

export const FIXTURES: Record<string, FixtureFacts> = {
  "v1v2v3.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v1v2v3-nopad.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: false,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v1only.apk": {
    badging: { ...SAMPLE, package: "com.gamedock.sample.v1only", minSdk: 19, targetSdk: 28 },
    schemes: { v1: true, v2: false, v3: false, v31: false },
    padding: null,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v2only.apk": {
    badging: { ...SAMPLE, package: "com.gamedock.sample.v2only", minSdk: 24 },
    schemes: { v1: false, v2: true, v3: false, v31: false },
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v3rotated.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "chinese.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "chinese-utf16.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: ["utf16", "utf16", "utf16"],
  },
  "chinese-aapt2.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: ["utf8", "utf16", "utf8"],
  },
  "chinese-literal.apk": {
    badging: {
      package: "com.gamedock.chinese.literal",
      versionCode: 8,
      versionName: "正式版2.0",
      minSdk: 21,
      targetSdk: 29,
      label: "游戏盒子正式版",
    },
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "longname.apk": {
    badging: {
      package: "com.gamedock.longname",
      versionCode: 9,
      versionName: "长名称1.0",
      minSdk: 21,
      targetSdk: 29,
      label: LONG_LABEL,
    },
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "unsigned.apk": {
    badging: SAMPLE,
    schemes: null,
    padding: null,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
};
