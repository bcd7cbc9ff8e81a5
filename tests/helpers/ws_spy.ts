/**
 * Test helper: record every text frame the service's client WebSockets (npm `ws`, see
 * `lib/broker/safe_websocket.ts`) send, with the socket's URL, by wrapping `ws`'s `send` for the duration.
 *
 * @module
 */
import WS from "ws";

/** One frame sent. */
export interface SentFrame {
  url: string;
  data: string;
}

/** Run `fn` while recording the frames sent by every npm `ws` client socket. */
export async function spyOnWsSends<T>(fn: (sent: SentFrame[]) => Promise<T>): Promise<T> {
  const sent: SentFrame[] = [];
  const proto = WS.prototype as unknown as { send: (this: WS, data: unknown, ...rest: unknown[]) => void };
  const original = proto.send;
  proto.send = function (this: WS, data: unknown, ...rest: unknown[]) {
    if (typeof data === "string") sent.push({ url: this.url, data });
    return original.call(this, data, ...rest);
  };
  try {
    return await fn(sent);
  } finally {
    proto.send = original;
  }
}
