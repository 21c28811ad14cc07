/** Public surface of the SQL layer: Kysely over SQLite, MySQL/MariaDB or PostgreSQL. */
export {
  openDatabase,
  readMigrationState,
  type Database,
  type DatabaseConfig,
  type DbDialect,
  type MigrationState,
} from "./open.js";
export type {
  ClusterExecutorTable,
  ClusterResultTable,
  ClusterTaskStatus,
  ClusterTaskTable,
  ExecutorState,
  FileBlobTable,
  FileQuotaOwnerTable,
  FileReservationTable,
  FileTable,
  FileUploadTable,
  NotificationState,
  NotificationTable,
  PackJobStatus,
  PackJobTable,
  PackTaskState,
  PackTaskTable,
  Tables,
} from "./schema.js";
