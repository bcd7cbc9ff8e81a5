/**
 * A what-if for the latency benchmark (`--nodelay`): Deno's client `WebSocket` leaves Nagle's algorithm
 * on (no TCP_NODELAY). On a DIFF trade socket a `peek_message` is almost always outstanding and the server
 * answers it only when something changes, so an `insert_order` written right after a peek waits in the
 * kernel until the peek is ACKed — the server's delayed ACK, up to ~40 ms. npm `ws` sets TCP_NODELAY.
 *
 * This module swaps the global `WebSocket` for a minimal adapter over npm `ws` while the service starts
 * (the broker's sockets are created then), to measure what the fix would give. Bench-only.
 *
 * @module
 */
import WS from "ws";

/** The subset of the WebSocket API that `lib/broker/safe_websocket.ts` uses, over npm `ws`. */
export class NoDelayWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  readonly #ws: WS;

  /** Connect to `url` (TCP_NODELAY is set by `ws`). */
  constructor(readonly url: string) {
    this.#ws = new WS(url, { perMessageDeflate: false });
    this.#ws.on("open", () => this.onopen?.(new Event("open")));
    this.#ws.on(
      "message",
      (data: unknown, isBinary: boolean) => this.onmessage?.({ data: isBinary ? data : String(data) }),
    );
    this.#ws.on("close", (code: number, reason: unknown) => this.onclose?.({ code, reason: String(reason) }));
    this.#ws.on("error", () => this.onerror?.(new Event("error")));
  }

  /** 0–3 as in the WebSocket API. */
  get readyState(): number {
    return this.#ws.readyState;
  }

  /** Send a text frame. */
  send(data: string): void {
    this.#ws.send(data);
  }

  /** Close. */
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
}

/** Run `fn` with the global `WebSocket` replaced by {@linkcode NoDelayWebSocket}. */
export async function withNoDelayWebSocket<T>(fn: () => Promise<T>): Promise<T> {
  const original = globalThis.WebSocket;
  (globalThis as { WebSocket: unknown }).WebSocket = NoDelayWebSocket;
  try {
    return await fn();
  } finally {
    globalThis.WebSocket = original;
  }
}
