/**
 * @tus/server with every error answer in gamedock's JSON shape, written by
 * core's errorAnswer like every other error of the service.
 *
 * All of @tus/server's answers pass through Server.write(context, headers,
 * status, body): its own refusals (412 without Tus-Resumable, 400 for a
 * malformed header, 404 for an unknown method) with a text body, and every
 * thrown error after onResponseError mapped it. write() is overridden here:
 * an error status gets the JSON body of its GamedockError (mapTusError), the
 * status that error has in the registry, a JSON Content-Type, and the request
 * id; success answers pass untouched.
 */
import { Server } from "@tus/server";
import { errorAnswer } from "../../core/index.js";
import { currentRequest } from "./context.js";
import { mapTusError } from "./tus-errors.js";

type WriteArgs = Parameters<Server["write"]>;

const TUS_VERSION = "1.0.0";
const JSON_TYPE = "application/json; charset=utf-8";

export class JsonErrorServer extends Server {
  override write(...[context, headers, status, body = ""]: WriteArgs): ReturnType<Server["write"]> {
    if (status < 400) return super.write(context, headers, status, body);
    const request = currentRequest();
    // onResponseError already made the body (and logged an internal failure).
    const answer =
      request?.answered ?? errorAnswer(this.errorFor(status, body), request?.requestId);
    if (request) request.answered = null;
    headers.set("Content-Type", JSON_TYPE);
    headers.set("Cache-Control", "no-store");
    if (answer.status === 412) headers.set("Tus-Version", TUS_VERSION);
    return super.write(context, headers, answer.status, answer.body);
  }

  /** What @tus/server's own text answer means, in our codes. */
  private errorFor(status: number, text: string): unknown {
    return (
      mapTusError({ status_code: status, body: text }) ?? new Error(`tus: ${status} ${text.trim()}`)
    );
  }
}
