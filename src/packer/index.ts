/** Public surface of the packaging service: context, pipeline and HTTP routes. */
export { PackerContext, type PackerSettings, type StageQueues } from "./context.js";
export { PackerPipeline, STAGES, type Stage } from "./pipeline.js";
export { registerPackRoutes } from "./routes.js";
export { PackStore } from "./store/index.js";
export { queueNotifications } from "./dispatch.js";
export type { ChannelView, JobStatus, JobSummary, JobView, TaskState } from "./model.js";
