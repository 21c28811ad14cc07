/**
 * Public surface of the realtime runtime: the gateway, the logic worker, the
 * handler API, connection tokens and the wire protocol's names.
 */
export { Gateway, type GatewayOptions } from "./gateway.js";
export { LogicWorker, type LogicWorkerOptions } from "./logic.js";
export {
  composeHandlers,
  defineHandlers,
  loadHandlerModules,
  type Handler,
  type HandlerContext,
  type HandlerLog,
  type HandlerModule,
} from "./handlers.js";
export {
  jwksAuthenticator,
  mintToken,
  secretAuthenticator,
  type Authenticator,
  type TokenClaims,
} from "./auth.js";
export { CLOSE, PROTOCOL_MSG, SUBPROTOCOLS, type Subprotocol } from "./protocol.js";
export { Pusher, type PushOptions, type PushResult, type PushTarget } from "./push.js";
export { registerPushRoute } from "./push-route.js";
