/** Public surface of the task cluster: the server side, the executor, and their vocabulary. */
export {
  ClusterService,
  type ClusterSettings,
  type InputCatalog,
  type SubmitAnswer,
} from "./service.js";
export { registerClusterRoutes, type ClusterRoutesOptions } from "./routes.js";
export { sweepCluster, type SweepCounts } from "./sweep.js";
export { Executor, ServerApi, openStagingCache, httpInputSource } from "./executor/index.js";
export type { ExecutorOptions } from "./executor/index.js";
export type { ExecutorView, TaskView, TaskStatus, TaskSpec } from "./model.js";
export { TASK_STATUSES } from "./model.js";
