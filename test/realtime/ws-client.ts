/**
 * A bare WebSocket client for the gateway tests: speaks the frames by hand
 * (the typed client is tested on its own), keeps every frame it receives
 * and how the socket closed.
 */
import { pack, unpack } from "msgpackr";
import WebSocket from "ws";
import { waitFor } from "../helpers/wait.js";

export type Frame = [Record<string, unknown>, unknown];

export interface TestSocket {
  frames: Frame[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  sendRaw(data: string | Buffer): void;
  /** Sends a request and waits for the frame answering its seq. */
  request(msgId: number, body: unknown, seq: number): Promise<Frame>;
  /** Waits for a frame matching `match`. */
  next(match: (frame: Frame) => boolean, what: string): Promise<Frame>;
  /** Stops reading the socket (no frames, no pongs) until resume(). */
  pause(): void;
  resume(): void;
  close(): void;
}

export async function openSocket(
  url: string,
  options: {
    token?: string;
    protocol?: string;
    headers?: Record<string, string>;
    /** More query parameters, e.g. "lastOffset=3&epoch=ab12". */
    query?: string;
  } = {},
): Promise<TestSocket> {
  const target = new URL(url.replace(/^http/, "ws") + "/ws");
  if (options.token) target.searchParams.set("token", options.token);
  for (const [key, value] of new URLSearchParams(options.query ?? ""))
    target.searchParams.set(key, value);
  const protocol = options.protocol ?? "gamedock.json.v1";
  const binary = protocol === "gamedock.msgpack.v1";
  const ws = new WebSocket(target, [protocol], { headers: options.headers });
  const frames: Frame[] = [];
  ws.on("message", (data: Buffer, isBinary) => {
    frames.push((isBinary ? unpack(data) : JSON.parse(data.toString())) as Frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => {
      resolve();
    });
    ws.once("error", reject);
  });
  const next = async (match: (frame: Frame) => boolean, what: string): Promise<Frame> => {
    let found: Frame | undefined;
    await waitFor(() => (found = frames.find(match)) !== undefined, what);
    return found!;
  };
  const send = (frame: unknown): void => {
    ws.send(binary ? pack(frame) : JSON.stringify(frame));
  };
  return {
    frames,
    closed,
    send,
    sendRaw: (data) => {
      ws.send(data);
    },
    async request(msgId, body, seq) {
      send([{ msgId, seq }, body]);
      return next(([head]) => head.seq === seq && !head.push, `the answer to seq ${seq}`);
    },
    next,
    pause: () => {
      ws.pause();
    },
    resume: () => {
      ws.resume();
    },
    close: () => {
      ws.close();
    },
  };
}
