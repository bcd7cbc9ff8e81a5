/**
 * Logging: LogTape with a console sink (stderr) and a file sink, in text lines or JSON lines.
 *
 * Every logger lives under the root category `tbc` (`getLogger("orders")` → `tbc.orders`). Structured
 * properties (`order_id`, `portfolio_id`, …) are rendered after the message in text lines and as fields in
 * JSON lines. Before any record reaches a sink, values under secret-looking keys (password, token, secret,
 * authorization, …) become `"***"` and credentials inside URLs (`amqp://u:secret@h`) are masked.
 *
 * Text line:
 * ```
 * 2025-12-24 10:00:00.123 +08:00 INFO    [orders] order accepted order_id=abc-1 portfolio_id=demo
 * ```
 * JSON line: `{"time":"2025-12-24T02:00:00.123Z","level":"INFO","component":"orders","message":"order
 * accepted","order_id":"abc-1","portfolio_id":"demo"}`.
 *
 * @module
 */
import {
  configure,
  dispose,
  getLogger as logtapeLogger,
  type Logger,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import { dirname } from "node:path";
import type { LogConfig, LogLevelName } from "./config.ts";

/** Root category of every logger of this service. */
export const ROOT_CATEGORY = "tbc";

/** Property keys whose values never reach a sink (matched case-insensitively, anywhere in the key). */
export const SECRET_KEY_PATTERN: RegExp =
  /pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[_-]?key|cookie|credential|private[_-]?key/i;

const REDACTED = "***";

/** The logger type returned by {@link getLogger}. */
export type { Logger };

/** A logger for one component: category `["tbc", component]` (`"orders.gate"` → `["tbc","orders","gate"]`). */
export function getLogger(component: string): Logger {
  return logtapeLogger([ROOT_CATEGORY, ...component.split(".").filter((s) => s !== "")]);
}

// ---------------------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------------------

/** Mask the password part of `scheme://user:password@host` anywhere in a string. */
export function redactUrlCredentials(s: string): string {
  return s.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s@/]+)(@)/gi, `$1${REDACTED}$3`);
}

/** A deep copy of `value` with secret-keyed values replaced and URL credentials masked. */
export function redactValue(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === "string") return redactUrlCredentials(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: redactUrlCredentials(value.message), stack: value.stack };
  }
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY_PATTERN.test(k) ? maskSecret(v) : redactValue(v, seen);
  }
  return out;
}

function maskSecret(v: unknown): unknown {
  return v === undefined || v === null || v === "" ? v : REDACTED;
}

/** Placeholder names by template: templates are string literals of the code, so the map stays small. */
const placeholderCache = new Map<string, string[]>();
const PLACEHOLDER_CACHE_MAX = 4096;

/** Names of the `{placeholders}` of a message template, in order (`{{` is a literal brace). */
function placeholders(template: string): string[] {
  const cached = placeholderCache.get(template);
  if (cached) return cached;
  const names: string[] = [];
  const re = /\{\{|\}\}|\{([^{}]*)\}/g;
  for (const m of template.matchAll(re)) if (m[1] !== undefined) names.push(m[1].trim());
  if (placeholderCache.size < PLACEHOLDER_CACHE_MAX) placeholderCache.set(template, names);
  return names;
}

/** The record with secrets removed from its properties and from the values interpolated into its message. */
export function redactRecord(record: LogRecord): LogRecord {
  const names = typeof record.rawMessage === "string" ? placeholders(record.rawMessage) : [];
  const message = record.message.map((part, i) => {
    if (i % 2 === 0) return part; // literal text of the template
    const name = names[(i - 1) / 2];
    if (name !== undefined && SECRET_KEY_PATTERN.test(name)) return maskSecret(part);
    return redactValue(part);
  });
  return { ...record, message, properties: redactValue(record.properties) as Record<string, unknown> };
}

/**
 * `fn` computed once per record: LogTape hands the same record to every sink, so the console and the file
 * sink share one redacted copy and one formatted line.
 */
function oncePerRecord<T>(fn: (r: LogRecord) => T): (r: LogRecord) => T {
  const done = new WeakMap<LogRecord, T>();
  return (record) => {
    if (done.has(record)) return done.get(record)!;
    const out = fn(record);
    done.set(record, out);
    return out;
  };
}

const redactOnce = oncePerRecord(redactRecord);

/** Wrap a sink so every record is redacted first (once for all sinks); disposal is forwarded. */
export function redactingSink(inner: Sink): Sink {
  const sink = (record: LogRecord) => inner(redactOnce(record));
  const d = inner as Partial<Disposable & AsyncDisposable>;
  if (d[Symbol.asyncDispose]) {
    Object.assign(sink, { [Symbol.asyncDispose]: () => d[Symbol.asyncDispose]!.call(inner) });
  } else if (d[Symbol.dispose]) {
    Object.assign(sink, { [Symbol.dispose]: () => d[Symbol.dispose]!.call(inner) });
  }
  return sink;
}

// ---------------------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------------------

