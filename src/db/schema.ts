/**
 * Table types for Kysely. Portable across SQLite, MySQL/MariaDB and
 * PostgreSQL: times are integer milliseconds, flags are 0/1 integers, JSON is text.
 */

export type PackJobStatus = "queued" | "running" | "done" | "partial" | "failed" | "cancelled";
export type PackTaskState = "queued" | "packing" | "uploading" | "notifying" | "done" | "failed";
export type NotificationState = "pending" | "sent" | "failed";

export interface PackJobTable {
  id: string;
  status: PackJobStatus;
  apk: string; // the mother as the request named it
  apk_path: string; // resolved absolute path
  queue: string; // queue backend name from config
  target: string; // upload target name from config
  prefix: string; // object key prefix
  name_template: string;
  format: string;
  notify_level: string;
  notify_targets: string; // JSON array of notifier names
  round: number; // +1 on every retry: makes job.finished / channel.failed keys unique per round
  cancel_requested: number;
  /** JSON object: extras shared by every channel, stored once (a channel's own override them); null: none. */
  extras: string | null;
  /** +1 with every change a client can see in one of the job's channels (SSE reads what changed since). */
  change_seq: number;
  /** SHA-256 of the mother once a channel composes from its upload (mothers/<sha256>.apk on the target); null: none. */
  mother_sha256: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface PackTaskTable {
  job_id: string;
  channel: string;
  seq: number; // order in the request
  extras: string; // JSON object: this channel's own extras (the job's shared ones are in pack_jobs)
  state: PackTaskState;
  /** Times a worker started work on the channel (every claim: pack, upload, repack, crash redelivery). */
  attempts: number;
  /** Stages the channel finished (pack, upload); attempts − succeeded = starts that did not finish. */
  succeeded: number;
  /** pack_jobs.change_seq of the last visible change to this channel. */
  changed_seq: number;
  error_code: string | null;
  error_message: string | null;
  /** Process that holds the task ("host/pid/nonce"), or null. */
  owner: string | null;
  lease_until: number;
  /** 1 once a message for the current state is in the queue; 0 after every transition. */
  dispatched: number;
  file_name: string | null;
  output_key: string | null;
  output_size: number | null;
  output_sha256: string | null;
  /** JSON UploadCheckpoint of a multipart upload in progress. */
  upload_checkpoint: string | null;
  updated_at: number;
}

export interface NotificationTable {
  /** `<event id>|<notifier name>`: one row per event and notifier. */
  id: string;
  event_id: string;
  job_id: string;
  channel: string | null; // set for channel events
  notifier: string;
  event: string; // JSON NotifyEvent
  state: NotificationState;
  attempts: number;
  last_error: string | null;
  dispatched: number;
  created_at: number;
  sent_at: number | null;
}

/** One row per distinct content (sha256); files point at it. */
export interface FileBlobTable {
  sha256: string; // lowercase hex
  md5: string; // lowercase hex
  size: number;
  blob_key: string; // key of the bytes in the files target
  created_at: number;
}

export interface FileTable {
  id: string;
  name: string; // the client's file name, UTF-8
  content_type: string;
  size: number;
  sha256: string;
  md5: string;
  blob_key: string;
  owner: string;
  created_at: number;
  expires_at: number | null; // null: kept until deleted
}

/** A tus upload in progress. */
export interface FileUploadTable {
  id: string;
  name: string;
  content_type: string;
  owner: string;
  size: number | null; // declared Upload-Length; null while deferred
  received: number; // the tus offset (OFFSET is reserved in SQL)
  sha256: string | null; // of all the bytes, once the last is in (migration 0012)
  md5: string | null;
  created_at: number;
  expires_at: number;
}

/** Space an upload in progress holds against its owner's quota (migration 0003_file_quota). */
export interface FileReservationTable {
  id: string; // the upload's id (PUT file id or tus upload id)
  owner: string;
  bytes: number;
  created_at: number;
  expires_at: number; // a PUT's lease, renewed while bytes flow; a tus upload's expiry
}

/** One row per owner with a quota, locked while one of its reservations is decided. */
export interface FileQuotaOwnerTable {
  owner: string;
}

export type ClusterTaskStatus =
  | "queued"
  | "assigned"
  | "staging"
  | "running"
  | "uploading"
  | "done"
  | "failed"
  | "timed_out"
  | "cancelled";

/** A task of the cluster (docs/cluster.md). JSON columns hold what the API validated. */
export interface ClusterTaskTable {
  id: string;
  /** The publisher's idempotency key; null when none was given. */
  idem_key: string | null;
  status: ClusterTaskStatus;
  tool: string;
  pool: string;
  args: string; // JSON string[]
  inputs: string; // JSON [{path, sha256, size}]
  outputs: string; // JSON string[] (paths or globs)
  env: string; // JSON {key: value}
  timeouts: string; // JSON {assignMs, stagingMs, runMs}
  retries: number; // re-runs allowed after an executor is lost
  cacheable: number;
  /** Result-cache key of a cacheable task, once known; null otherwise. */
  cache_digest: string | null;
  owner: string; // who submitted it (a token's id, or "local")
  notify_level: string; // none | failure | summary | each
  notify_targets: string; // JSON array of notifier names
  executor_id: string | null;
  /** Runs started (claims); the first run is 1. */
  attempts: number;
  cancel_requested: number;
  /** When the current stage must be over (assign, staging, run), ms. */
  deadline_at: number | null;
  result: string | null; // JSON {exitCode, stdout, stderr, outputs, logs}
  error_code: string | null;
  error_message: string | null;
  /** 1 once a message for the current run is in the queue. */
  dispatched: number;
  created_at: number;
  assigned_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export type ExecutorState = "alive" | "lost" | "gone";

export interface ClusterExecutorTable {
  id: string;
  host: string;
  pool: string;
  tools: string; // JSON {name: sha256 of the binary}
  labels: string; // JSON {key: value}
  slots: number;
  busy: number;
  cache_bytes: number;
  cache_max: number;
  state: ExecutorState;
  registered_at: number;
  last_seen: number;
}

/** Results of cacheable tasks by their digest: a repeat returns the first result. */
export interface ClusterResultTable {
  digest: string;
  task_id: string;
  result: string; // JSON, as in cluster_tasks.result
  created_at: number;
}

/** Kinds of ledger entries (docs/guess.md): what caused the balance to change. */
export type GuessLedgerKind = "topup" | "stake" | "payout" | "refund" | "adjust";

export interface GuessWalletTable {
  uid: string;
  /** Minor units (fen); never negative (a CHECK constraint). */
  balance: number;
  updated_at: number;
}

export interface GuessLedgerTable {
  /** What caused the entry, unique: "<kind>:<bet id or order id …>"; a repeat is the same entry. */
  cause: string;
  uid: string;
  kind: GuessLedgerKind;
  /** Signed minor units: credits positive, debits negative. */
  amount: number;
  balance_after: number;
  match_id: string | null;
  /** An operator's reason (adjust), or null. */
  reason: string | null;
  created_at: number;
}

export interface GuessMatchTable {
  id: string;
  /** The feed's id of the match: imports are idempotent by it. */
  external_id: string;
  /** The game or league the lists group by ("lol", "dota2" …). */
  type: string;
  title: string;
  /** JSON array of {id, name}. */
  teams: string;
  starts_at: number;
  /** Betting stops by itself at this time (ms). */
  lock_at: number;
  /** iGuessState (docs/guess.md, "States"). */
  state: number;
  approved: number;
  /** The winning option's id once a result is set; null otherwise. */
  result: string | null;
  created_at: number;
  updated_at: number;
}

export interface GuessOptionTable {
  match_id: string;
  option_id: string;
  seq: number;
  label: string;
  /** Decimal odds × 1000 (1850 = 1.85). */
  odds: number;
}

export interface GuessAuditTable {
  id: string;
  at: number;
  /** Who: "token:<id>", "local" (loopback without tokens) or "system". */
  actor: string;
  action: string;
  match_id: string | null;
  uid: string | null;
  /** JSON of what changed, before and after. */
  before_state: string | null;
  after_state: string | null;
  reason: string | null;
}

/** A bet's life (docs/guess.md, "Bets"): placed → won → paid, placed → lost, placed → refunded. */
export type GuessBetStatus = "placed" | "won" | "lost" | "paid" | "refunded";

export interface GuessBetTable {
  id: string;
  uid: string;
  /** The client's id for the bet: placing is idempotent by (uid, client_bet_id). */
  client_bet_id: string;
  match_id: string;
  option_id: string;
  /** Minor units debited at placement. */
  stake: number;
  /** The odds the bet was placed at (× 1000). */
  odds: number;
  /** floor(stake × odds / 1000), fixed at placement: what a win pays. */
  win_amount: number;
  status: GuessBetStatus;
  /** What was credited (payout or refund); 0 until then. */
  credited: number;
  /** The outcome's push to the bettor: 0 nothing to tell yet, 1 due, 2 sent. */
  push_state: number;
  created_at: number;
  settled_at: number | null;
}

/** A user's reservation of a match: reminded once before it starts. */
export interface GuessReservationTable {
  match_id: string;
  uid: string;
  created_at: number;
  reminded_at: number | null;
}

export type GuessOrderStatus = "pending" | "paid" | "closed";

/** A top-up order (docs/payments.md): created pending, paid once by one provider transaction. */
export interface GuessOrderTable {
  id: string;
  uid: string;
  /** The client's id for the order: creating is idempotent by (uid, client_order_id). */
  client_order_id: string | null;
  /** Minor units (fen) the user is to pay and is credited. */
  amount: number;
  currency: string;
  provider: "wechat" | "alipay";
  status: GuessOrderStatus;
  /** The provider's transaction that paid it; unique per provider. */
  transaction_id: string | null;
  created_at: number;
  paid_at: number | null;
  /** After this a pending order may be closed; a payment that still arrives is credited. */
  expires_at: number;
}

/** A chat conversation (docs/chat.md): a direct one per pair of uids, or a group. */
export interface ChatConversationTable {
  id: string;
  kind: "direct" | "group";
  /** Direct: the sha256 of the two uids, sorted (one conversation per pair); null for a group. */
  direct_key: string | null;
  name: string | null;
  /** The seq of the conversation's last message (0: none): the next is last_seq + 1. */
  last_seq: number;
  member_count: number;
  created_at: number;
}

export interface ChatMemberTable {
  conv_id: string;
  uid: string;
  role: "owner" | "member";
  /** The last seq the member acknowledged: what is after it is unread. */
  read_seq: number;
  joined_at: number;
}

export interface ChatMessageTable {
  conv_id: string;
  /** Gapless per conversation: its order. */
  seq: number;
  id: string;
  sender: string;
  /** The sender's id for it: sending is idempotent by (conv_id, sender, client_msg_id). */
  client_msg_id: string;
  type: "text" | "rich" | "location" | "image" | "audio" | "video" | "file";
  text: string | null;
  /** A file service id (image, audio, video, file): receivers get a signed URL, never bytes. */
  file_id: string | null;
  /** JSON the client attached (rich text spans, a location, an audio clip's duration …). */
  meta: string | null;
  created_at: number;
  recalled_at: number | null;
}

export interface Tables {
  pack_jobs: PackJobTable;
  pack_tasks: PackTaskTable;
  notifications: NotificationTable;
  file_blobs: FileBlobTable;
  files: FileTable;
  file_uploads: FileUploadTable;
  cluster_tasks: ClusterTaskTable;
  cluster_executors: ClusterExecutorTable;
  cluster_results: ClusterResultTable;
  file_reservations: FileReservationTable;
  file_quota_owners: FileQuotaOwnerTable;
  guess_wallets: GuessWalletTable;
  guess_ledger: GuessLedgerTable;
  guess_matches: GuessMatchTable;
  guess_options: GuessOptionTable;
  guess_audit: GuessAuditTable;
  guess_bets: GuessBetTable;
  guess_reservations: GuessReservationTable;
  chat_conversations: ChatConversationTable;
  chat_members: ChatMemberTable;
  chat_messages: ChatMessageTable;
  guess_orders: GuessOrderTable;
}
