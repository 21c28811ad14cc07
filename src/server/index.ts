/** Public surface of the process compositions: `serve`, `worker` and `files`. */
export { startServe, type RunningServer } from "./serve.js";
export { startWorker } from "./worker.js";
export { openFilesService, startFiles, type FilesService, type RunningFiles } from "./files.js";
export { resolveConfig, isLoopback } from "./resolve.js";
export { runDoctor, type Check, type DoctorOptions } from "./doctor/index.js";
export { mintRealtimeToken, startGatewayProcess, startLogicProcess } from "./realtime.js";
export { reconcileWallets } from "./guess.js";
