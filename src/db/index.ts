/** Public surface of the SQL layer: Kysely over SQLite, MySQL/MariaDB or PostgreSQL. */
export { openDatabase, type Database, type DatabaseConfig, type DbDialect } from "./open.js";
export type {
  FileBlobTable,
  FileQuotaOwnerTable,
  FileReservationTable,
  FileTable,
  FileUploadTable,
  NotificationTable,
  PackJobTable,
  PackTaskTable,
  Tables,
} from "./schema.js";
