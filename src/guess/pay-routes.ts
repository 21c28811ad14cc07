/**
 * The payment providers' callbacks (docs/payments.md) and the user's order
 * routes (order-routes.ts):
 *
 *   POST /api/v1/pay/notify/wechat   WeChat Pay API v3 payment notification
 *   POST /api/v1/pay/notify/alipay   Alipay asynchronous notification
 *
 * The callbacks carry no API token: the provider's signature authenticates
 * them (pay-notify.ts), so they are marked `auth: "self"` and the server-wide
 * token check (src/server/http.ts) lets them through. Each lives in its own
 * fastify scope that takes the body as the exact text received (WeChat signs
 * the bytes; re-serialized JSON would not verify), at most 64 KiB, and
 * answers in the provider's protocol:
 *
 * - WeChat Pay: success 204 without a body; failure the error's 4xx/5xx with
 *   `{"code": "FAIL", "message": "<our code>"}`, and WeChat retries.
 * - Alipay: success 200 with the text `success`; anything else (we send
 *   `fail` with the error's status) makes Alipay retry.
 *
 * A repeated notification of a credited order, and one reporting an unpaid
 * trade, are answered success too, so the provider stops retrying. Every
 * failure carries our code in the `x-gamedock-error` header and is logged
 * (warn: not verified; error: verified but refused, money to look after) with
 * the code and request id — never the body, a header's value or a key.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { IncomingHttpHeaders } from "node:http";
import { GamedockError, errorAnswer, isGamedockError, type Logger } from "../core/index.js";
import type { Authenticator } from "../realtime/index.js";
import { orderRoutes } from "./order-routes.js";
import type { AppliedPayment, Orders } from "./orders.js";
import { loadPaymentKeys, notConfigured, type PaymentSettings } from "./pay-config.js";
import {
  MAX_NOTIFY_BODY_BYTES,
  verifyAlipayNotification,
  verifyWechatNotification,
  type PaymentProvider,
  type VerifiedPayment,
} from "./pay-notify.js";

export interface PaymentRouteOptions {
  orders: Orders;
  /** guess.payments. */
  settings: PaymentSettings;
  /** Verifies users' realtime JWTs for the order routes (realtime's Authenticator). */
  authenticator: Authenticator;
  logger: Logger;
  /**
   * Called after the commit that credited an order (never for a repeat):
   * push the new balance to the user. Not awaited by the provider's answer;
   * a throw or rejection is logged.
   */
  onCredited?: (uid: string, balance: number, orderId: string) => void | Promise<void>;
  /** The clock of the replay window (tests). */
  now?: () => number;
}

/** The header that carries our error code on a failed callback. */
export const PAY_ERROR_HEADER = "x-gamedock-error";

/** Codes that say the callback was not provably the provider's: a caller's problem, not money's. */
const UNVERIFIED = new Set([
  "E_PAY_SIGNATURE",
  "E_PAY_REPLAY",
  "E_INVALID_REQUEST",
  "E_REQUEST_TOO_LARGE",
  "E_CONTENT_TYPE",
]);

/** Codes of a verified payment that fits no order (logged by apply, with the payment). */
const NOT_CREDITED = new Set(["E_NOT_FOUND", "E_PAY_AMOUNT_MISMATCH", "E_PAY_CONFLICT"]);

/** The scope's body parsers: the text as received, for the two types providers send. */
function takeRawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  for (const type of ["application/json", "application/x-www-form-urlencoded"]) {
    scope.addContentTypeParser(
      type,
      { parseAs: "string", bodyLimit: MAX_NOTIFY_BODY_BYTES },
      (_request, body, done) => {
        done(null, body);
      },
    );
  }
}

/** fastify's own refusals (body too large, content type) in our terms. */
function asGamedockError(err: unknown): unknown {
  if (isGamedockError(err)) return err;
  const status = (err as FastifyError).statusCode;
  if (typeof status !== "number" || status >= 500) return err;
  if (status === 413) {
    return new GamedockError(
      "E_REQUEST_TOO_LARGE",
      `a payment notification is at most ${MAX_NOTIFY_BODY_BYTES} bytes`,
    );
  }
  if (status === 415) {
    return new GamedockError(
      "E_CONTENT_TYPE",
      "a payment notification is application/json or application/x-www-form-urlencoded",
    );
  }
  return new GamedockError("E_INVALID_REQUEST", (err as Error).message);
}

/** The request's string headers (a header sent as a list is left out: it is no value to trust). */
function stringHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

/** application/x-www-form-urlencoded as fields; a name given twice is refused (which one was signed?). */
export function parseForm(text: string): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(params, name)) {
      throw new GamedockError("E_INVALID_REQUEST", `field ${JSON.stringify(name)} is given twice`, {
        field: name,
      });
    }
    params[name] = value;
  }
  return params;
}