const LEVEL_NAMES: Record<LogRecord["level"], string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "FATAL",
};

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Local time with its offset: `2025-12-24 10:00:00.123 +08:00`. */
export function formatLocalTimestamp(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const abs = Math.abs(off);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function component(category: readonly string[]): string {
  const parts = category[0] === ROOT_CATEGORY && category.length > 1 ? category.slice(1) : category;
  return parts.join(".");
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Error) return { name: v.name, message: v.message };
      return v;
    }) ?? String(value);
  } catch {
    return Deno.inspect(value, { colors: false, depth: 4 });
  }
}

function renderText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value === null || value === undefined || typeof value !== "object") return String(value);
  if (!Array.isArray(value) && "message" in value && "name" in value && "stack" in value) {
    return `${String(value.name)}: ${String(value.message)}`; // a redacted Error
  }
  return safeJson(value);
}

function renderProperty(value: unknown): string {
  const s = renderText(value);
  return s === "" || /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

function renderMessage(record: LogRecord): string {
  return record.message.map((part, i) => i % 2 === 0 ? String(part) : renderText(part)).join("");
}

/**
 * Text line: local timestamp, level, `[component]`, the message, then every property not already in the
 * message template as `key=value`. Newlines in the message are escaped so one record stays one line.
 */
export function formatTextLine(record: LogRecord): string {
  const used = new Set(typeof record.rawMessage === "string" ? placeholders(record.rawMessage) : []);
  const props = Object.entries(record.properties)
    .filter(([k]) => !used.has(k))
    .map(([k, v]) => `${k}=${renderProperty(v)}`);
  const message = renderMessage(record).replaceAll("\r", "\\r").replaceAll("\n", "\\n");
  const level = LEVEL_NAMES[record.level].padEnd(7);
  const line = `${formatLocalTimestamp(record.timestamp)} ${level} [${
    component(record.category)
  }] ${message}`;
  return (props.length > 0 ? `${line} ${props.join(" ")}` : line) + "\n";
}

const JSON_RESERVED = new Set(["time", "level", "component", "message"]);

/** JSON line: `time` (UTC ISO-8601), `level`, `component`, `message`, then the properties as fields. */
export function formatJsonLine(record: LogRecord): string {
  const out: Record<string, unknown> = {
    time: new Date(record.timestamp).toISOString(),
    level: LEVEL_NAMES[record.level],
    component: component(record.category),
    message: renderMessage(record),
  };
  for (const [k, v] of Object.entries(record.properties)) {
    out[JSON_RESERVED.has(k) ? `prop_${k}` : k] = v instanceof Error
      ? { name: v.name, message: v.message }
      : v;
  }
  return safeJson(out) + "\n";
}

// ---------------------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------------------

/** Options of {@link setupLogging}. */
export interface SetupLoggingOptions {
  /** Also write to the console (stderr). Default true. */
  console?: boolean;
  /** Write the log file named in the config. Default true. */
  file?: boolean;
  /** More sinks (tests, the event stream); they receive redacted records too. */
  sinks?: Sink[];
}

const encoder = new TextEncoder();

/** Write all of `bytes` to stderr (a write may take only part of them). */
function writeStderr(bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

/**
 * The console sink writes each line to stderr itself, not through `console.error`: that would pass every
 * record through the tqsdk console capture (`lib/broker/console_capture.ts`), whose caller check takes a
 * stack trace per call (a quarter of the service's CPU at info level).
 */
function consoleSink(format: (r: LogRecord) => string): Sink {
  return (record) => {
    try {
      writeStderr(encoder.encode(format(record)));
    } catch {
      // stderr closed: the record still reaches the other sinks
    }
  };
}

/**
 * Configure LogTape from `log:`: console (stderr) and file sinks, the level from `log.level`, the line format
 * from `log.format`. Replaces any earlier setup. The log file's folder is created if needed.
 */
export async function setupLogging(config: LogConfig, options: SetupLoggingOptions = {}): Promise<void> {
  const format = oncePerRecord(config.format === "json" ? formatJsonLine : formatTextLine);
  const sinks: Record<string, Sink> = {};
  if (options.console ?? true) sinks.console = redactingSink(consoleSink(format));
  if (options.file ?? true) {
    try {
      await Deno.mkdir(dirname(config.file), { recursive: true });
      // Non-blocking, unbuffered: a record is written (write(2)) as it is logged, and fsync runs off the
      // event loop. Records logged while an fsync is in flight are written as soon as it returns, so a
      // process crash loses at most that moment's lines. A blocking sink fsyncs every record on the event
      // loop: at info level that cut the service's throughput from ~2,100 to ~350 orders/s
      // (`deno task bench -- footprint`).
      sinks.file = redactingSink(
        getFileSink(config.file, { formatter: format, bufferSize: 0, nonBlocking: true }),
      );
    } catch (e) {
      throw new Error(`cannot open log file ${config.file}: ${(e as Error).message}`, { cause: e });
    }
  }
  (options.sinks ?? []).forEach((s, i) => sinks[`extra${i}`] = redactingSink(s));
  const names = Object.keys(sinks);
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [ROOT_CATEGORY], sinks: names, lowestLevel: levelOf(config.level) },
      { category: ["logtape", "meta"], sinks: names, lowestLevel: "warning" },
    ],
  });
}

function levelOf(level: LogLevelName): LogRecord["level"] {
  return level;
}

/** Flush and close every sink (await before exit so the file has everything). Safe to call twice. */
export async function shutdownLogging(): Promise<void> {
  await dispose();
}
