/** Public surface of the process compositions: `serve` and `worker`. */
export { startServe, type RunningServer } from "./serve.js";
export { startWorker } from "./worker.js";
export { resolveConfig, isLoopback } from "./resolve.js";
