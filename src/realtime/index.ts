/**
 * Public surface of the realtime runtime: the gateway, the logic worker, the
 * handler API, connection tokens and the wire protocol's names.
 */
export { Gateway, type GatewayOptions, type GatewayStatus } from "./gateway.js";
export { LogicWorker, type LogicWorkerOptions } from "./logic.js";
export {
  composeHandlers,
  defineHandlers,
  loadHandlerModules,
  type Handler,
  type HandlerContext,
  type HandlerLog,
  type HandlerModule,
  type HandlerRoute,
  type HandlerServices,
  type ServiceName,
  type FileAccess,
  type GroupAccess,
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
export { AppGroups, MAX_GROUPS_PER_UID, type MembershipChange } from "./groups.js";
export { GATEWAYS_PRESENCE, checkName } from "./names.js";
export { RealtimeOperations, type LogicGroupStatus } from "./operations.js";
export { registerOperationsRoutes } from "./ops-routes.js";
