/**
 * Reader for tqsdk-python's 2020 TqSim session logs (`shared/fixtures/tqsdk-python-logs/`, format in the
 * README there and diff-protocol.md §6): turns one log into what a replay needs — TqSim's contract table,
 * the md quotes and the `insert_order`/`cancel_order` packets in recorded order, and TqSim's final trade
 * tree (every `trade/<user>` diff TqSim sent, merged with {@linkcode mergePatch}).
 *
 * Lines are streamed and only those that can matter are parsed: md `websocket message received` lines
 * (JSON), the first TqSim line carrying the contract table, TqSim's order packets, and TqSim's sends that
 * contain a `'trade': {` key (a trade diff cannot be written without that text). Python `repr` text goes
 * through {@linkcode parsePythonLiteral}, never through regex rewriting.
 *
 * Test-only code: it reads fixtures at run time.
 *
 * @module
 */
import { isPlainObject, mergePatch, parseFrame } from "../../lib/diff/json.ts";
import type { InsertOrderPacket, InstrumentInfo, TradingTime } from "../../lib/diff/types.ts";
import { parsePythonLiteral, type PyValue } from "./python_literal.ts";

/** One md quote diff (`quotes/<symbol>` of an md `rtn_data`), fields as sent (nulls kept). */
export interface RecordedQuote {
  kind: "quote";
  /** 1-based line number in the log. */
  line: number;
  symbol: string;
  fields: Record<string, unknown>;
}

/** One order packet TqSim received from TqApi. */
export interface RecordedOrderPacket {
  kind: "insert_order" | "cancel_order";
  /** 1-based line number in the log. */
  line: number;
  packet: Record<string, unknown>;
}

/** A replayable event, in log order. */
export type RecordedEvent = RecordedQuote | RecordedOrderPacket;

/** Everything a replay needs from one log. */
export interface RecordedSession {
  /** TqSim's contract table (`quotes` of its first input), raw as parsed, by full symbol. */
  instruments: Record<string, Record<string, unknown>>;
  /** md quotes and order packets in log order. */
  events: RecordedEvent[];
  /** `trade` subtree merged from every TqSim send: `trade[user] = {accounts, positions, orders, trades, …}`. */
  trade: Record<string, Record<string, unknown>>;
  /** Number of lines read. */
  lines: number;
}

const HEADER = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) - ([A-Z]+) - /;
const MD_RECEIVED = "websocket message received from ";
const MD_SENT = "websocket message sent to ";
const SIM_RECEIVED = "TqSim message received: ";
const SIM_SEND = "TqSim message send: ";

/** Read a recorded session from its lines (without line terminators). Throws on malformed lines. */
export async function readRecordedSession(
  lines: AsyncIterable<string> | Iterable<string>,
): Promise<RecordedSession> {
  const session: RecordedSession = { instruments: {}, events: [], trade: {}, lines: 0 };
  let haveTable = false;
  const root: Record<string, unknown> = {};
  for await (const raw of lines) {
    const n = ++session.lines;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const header = HEADER.exec(line);
    if (!header) {
      // A message that ended in "\n" leaves an empty line behind; anything else is not this format.
      if (line.trim() === "") continue;
      throw new SyntaxError(`line ${n}: not a log line: ${line.slice(0, 80)}`);
    }
    const message = line.slice(header[0].length);
    if (message.startsWith(MD_RECEIVED)) {
      const rest = message.slice(MD_RECEIVED.length);
      const sep = rest.indexOf(": ");
      if (sep < 0) throw new SyntaxError(`line ${n}: md line without payload`);
      collectQuotes(parseFrame(rest.slice(sep + 2)), n, session.events);
    } else if (message.startsWith(SIM_RECEIVED)) {
      const body = message.slice(SIM_RECEIVED.length);
      const maybeTable = !haveTable && body.includes("'ins_class': ");
      const maybeOrder = body.includes("'aid': 'insert_order'") || body.includes("'aid': 'cancel_order'");
      if (!maybeTable && !maybeOrder) continue;
      const packet = asObject(parsePythonLiteral(body), n);
      if (packet.aid === "insert_order" || packet.aid === "cancel_order") {
        session.events.push({ kind: packet.aid, line: n, packet });
      } else if (maybeTable && packet.aid === "rtn_data") {
        const table = contractTable(packet);
        if (table) {
          session.instruments = table;
          haveTable = true;
        }
      }
    } else if (message.startsWith(SIM_SEND)) {
      const body = message.slice(SIM_SEND.length);
      if (!body.includes("'trade': {")) continue;
      const packet = asObject(parsePythonLiteral(body), n);
      if (packet.aid !== "rtn_data" || !Array.isArray(packet.data)) continue;
      for (const item of packet.data) {
        if (isPlainObject(item) && isPlainObject(item.trade)) mergePatch(root, { trade: item.trade });
      }
    } else if (!message.startsWith(MD_SENT)) {
      // INFO/WARNING prints and other debug lines carry nothing a replay uses.
      continue;
    }
  }
  const trade = root.trade;
  if (isPlainObject(trade)) {
    for (const [user, tree] of Object.entries(trade)) {
      if (isPlainObject(tree)) session.trade[user] = tree;
    }
  }
  return session;
}

