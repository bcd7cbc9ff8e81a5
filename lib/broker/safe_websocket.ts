/**
 * A WebSocket class for npm `tqsdk` that parses every frame with `JSON.parse` before the library sees it.
 *
 * tqsdk-js evaluates each frame's text as JavaScript (`shared/design/diff-protocol.md` §7), so a hostile or
 * broken server could run code in our process, and its merge writes through `__proto__` keys. This class is
 * passed as `wsOption.WebSocket`: it parses each frame tolerantly (bare `NaN`/`Infinity` become `null`),
 * drops frames that are not JSON objects and removes prototype-polluting keys. The library then gets the
 * parsed frame itself, not text: the `data` of each message event is {@linkcode FRAME_EXPRESSION}, a fixed
 * expression that reads the frame being delivered, so tqsdk's `eval('(' + data + ')')` evaluates no frame
 * text at all (and compiles once: evaluating each frame's text cost about 0.1 ms per 3 KB frame, on every
 * order's answer). The socket underneath is npm `ws` (TCP_NODELAY; see {@linkcode createSafeWebSocketClass}).
 *
 * @module
 */

import WS from "ws";
import { Buffer } from "node:buffer";
import { FORBIDDEN_KEYS, isPlainObject, parseFrame } from "../diff/json.ts";

/**
 * Keys that are removed from every frame before the library sees it: the prototype links, and every name an
 * object inherits (`toString`, `hasOwnProperty`, `valueOf`, …). tqsdk's merge reads `target[key]` before it
 * writes, so for an inherited name it finds the shared built-in (`Object.prototype.toString`) and merges into
 * it: a frame could then change every object in the process.
 */
const DANGEROUS_KEYS: ReadonlySet<string> = new Set([
  ...FORBIDDEN_KEYS,
  ...Object.getOwnPropertyNames(Object.prototype),
]);

/**
 * Also removed inside an object under a key named `data`: tqsdk's merge makes its target for such a key an
 * array (K-line series), so there the names an array inherits (`map`, `forEach`, `length`, …) would reach
 * the shared built-ins in the same way.
 */
const ARRAY_KEYS: ReadonlySet<string> = new Set([
  ...DANGEROUS_KEYS,
  ...Object.getOwnPropertyNames(Array.prototype),
]);

/** Deepest nesting accepted (a DIFF frame nests about 8 levels; K-line series 9). */
export const MAX_FRAME_DEPTH = 32;

/** Largest frame accepted (bytes of text); larger frames are dropped and reported. */
export const MAX_FRAME_CHARS = 64 * 1024 * 1024;

/** Hooks for what the class sees, so the caller can log and measure. */
export interface SafeWebSocketHooks {
  /** A frame was dropped (not JSON, not an object, too large). */
  onBadFrame?: (url: string, reason: string, sample: string) => void;
  /** Every accepted frame, parsed (after sanitising), before the library handles it. */
  onFrame?: (url: string, frame: Record<string, unknown>) => void;
  /** A socket was created. */
  onCreate?: (url: string, socket: SafeSocket) => void;
  /**
   * Called right after the library's `onmessage` returned for an accepted frame, i.e. after tqsdk merged it
   * (tqsdk merges synchronously), so the hook can read the merged tree. `frame` is our own parsed copy.
   */
  onMerged?: (url: string, frame: Record<string, unknown>, socket: SafeSocket) => void;
  /**
   * The library's `onmessage` threw while handling an accepted frame (e.g. `"data": null` breaks tqsdk's
   * notify split). The exception is contained here (an uncaught one would end the process); `onMerged` is
   * not called for that frame, since the library's tree may be half-updated.
   */
  onHandlerError?: (url: string, error: unknown, socket: SafeSocket) => void;
}

