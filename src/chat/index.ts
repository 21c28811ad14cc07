/**
 * Chat (design note 004): conversations, messages with file references,
 * offline delivery through seq-based sync, on the realtime runtime and the
 * file service (docs/chat.md); and the operations API for support staff.
 */
export { Conversations, type ConversationView } from "./conversations.js";
export {
  MAX_PAGE,
  MESSAGE_TYPES,
  Messages,
  type FileRef,
  type MessageLimits,
  type MessageType,
  type MessageView,
  type SendRequest,
  type Sent,
} from "./messages.js";
export { CHAT_PUSH, CHAT_RANGE, CHAT_REQUEST } from "./msg-ids.js";
export { chatHandlerModule } from "./handlers.js";
export { SendRate } from "./rate.js";
export {
  ChatAdmin,
  STATS_DAYS,
  type AdminConversation,
  type AdminMessage,
  type ChatStats,
  type ConversationQuery,
} from "./admin.js";
export { ADMIN_MAX_PAGE, registerChatAdminRoutes } from "./admin-routes.js";
