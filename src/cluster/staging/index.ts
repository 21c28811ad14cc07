/** Public surface of the staging cache: the executor's inputs, fetched once, verified, bounded. */
export type {
  InputRef,
  InputSource,
  StagingCache,
  StagingLease,
  StagingStats,
} from "./contract.js";
export { openStagingCache, type StagingCacheOptions } from "./cache.js";
export { httpInputSource, type HttpInputSourceOptions } from "./http-source.js";
