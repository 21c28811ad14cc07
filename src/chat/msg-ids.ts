/**
 * Chat's msgIds on the realtime connection (docs/chat.md): requests a
 * client sends and pushes it gets. The module owns 3000–3999.
 */
export const CHAT_RANGE = [3000, 3999] as const;

export const CHAT_REQUEST = {
  direct: 3001,
  createGroup: 3002,
  addMembers: 3003,
  removeMember: 3004,
  conversations: 3005,
  members: 3006,
  send: 3007,
  sync: 3008,
  history: 3009,
  ack: 3010,
  recall: 3011,
} as const;

/**
 * Pushes, not persisted: they reach who is connected now, and the
 * seq-based sync is the source of truth for everyone else.
 */
export const CHAT_PUSH = {
  /** To the conversation's members: a new message ({message}). */
  message: 3100,
  /** To the conversation's members: a message was recalled ({conv, seq}). */
  recalled: 3101,
} as const;
