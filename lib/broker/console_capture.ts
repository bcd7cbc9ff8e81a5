/**
 * Route npm `tqsdk`'s own console output into our logger.
 *
 * tqsdk-js has no logger hook: it calls `console.log('close', event)` on every socket close,
 * `console.log({msg: '发起重连…'})` on reconnects, `console.error('Error: …')` on fetch failures and
 * `console.error('交易信息未初始化')` / `'不支持该期货公司'` (`shared/design/diff-protocol.md` §7). While the
 * broker runs, {@linkcode installConsoleCapture} wraps `console.log/info/debug/warn/error`: a call whose
 * stack passes through the tqsdk package (its path contains `tqsdk@<version>` or `/tqsdk/dist/`) is
 * summarised (a CloseEvent → its code and reason, an Error → its message) and sent to the
 * `broker.tqsdk` logger (log/info/debug → debug, warn/error → warning) instead of the console. Every other
 * caller's output goes to the original console methods untouched.
 *
 * Re-entrancy: our logger's console sink calls `console.*` itself; while we forward a record, nested calls
 * go straight to the original methods. Installs are reference-counted (several brokers in one process);
 * the last uninstall restores the original methods if nobody replaced them meanwhile (otherwise the
 * wrappers stay in place as pass-throughs).
 *
 * Caveat: when the program is bundled into one file (`deno bundle`), tqsdk's frames carry the bundle's
 * path, not the package's; its messages are then recognised only by their fixed texts (close events,
 * reconnect notices, the broker-list errors).
 *
 * @module
 */

import { getLogger } from "../log.ts";

/** The console methods we wrap. */
const METHODS = ["log", "info", "debug", "warn", "error"] as const;
type Method = typeof METHODS[number];
type ConsoleFn = (...args: unknown[]) => void;

/** Where a captured call goes (default: the `broker.tqsdk` logger). */
export interface CaptureSink {
  debug(message: string, properties: Record<string, unknown>): void;
  warning(message: string, properties: Record<string, unknown>): void;
}

/** Handle of one install. */
export interface ConsoleCapture {
  /** Undo this install (idempotent). */
  uninstall(): void;
}

/** Stack frames of the tqsdk package (npm cache layout, node_modules layout). */
const TQSDK_FRAME = /tqsdk@\d|[\\/]tqsdk[\\/]dist[\\/]|[\\/]node_modules[\\/]tqsdk[\\/]/;

/** Stack frames of our logger: its console sink writes records, which are never tqsdk's own output. */
const LOGGER_FRAME = /@logtape[\\/]|logtape@\d/;

/** Fixed texts tqsdk prints (recognised even without a package path in the stack). */
function looksLikeTqsdk(args: unknown[]): boolean {
  const first = args[0];
  if (first === "close" && args.length === 2 && isCloseLike(args[1])) return true;
  if (typeof first === "string" && /^(交易信息未初始化|不支持该期货公司)/.test(first)) return true;
  if (
    args.length === 1 && isObject(first) && typeof first.msg === "string" && first.msg.startsWith("发起重连")
  ) {
    return true;
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function isCloseLike(v: unknown): v is { code: number; reason?: unknown; wasClean?: unknown } {
  return isObject(v) && typeof (v as { code?: unknown }).code === "number" &&
    ("reason" in v || "wasClean" in v);
}

/** One argument as a short string (a CloseEvent → code/reason, an Error → message). */
export function summariseArg(v: unknown, max = 300): string {
  let s: string;
  if (typeof v === "string") s = v;
  else if (v instanceof Error) s = `${v.name}: ${v.message}`;
  else if (isCloseLike(v)) {
    s = `CloseEvent(code=${v.code}, reason=${JSON.stringify(String(v.reason ?? ""))}${
      typeof v.wasClean === "boolean" ? `, wasClean=${v.wasClean}` : ""
    })`;
  } else if (typeof Event !== "undefined" && v instanceof Event) s = `Event(${v.type})`;
  else if (isObject(v) && typeof v.msg === "string" && Object.keys(v).length === 1) s = v.msg;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = Object.prototype.toString.call(v);
    }
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

interface Installed {
  originals: Record<Method, ConsoleFn>;
  wrappers: Record<Method, ConsoleFn>;
  sinks: CaptureSink[];
  active: boolean;
}

let installed: Installed | null = null;
let forwarding = false;

function defaultSink(): CaptureSink {
  const log = getLogger("broker.tqsdk");
  return {
    debug: (message, properties) => log.debug(message, properties),
    warning: (message, properties) => log.warn(message, properties),
  };
}

function makeWrapper(method: Method, original: ConsoleFn): ConsoleFn {
  return function (this: unknown, ...args: unknown[]) {
    const state = installed;
    if (forwarding || state === null || !state.active || state.sinks.length === 0) {
      return original.apply(console, args);
    }
    const stack = new Error().stack ?? "";
    // Drop the first two lines ("Error" and this wrapper) before matching.
    const callers = stack.split("\n").slice(2).join("\n");
    if (LOGGER_FRAME.test(callers)) return original.apply(console, args);
    if (!TQSDK_FRAME.test(callers) && !looksLikeTqsdk(args)) return original.apply(console, args);
    const text = args.map((a) => summariseArg(a)).join(" ");
    const sink = state.sinks[state.sinks.length - 1];
    forwarding = true;
    try {
      const props = { source: "tqsdk", method, text };
      if (method === "warn" || method === "error") sink.warning("tqsdk: {text}", props);
      else sink.debug("tqsdk: {text}", props);
    } catch {
      // A failing logger must not break tqsdk's control flow.
    } finally {
      forwarding = false;
    }
  };
}

/**
 * Start capturing tqsdk's console output (reference-counted). `sink` defaults to the `broker.tqsdk`
 * logger; the most recent install's sink receives the records.
 */
export function installConsoleCapture(options: { sink?: CaptureSink } = {}): ConsoleCapture {
  const sink = options.sink ?? defaultSink();
  if (installed === null) {
    const c = console as unknown as Record<Method, ConsoleFn>;
    const originals = {} as Record<Method, ConsoleFn>;
    const wrappers = {} as Record<Method, ConsoleFn>;
    for (const m of METHODS) {
      originals[m] = c[m];
      wrappers[m] = makeWrapper(m, c[m]);
      c[m] = wrappers[m];
    }
    installed = { originals, wrappers, sinks: [], active: true };
  }
  installed.active = true;
  installed.sinks.push(sink);
  let done = false;
  return {
    uninstall() {
      if (done || installed === null) return;
      done = true;
      const state = installed;
      const i = state.sinks.lastIndexOf(sink);
      if (i >= 0) state.sinks.splice(i, 1);
      if (state.sinks.length > 0) return;
      const c = console as unknown as Record<Method, ConsoleFn>;
      const untouched = METHODS.every((m) => c[m] === state.wrappers[m]);
      if (untouched) {
        for (const m of METHODS) c[m] = state.originals[m];
        installed = null;
      } else {
        // Someone wrapped console after us: leave our wrappers as pass-throughs.
        state.active = false;
      }
    },
  };
}
