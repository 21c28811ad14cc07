/**
 * The chat sync helper (docs/chat.md, "Sync and offline delivery"): hands
 * every message of the user's conversations to `onMessage` exactly once, in
 * each conversation's seq order, across reconnects — what a client would
 * otherwise have to get right itself.
 *
 * - On every welcome (the first connection and each reconnect) it lists the
 *   conversations (3005) and pulls what is after its position in each, page
 *   by page (3008), acknowledging each page (3010).
 * - A live push (3100) is delivered when it is the next seq; one it already
 *   has is dropped; one past a gap starts a pull of that conversation, so
 *   nothing is skipped.
 * - Work on one conversation runs one step at a time (a chain per
 *   conversation), so a push and a pull cannot deliver out of order.
 *
 * Positions start at the server's read cursor; give `positions` to keep
 * them yourself (e.g. in IndexedDB) and carry on after a reload without
 * asking the server twice for what you have.
 */
import type { GamedockClient, Unsubscribe } from "./types.js";

/** Chat's msgIds (docs/chat.md; the server's src/chat/msg-ids.ts). */
export const CHAT_MSG = {
  conversations: 3005,
  sync: 3008,
  ack: 3010,
  pushMessage: 3100,
} as const;

/** A message as the server sends it (docs/chat.md). */
export interface ChatMessage {
  conv: string;
  seq: number;
  messageId: string;
  sender: string;
  clientMsgId: string;
  type: string;
  text: string | null;
  file: {
    id: string;
    name: string;
    size: number;
    contentType: string;
    sha256: string;
    url: string;
  } | null;
  meta: unknown;
  ts: string;
  recalled: boolean;
}

export interface ChatPositions {
  /** The last seq handed to onMessage in `conv`; undefined when unknown. */
  get(conv: string): number | undefined;
  set(conv: string, seq: number): void;
}

export interface ChatSyncOptions {
  /** Called once per message, in seq order within each conversation. */
  onMessage: (message: ChatMessage) => void;
  /** Messages per pull (1–200, default 100). */
  pageSize?: number;
  /** Where positions are kept (default: in memory, starting at the server's read cursor). */
  positions?: ChatPositions;
  /** A pull that failed (it is tried again at the next push past a gap, or the next welcome). */
  onError?: (err: unknown) => void;
}

/** How long pushed messages wait to be acknowledged together. */
const ACK_DELAY_MS = 500;

interface ConversationSummary {
  conv: string;
  lastSeq: number;
  readSeq: number;
}

export class ChatSync {
  private readonly positions: ChatPositions;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly stops: Unsubscribe[];
  private readonly pageSize: number;
  /** Acks of pushed messages, sent together a moment later (one per conversation). */
  private readonly acks = new Map<string, number>();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly client: GamedockClient,
    private readonly options: ChatSyncOptions,
  ) {
    const memory = new Map<string, number>();
    this.positions = options.positions ?? {
      get: (conv) => memory.get(conv),
      set: (conv, seq) => memory.set(conv, seq),
    };
    this.pageSize = options.pageSize ?? 100;
    this.stops = [
      client.on("welcome", () => {
        this.syncInBackground();
      }),
      client.on<{ message: ChatMessage }>(CHAT_MSG.pushMessage, ({ message }) => {
        void this.queue(message.conv, () => this.pushed(message));
      }),
    ];
    if (client.welcome) this.syncInBackground();
  }

  private syncInBackground(): void {
    this.syncAll().catch((err: unknown) => {
      this.failed(err);
    });
  }

  /** Pulls every conversation up to its last message; resolves when all are delivered. */
  async syncAll(): Promise<void> {
    const { conversations } = await this.client.request<{ conversations: ConversationSummary[] }>(
      CHAT_MSG.conversations,
      {},
    );
    await Promise.all(
      conversations.map((c) => {
        if (this.positions.get(c.conv) === undefined) this.positions.set(c.conv, c.readSeq);
        return this.positions.get(c.conv)! < c.lastSeq
          ? this.queue(c.conv, () => this.pull(c.conv))
          : Promise.resolve();
      }),
    );
  }

  /** Stops listening; what is in flight finishes. */
  stop(): void {
    for (const stop of this.stops) stop();
    if (this.ackTimer) clearTimeout(this.ackTimer);
  }

  private ackSoon(conv: string, seq: number): void {
    this.acks.set(conv, Math.max(seq, this.acks.get(conv) ?? 0));
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      const acks = [...this.acks];
      this.acks.clear();
      for (const [c, s] of acks) {
        this.client.request(CHAT_MSG.ack, { conv: c, seq: s }).catch((err: unknown) => {
          this.failed(err);
        });
      }
    }, ACK_DELAY_MS);
  }

  /** Runs `step` after the conversation's earlier steps. */
  private queue(conv: string, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(conv) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.failed(err);
    });
    this.chains.set(conv, next);
    return next;
  }

  private async pushed(message: ChatMessage): Promise<void> {
    const at = this.positions.get(message.conv);
    if (at !== undefined && message.seq <= at) return; // had it
    if (at !== undefined && message.seq === at + 1) {
      this.deliver(message);
      this.ackSoon(message.conv, message.seq);
      return;
    }
    // A gap, or a conversation this helper has not seen: pull from where it is.
    await this.pull(message.conv);
  }

  private async pull(conv: string): Promise<void> {
    for (;;) {
      const afterSeq = this.positions.get(conv) ?? 0;
      const page = await this.client.request<{ messages: ChatMessage[]; more: boolean }>(
        CHAT_MSG.sync,
        { conv, afterSeq, limit: this.pageSize },
      );
      for (const message of page.messages) {
        if (message.seq > (this.positions.get(conv) ?? 0)) this.deliver(message);
      }
      const last = page.messages.at(-1);
      if (last) await this.client.request(CHAT_MSG.ack, { conv, seq: last.seq });
      if (!page.more) return;
    }
  }

  private deliver(message: ChatMessage): void {
    this.positions.set(message.conv, message.seq);
    this.options.onMessage(message);
  }

  private failed(err: unknown): void {
    this.options.onError?.(err);
  }
}