/** The instance shape tqsdk uses. */
export interface SafeSocket {
  readonly url: string;
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: { data: string }) => void) | null;
  onclose: ((ev: CloseEvent | { code: number; reason: string }) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A constructor tqsdk can use as `wsOption.WebSocket`. */
export interface SafeWebSocketClass {
  new (url: string): SafeSocket;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/** What {@linkcode cleanFrame} found. */
export interface FrameCheck {
  /** Nesting depth (the frame itself is 1; primitives do not count). */
  depth: number;
  /**
   * The library must get a JSON copy, not the frame itself: it holds a number a JSON text cannot carry
   * (`1e400` parses to `Infinity`, `-0` stays `-0`; a text would have made them `null` and `0`), or an
   * array besides the frame's `data` list (tqsdk's merge keeps arrays by reference and marks them).
   */
  needsJsonCopy: boolean;
}

/**
 * Make a parsed frame inert, in place, in one walk without recursion (a hostile frame may nest deeply):
 * prototype-polluting keys are removed at every depth (and array-inherited names under `data` keys). Stops
 * early once deeper than {@linkcode MAX_FRAME_DEPTH}. Objects keep only own enumerable data, as JSON.parse
 * made them.
 */
export function cleanFrame(frame: unknown): FrameCheck {
  const check: FrameCheck = { depth: 0, needsJsonCopy: false };
  // Only objects and arrays are pushed; a number is judged where it is found.
  const stack: [value: object, depth: number, arrayTarget: boolean][] = [];
  const visit = (value: unknown, depth: number, arrayTarget: boolean) => {
    if (typeof value === "number") {
      if (!Number.isFinite(value) || Object.is(value, -0)) check.needsJsonCopy = true;
    } else if (typeof value === "object" && value !== null) stack.push([value, depth, arrayTarget]);
  };
  visit(frame, 1, false);
  while (stack.length > 0) {
    const [value, depth, arrayTarget] = stack.pop()!;
    if (depth > check.depth) check.depth = depth;
    if (depth > MAX_FRAME_DEPTH) return check;
    if (Array.isArray(value)) {
      if (!(depth === 2 && (frame as Record<string, unknown>).data === value)) check.needsJsonCopy = true;
      for (const item of value) visit(item, depth + 1, false);
    } else if (isPlainObject(value)) {
      const forbidden = arrayTarget ? ARRAY_KEYS : DANGEROUS_KEYS;
      for (const key of Object.keys(value)) {
        if (forbidden.has(key)) delete value[key];
        else visit(value[key], depth + 1, key === "data" && depth > 1);
      }
    }
  }
  return check;
}

/**
 * Parse one raw frame into the object the library may see (prototype-polluting keys removed), or a reason
 * when it must be dropped.
 */
export function sanitiseFrame(
  raw: string,
): { frame: Record<string, unknown>; needsJsonCopy: boolean } | { reason: string } {
  if (raw.length > MAX_FRAME_CHARS) {
    return { reason: `frame of ${raw.length} chars exceeds ${MAX_FRAME_CHARS}` };
  }
  let parsed: unknown;
  try {
    parsed = parseFrame(raw);
  } catch (e) {
    return { reason: `not JSON: ${(e as Error).message}` };
  }
  if (!isPlainObject(parsed)) return { reason: "frame is not a JSON object" };
  if (typeof parsed.aid !== "string") return { reason: "frame has no aid" };
  const check = cleanFrame(parsed);
  if (check.depth > MAX_FRAME_DEPTH) return { reason: `frame nested deeper than ${MAX_FRAME_DEPTH} levels` };
  return { frame: parsed, needsJsonCopy: check.needsJsonCopy };
}

/** Where the frame being delivered waits while the library's `onmessage` runs (one at a time: synchronous). */
/** The global property holding the frame being delivered (`{ frame }`); {@linkcode FRAME_EXPRESSION} reads it. */
export const DELIVERY_GLOBAL = "__tqsdkBrokerConnectDelivery";
const delivery: { frame: unknown } = deliverySlot();

function deliverySlot(): { frame: unknown } {
  const g = globalThis as Record<string, unknown>;
  // A second copy of this module (another import URL) shares the slot: deliveries are synchronous.
  if (Object.hasOwn(g, DELIVERY_GLOBAL)) return g[DELIVERY_GLOBAL] as { frame: unknown };
  const slot = { frame: undefined };
  Object.defineProperty(globalThis, DELIVERY_GLOBAL, { value: slot, enumerable: false });
  return slot;
}

/**
 * The `data` of every message event the library gets: tqsdk evaluates `'(' + data + ')'`, which reads the
 * frame being delivered. A message event's `data` is otherwise never looked at by tqsdk.
 */
export const FRAME_EXPRESSION = `globalThis.${DELIVERY_GLOBAL}.frame`;

/** A data element carrying notifies, with each notify copied (a notify's fields are plain values). */
function notifyCopy(item: Record<string, unknown>): Record<string, unknown> {
  if (!isPlainObject(item.notify)) return structuredClone(item);
  const notify: Record<string, unknown> = {};
  for (const [key, n] of Object.entries(item.notify)) {
    notify[key] = isPlainObject(n) ? { ...n } : structuredClone(n);
  }
  return { ...item, notify };
}

/**
 * The library's own copy of a parsed frame (the hooks keep the frame as parsed, e.g. an overflowing lot
 * count as `Infinity`, to report it). tqsdk takes `notify` elements out of `data` (splice) and adds fields
 * to each notify, so those parts are copied; the rest it only reads (its merge copies values into its own
 * tree). A frame that needs it ({@linkcode FrameCheck.needsJsonCopy}) goes as its JSON text would: through
 * a JSON round trip.
 */
function libraryCopy(frame: Record<string, unknown>, needsJsonCopy: boolean): Record<string, unknown> {
  if (needsJsonCopy) return JSON.parse(JSON.stringify(frame));
  if (!Array.isArray(frame.data)) return { ...frame };
  return {
    ...frame,
    data: frame.data.map((item) => isPlainObject(item) && "notify" in item ? notifyCopy(item) : item),
  };
}

/**
 * Build a WebSocket class for tqsdk over npm `ws`, with the given hooks.
 *
 * npm `ws` and not Deno's global `WebSocket`: `ws` sets TCP_NODELAY. On a DIFF trade socket a
 * `peek_message` is nearly always outstanding, so with Nagle's algorithm an `insert_order` written right after
 * one waits for the server's delayed ACK — about 20 ms per order, measured by `deno task bench -- nodelay`.
 */
export function createSafeWebSocketClass(hooks: SafeWebSocketHooks = {}): SafeWebSocketClass {
  class SafeWebSocket implements SafeSocket {
    static readonly CONNECTING = 0 as const;
    static readonly OPEN = 1 as const;
    static readonly CLOSING = 2 as const;
    static readonly CLOSED = 3 as const;

    onopen: ((ev: Event) => void) | null = null;
    onmessage: ((ev: { data: string }) => void) | null = null;
    onclose: ((ev: CloseEvent | { code: number; reason: string }) => void) | null = null;
    onerror: ((ev: Event) => void) | null = null;
    readonly #ws: WS;

    constructor(readonly url: string) {
      this.#ws = new WS(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, maxPayload: MAX_FRAME_CHARS * 4 });
      this.#ws.on("open", () => this.onopen?.(new Event("open")));
      this.#ws.on(
        "close",
        (code: number, reason: Uint8Array) =>
          this.onclose?.({ code, reason: new TextDecoder().decode(reason) }),
      );
      this.#ws.on("error", () => this.onerror?.(new Event("error")));
      this.#ws.on("message", (data: WS.RawData, isBinary: boolean) => {
        if (isBinary) {
          hooks.onBadFrame?.(url, "binary frame", "");
          return;
        }
        const text = rawDataText(data);
        let result: ReturnType<typeof sanitiseFrame>;
        let copy: Record<string, unknown> | undefined;
        try {
          result = sanitiseFrame(text);
          if (!("reason" in result)) copy = libraryCopy(result.frame, result.needsJsonCopy);
        } catch (e) {
          // Never expected (the checks walk without recursion); an exception here would end the process.
          result = { reason: `frame could not be checked: ${(e as Error).message}` };
        }
        if ("reason" in result) {
          hooks.onBadFrame?.(url, result.reason, text.slice(0, 200));
          return;
        }
        hooks.onFrame?.(url, result.frame);
        delivery.frame = copy;
        try {
          this.onmessage?.({ data: FRAME_EXPRESSION });
        } catch (e) {
          hooks.onHandlerError?.(url, e, this);
          return;
        } finally {
          delivery.frame = undefined;
        }
        hooks.onMerged?.(url, result.frame, this);
      });
      hooks.onCreate?.(url, this);
    }

    get readyState(): number {
      return this.#ws.readyState;
    }

    send(data: string): void {
      // tqsdk peeks from a setImmediate after each frame; the socket may have closed meanwhile.
      if (this.#ws.readyState === WS.OPEN) this.#ws.send(data);
    }

    close(code?: number, reason?: string): void {
      const state = this.#ws.readyState;
      if (state === WS.CLOSED || state === WS.CLOSING) return;
      if (state === WS.CONNECTING) {
        this.#ws.terminate();
        return;
      }
      try {
        this.#ws.close(code, reason);
      } catch {
        this.#ws.terminate();
      }
    }
  }
  return SafeWebSocket;
}

/** Milliseconds a WebSocket handshake may take before the attempt fails. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

function rawDataText(data: WS.RawData): string {
  if (typeof data === "string") return data;
  if (Array.isArray(data)) return new TextDecoder().decode(Buffer.concat(data));
  return new TextDecoder().decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
}