export async function registerPaymentRoutes(
  app: FastifyInstance,
  options: PaymentRouteOptions,
): Promise<void> {
  const { orders, settings } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: "payments" });
  // Parsed once: a key that is not an RSA public key stops the start (E_CONFIG).
  const keys = loadPaymentKeys(settings);

  function announce(applied: AppliedPayment, payment: VerifiedPayment): void {
    const fields = {
      event: `pay-${applied.outcome}`,
      provider: payment.provider,
      orderId: applied.orderId,
      uid: applied.uid,
      transactionId: payment.transactionId,
      amount: payment.amount,
    };
    log.info(fields, `payment notification ${applied.outcome}`);
    if (applied.outcome !== "credited" || !options.onCredited) return;
    const failed = (err: unknown): void => {
      log.warn({ ...fields, event: "pay-push-failed", err }, "credited, but the push failed");
    };
    try {
      void Promise.resolve(options.onCredited(applied.uid, applied.balance, applied.orderId)).catch(
        failed,
      );
    } catch (err) {
      failed(err);
    }
  }

  /** Applies a verified payment; one that fits no order is logged with what an operator needs. */
  async function apply(payment: VerifiedPayment, requestId: string): Promise<void> {
    let applied: AppliedPayment;
    try {
      applied = await orders.applyPayment(payment);
    } catch (err) {
      if (isGamedockError(err) && NOT_CREDITED.has(err.code)) {
        // The money arrived but is not credited: an operator must look (refund, or fix the order).
        log.error(
          {
            event: "pay-not-credited",
            provider: payment.provider,
            code: err.code,
            requestId,
            orderId: payment.orderId,
            transactionId: payment.transactionId,
            amount: payment.amount,
            currency: payment.currency,
            reason: err.message,
          },
          "verified payment not credited",
        );
      }
      throw err;
    }
    announce(applied, payment);
  }

  /** Logs a refused callback and answers the provider's failure; our code in the header. */
  function refuse(
    provider: PaymentProvider,
    err: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply {
    const error = asGamedockError(err);
    const answer = errorAnswer(error, request.id);
    const known = !answer.internal && isGamedockError(error) ? error : null;
    const code = known?.code ?? "E_INTERNAL";
    const fields = { event: "pay-refused", provider, code, requestId: request.id };
    if (known === null) {
      log.error({ ...fields, err }, "payment notification failed");
    } else if (UNVERIFIED.has(code)) {
      // A malformed body's message may quote the body (a JSON syntax error does): the field only.
      const reason = code === "E_INVALID_REQUEST" ? undefined : known.message;
      log.warn({ ...fields, reason, field: known.details?.field }, "payment notification refused");
    } else if (!NOT_CREDITED.has(code)) {
      log.error({ ...fields, reason: known.message }, "payment notification failed");
    }
    void reply.code(answer.status).header(PAY_ERROR_HEADER, code);
    if (provider === "wechat") {
      return reply.type("application/json; charset=utf-8").send({ code: "FAIL", message: code });
    }
    return reply.type("text/plain; charset=utf-8").send("fail");
  }

  const rawBody = (request: FastifyRequest): string =>
    typeof request.body === "string" ? request.body : "";

  await app.register(
    // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
    async (scope) => {
      takeRawBodies(scope);
      scope.setErrorHandler((err, request, reply) => refuse("wechat", err, request, reply));
      scope.post("/wechat", { config: { auth: "self" } }, async (request, reply) => {
        if (keys.wechat.size === 0) throw notConfigured("wechat");
        const payment = verifyWechatNotification({
          headers: stringHeaders(request.headers),
          rawBody: rawBody(request),
          platformCertificates: keys.wechat,
          apiV3Key: settings.wechat.apiV3Key,
          mchId: settings.wechat.mchId,
          now: now(),
          replayWindowMs: settings.replayWindowMs,
        });
        await apply(payment, request.id);
        return reply.code(204).send();
      });
    },
    { prefix: "/api/v1/pay/notify" },
  );

  await app.register(
    // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
    async (scope) => {
      takeRawBodies(scope);
      scope.setErrorHandler((err, request, reply) => refuse("alipay", err, request, reply));
      scope.post("/alipay", { config: { auth: "self" } }, async (request, reply) => {
        if (keys.alipay === null) throw notConfigured("alipay");
        const payment = verifyAlipayNotification({
          params: parseForm(rawBody(request)),
          alipayPublicKey: keys.alipay,
          appId: settings.alipay.appId,
          now: now(),
          replayWindowMs: settings.replayWindowMs,
        });
        await apply(payment, request.id);
        return reply.code(200).type("text/plain; charset=utf-8").send("success");
      });
    },
    { prefix: "/api/v1/pay/notify" },
  );

  await app.register(orderRoutes(orders, options.authenticator), {
    prefix: "/api/v1/guess/orders",
  });
}
