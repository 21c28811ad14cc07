/** Public surface of the APK engine: pure file I/O, no services. */
export { readApkLayout, type ApkLayout } from "./apk-file.js";
export {
  readChannel,
  type BlockFormat,
  type ChannelFormatName,
  type ChannelInfo,
  type V1Style,
} from "./channel-format.js";
export {
  DEFAULT_EXTRAS_LIMITS,
  MAX_CHANNEL_LENGTH,
  parseExtra,
  parseExtras,
  validateChannelId,
  validateExtras,
  type ExtrasLimits,
} from "./channel-id.js";
export {
  planChannelRemoval,
  planChild,
  requireSigned,
  type ChannelSpec,
  type ChildPlan,
} from "./child-plan.js";
export { writeChild } from "./child-writer.js";
export {
  inspectApk,
  inspectApkSource,
  openApk,
  openApkFromSource,
  signatureSchemes,
  type ApkInfo,
  type SignatureSchemes,
} from "./inspect.js";
export type { ManifestInfo } from "./manifest.js";
export { PAIR_ID } from "./signing-block.js";
export {
  parseChannelArg,
  parseChannelFileText,
  readChannelFile,
  rejectDuplicates,
  type ChannelEntry,
} from "./channel-list.js";
export {
  DEFAULT_NAME_TEMPLATE,
  TEMPLATE_FIELDS,
  renderName,
  validateTemplate,
} from "./name-template.js";
export {
  preparePack,
  templateValues,
  type PackOptions,
  type PackPlan,
  type PlannedChild,
} from "./pack-plan.js";
export { PackAborted, runPack, type ChildResult, type RunOptions } from "./pack-run.js";
export { fileSource, type ByteReader, type RandomAccessSource } from "./range-source.js";
