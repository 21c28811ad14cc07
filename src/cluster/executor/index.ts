/**
 * Public surface of the executor side of the cluster: what `gamedock executor`
 * runs. It is its own entry (cluster/index.ts re-exports it) so that the
 * executor process does not load the server side — the task store, the
 * request and report schemas, the routes — which cost it 8 MiB of resident
 * memory for nothing (docs/benchmarks.md, bench:cluster).
 */
export { Executor, type ExecutorOptions } from "./executor.js";
export { ServerApi } from "./api-client.js";
export { openStagingCache, httpInputSource } from "../staging/index.js";
