/** What both entry points (Node, browser) export besides connect(). */
export {
  CHAT_MSG,
  ChatSync,
  type ChatMessage,
  type ChatPositions,
  type ChatSyncOptions,
} from "./chat.js";
export {
  CLIENT_ERRORS,
  GamedockClientError,
  isGamedockClientError,
  type ClientErrorCode,
  type FinalCode,
} from "./errors.js";
export type {
  ClientEventName,
  ClientEvents,
  ClientOptions,
  ClientState,
  ClosedInfo,
  DisconnectInfo,
  GamedockClient,
  Membership,
  PushHead,
  PushListener,
  RequestOptions,
  ResumeState,
  StateChange,
  StreamPosition,
  Unsubscribe,
  WebSocketConstructor,
  WebSocketLike,
  Welcome,
  WhileDisconnected,
} from "./types.js";
