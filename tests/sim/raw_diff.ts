/**
 * Test helper: a raw DIFF client over Deno's WebSocket, for tests that check the sim's wire protocol itself
 * (what it sends, when, and what it holds back) without tqsdk's merge in between.
 *
 * @module
 */

import type { InsertOrderPacket } from "../../lib/diff/types.ts";

/** A parsed frame. */
export type Frame = Record<string, unknown>;

/** A raw DIFF connection that records every frame it receives. */
export class RawDiffSocket {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  readonly #ws: WebSocket;
  readonly #closed: Promise<void>;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const text = String(ev.data);
      let frame: Frame;
      try {
        frame = JSON.parse(text);
      } catch {
        frame = { raw: text }; // not JSON (an injected hostile frame): kept as text
      }
      this.frames.push(frame);
      for (const w of [...this.#waiters]) w();
    };
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
  }

  /** Connect to `url` (`ws://…`) and resolve once open. */
  static open(url: string): Promise<RawDiffSocket> {
    const ws = new WebSocket(url);
    const socket = new RawDiffSocket(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(socket);
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  /** Send one packet. */
  send(packet: Frame): void {
    this.#ws.send(JSON.stringify(packet));
  }

  /** Index to wait from (frames after this moment). */
  mark(): number {
    return this.frames.length;
  }

  /** The first frame at index ≥ `from` for which `pick` returns a value; rejects after `timeoutMs`. */
  waitFor<T>(
    what: string,
    pick: (f: Frame) => T | undefined | null | false,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<T> {
    const from = options.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.frames.length; i++) {
          const v = pick(this.frames[i]);
          if (v) {
            done();
            resolve(v);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.slice(from))}`),
        );
      }, options.timeoutMs ?? 3000);
      const done = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
      };
      this.#waiters.push(check);
      check();
    });
  }

  /** Frames received at index ≥ `from` after waiting `ms` (to show that something did NOT arrive). */
  async after(ms: number, from: number): Promise<Frame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.slice(from);
  }

  /** Close and wait for the close handshake. */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close();
    }
    await this.#closed;
  }
}

/** A 1-lot BUY OPEN LIMIT `insert_order` of SHFE.rb2605 at `price` for `user`. */
export function insertPacket(user: string, orderId: string, price = 3490): InsertOrderPacket & Frame {
  return {
    aid: "insert_order",
    user_id: user,
    order_id: orderId,
    exchange_id: "SHFE",
    instrument_id: "rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    limit_price: price,
    volume_condition: "ANY",
    time_condition: "GFD",
  };
}

/** The merge patches of an `rtn_data` frame (empty for other frames). */
export function patches(f: Frame): Frame[] {
  return f.aid === "rtn_data" && Array.isArray(f.data) ? f.data as Frame[] : [];
}

/** The notifies of a frame. */
export function notifiesOf(f: Frame): Frame[] {
  return patches(f).flatMap((p) =>
    p.notify && typeof p.notify === "object" ? Object.values(p.notify as Record<string, Frame>) : []
  );
}

/** `trade/<user>` of one `rtn_data` frame (merged over its patches), or undefined when absent. */
export function tradeOf(f: Frame, user: string): Frame | undefined {
  let out: Frame | undefined;
  for (const p of patches(f)) {
    const u = (p.trade as Record<string, Frame> | undefined)?.[user];
    if (u && typeof u === "object") out = { ...out, ...u };
  }
  return out;
}

/** Open a trade socket at `baseUrl` and log in; resolves after the `session` packet. */
export async function rawLogin(
  baseUrl: string,
  user: string,
  password: string,
  bid = "sim",
): Promise<RawDiffSocket> {
  const s = await RawDiffSocket.open(`${baseUrl.replace(/^http/, "ws")}/trade`);
  await s.waitFor("rtn_brokers", (f) => f.aid === "rtn_brokers");
  s.send({ aid: "req_login", bid, user_name: user, password });
  await s.waitFor("session", (f) => (tradeOf(f, user)?.session as Frame | undefined)?.trading_day);
  return s;
}