function asObject(value: PyValue, line: number): Record<string, PyValue> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`line ${line}: expected a dict`);
  }
  return value;
}

function collectQuotes(frame: unknown, line: number, events: RecordedEvent[]): void {
  if (!isPlainObject(frame) || frame.aid !== "rtn_data" || !Array.isArray(frame.data)) return;
  for (const item of frame.data) {
    if (!isPlainObject(item) || !isPlainObject(item.quotes)) continue;
    for (const [symbol, fields] of Object.entries(item.quotes)) {
      if (isPlainObject(fields)) events.push({ kind: "quote", line, symbol, fields });
    }
  }
}

/** The contract table of a TqSim input: `quotes` whose entries carry `ins_class`. */
function contractTable(packet: Record<string, PyValue>): Record<string, Record<string, unknown>> | undefined {
  if (!Array.isArray(packet.data)) return undefined;
  const table: Record<string, Record<string, unknown>> = {};
  let found = false;
  for (const item of packet.data) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) continue;
    const quotes = item.quotes;
    if (typeof quotes !== "object" || quotes === null || Array.isArray(quotes)) continue;
    for (const [symbol, entry] of Object.entries(quotes)) {
      if (typeof entry === "object" && entry !== null && !Array.isArray(entry) && "ins_class" in entry) {
        table[symbol] = entry;
        found = true;
      }
    }
  }
  return found ? table : undefined;
}

/**
 * Convert one entry of TqSim's contract table to the symbols-file shape the sim's catalogue uses. The
 * numbers TqSim traded with (margin, commission, tick, multiplier, order-volume caps, trading time, expiry)
 * are copied as they are; `exchange_id`/`ins_id` come from the symbol; TqSim's table has no name, so
 * `ins_name` is the exchange code.
 */
export function instrumentFromTqSim(symbol: string, entry: Record<string, unknown>): InstrumentInfo {
  const dot = symbol.indexOf(".");
  if (dot <= 0) throw new Error(`${symbol}: not EXCHANGE.code`);
  const num = (key: string): number => {
    const v = entry[key];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${symbol}: ${key} is not a number`);
    return v;
  };
  const tt = entry.trading_time;
  if (!isPlainObject(tt)) throw new Error(`${symbol}: no trading_time`);
  const trading_time: TradingTime = {
    day: (tt.day ?? []) as TradingTime["day"],
    night: (tt.night ?? []) as TradingTime["night"],
  };
  const ins_id = symbol.slice(dot + 1);
  return {
    class: String(entry.ins_class),
    instrument_id: symbol,
    exchange_id: symbol.slice(0, dot),
    ins_id,
    ins_name: ins_id,
    product_id: String(entry.product_id ?? ""),
    price_tick: num("price_tick"),
    price_decs: num("price_decs"),
    volume_multiple: num("volume_multiple"),
    expired: entry.expired === true,
    expire_datetime: num("expire_datetime"),
    delivery_year: typeof entry.delivery_year === "number" ? entry.delivery_year : undefined,
    delivery_month: typeof entry.delivery_month === "number" ? entry.delivery_month : undefined,
    margin: num("margin"),
    commission: num("commission"),
    max_limit_order_volume: num("max_limit_order_volume"),
    max_market_order_volume: num("max_market_order_volume"),
    min_limit_order_volume: num("min_limit_order_volume"),
    min_market_order_volume: num("min_market_order_volume"),
    trading_time,
  };
}

/** The `insert_order` packet of an event, typed (the log's dict, unchanged). */
export function insertPacketOf(event: RecordedOrderPacket): InsertOrderPacket {
  if (event.kind !== "insert_order") throw new Error(`line ${event.line}: not an insert_order`);
  return event.packet as unknown as InsertOrderPacket;
}

/**
 * Lines of an LZMA-alone compressed file, decompressed by the `xz` command and streamed (lines of several
 * MB are fine). Throws when `xz` fails.
 */
export async function* lzmaLines(file: URL): AsyncGenerator<string> {
  if (file.protocol !== "file:") throw new Error(`not a file URL: ${file.href}`);
  const path = decodeURIComponent(file.pathname);
  const child = new Deno.Command("xz", {
    args: ["--format=lzma", "-dc", "--", path],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // Newlines are searched in each chunk only, so multi-MB lines cost linear time.
  let parts: string[] = [];
  let completed = false;
  try {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      let from = 0;
      let nl = chunk.indexOf("\n");
      while (nl >= 0) {
        parts.push(chunk.slice(from, nl));
        yield parts.join("");
        parts = [];
        from = nl + 1;
        nl = chunk.indexOf("\n", from);
      }
      if (from < chunk.length) parts.push(chunk.slice(from));
    }
    if (parts.length > 0) yield parts.join("");
    completed = true;
  } finally {
    if (!completed) {
      // The consumer stopped early or reading failed: stop xz and reap it.
      try {
        child.kill();
      } catch {
        // already exited
      }
      await child.status;
      await stderr.catch(() => "");
    }
  }
  const status = await child.status;
  const err = await stderr;
  if (!status.success) throw new Error(`xz failed on ${path}: ${err.trim()}`);
}
