/**
 * DIFF objects (as tqsdk's merged tree holds them) → the broker room's views (`types.ts`).
 *
 * Missing or non-numeric values follow tqsdk-python's defaults: lot counts of orders and trades become 0,
 * prices become `null` (the views' "unknown"), money amounts become NaN (never a made-up 0). Strings default
 * to `""`.
 *
 * A position's lot counts are stricter ({@linkcode readPosition}): a lot count must be a whole number ≥ 0. One
 * that is not (an overflowing `1e400` that our frame parser turned into `null`, which tqsdk's merge then
 * DELETES from its tree; `NaN`, `-1`, `1.5`, `"3"`) is never read as 0 or passed through: the last known good
 * value of that field is kept, and a position with no good value yet is not published at all.
 *
 * @module
 */

import type {
  AccountSnapshot,
  AccountView,
  BrokerNotice,
  BrokerOrderView,
  BrokerState,
  BrokerTradeView,
  Direction,
  InstrumentView,
  Offset,
  PositionView,
  PriceType,
  QuoteView,
  TimeCondition,
  VolumeCondition,
} from "./types.ts";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A lot count of an order or trade: finite number, else 0. */
function lots(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** A money amount: finite number, else NaN. */
function money(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

/** A price: finite number, else null. */
function price(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Epoch nanoseconds → epoch ms (0 when absent). */
export function nsToMs(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v / 1_000_000) : 0;
}

/** `EXCHANGE.code` from a DIFF object's `exchange_id` and `instrument_id`. */
function symbolOf(o: Obj): string {
  return `${str(o.exchange_id)}.${str(o.instrument_id)}`;
}

/**
 * True when a merged DIFF order or trade has what a view needs (exchange, instrument, direction): a frame
 * can create an empty object under `orders` (e.g. `{"x":{}}` once prototype keys were stripped), which must
 * not become an order.
 */
export function isWellFormed(o: Obj): boolean {
  return typeof o.exchange_id === "string" && o.exchange_id !== "" && typeof o.instrument_id === "string" &&
    o.instrument_id !== "" && (o.direction === "BUY" || o.direction === "SELL");
}

/** A DIFF order → {@linkcode BrokerOrderView}; `id` is its key under `orders`. */
export function toOrderView(id: string, o: Obj): BrokerOrderView {
  const priceType = (str(o.price_type) || "LIMIT") as PriceType;
  return {
    broker_order_id: id,
    exchange_order_id: str(o.exchange_order_id).trim(),
    symbol: symbolOf(o),
    direction: str(o.direction) as Direction,
    offset: str(o.offset) as Offset,
    volume_orign: lots(o.volume_orign),
    volume_left: lots(o.volume_left),
    price_type: priceType,
    limit_price: priceType === "LIMIT" ? price(o.limit_price) : null,
    time_condition: str(o.time_condition) as TimeCondition,
    volume_condition: str(o.volume_condition) as VolumeCondition,
    // Only FINISHED means "can never trade again"; anything else is treated as live.
    status: o.status === "FINISHED" ? "FINISHED" : "ALIVE",
    last_msg: str(o.last_msg),
    insert_time_ms: nsToMs(o.insert_date_time),
  };
}

/** A DIFF trade → {@linkcode BrokerTradeView}; `id` is its key under `trades`. */
export function toTradeView(id: string, t: Obj): BrokerTradeView {
  return {
    trade_id: id,
    broker_order_id: str(t.order_id),
    exchange_trade_id: str(t.exchange_trade_id),
    symbol: symbolOf(t),
    direction: str(t.direction) as Direction,
    offset: str(t.offset) as Offset,
    price: money(t.price),
    volume: lots(t.volume),
    commission: money(t.commission),
    trade_time_ms: nsToMs(t.trade_date_time),
  };
}

/** The broker state before any connection attempt. */
export function initialBrokerState(now: number = Date.now()): BrokerState {
  return {
    phase: "stopped",
    since: now,
    ready: false,
    trading_day: "",
    last_data_at: 0,
    reconnects: 0,
    attempts: 0,
    last_error: null,
    alarm: false,
  };
}

/** A flat position of `symbol` (what a vanished position becomes). */
export function zeroPosition(symbol: string): PositionView {
  return {
    symbol,
    long_today: 0,
    long_his: 0,
    short_today: 0,
    short_his: 0,
    long: 0,
    short: 0,
    net: 0,
    long_frozen_today: 0,
    long_frozen_his: 0,
    short_frozen_today: 0,
    short_frozen_his: 0,
    open_price_long: null,
    open_price_short: null,
    last_price: null,
    float_profit: 0,
    position_profit: 0,
    margin: 0,
  };
}

/** A lot count as DIFF sends it: a whole number ≥ 0 (a safe integer). */
export function isLotCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The lot fields of a {@linkcode PositionView} read from DIFF (`long`, `short`, `net` are derived). */
export type PositionLotField =
  | "long_today"
  | "long_his"
  | "short_today"
  | "short_his"
  | "long_frozen_today"
  | "long_frozen_his"
  | "short_frozen_today"
  | "short_frozen_his";

/**
 * The DIFF fields each lot field is read from, in order: `pos_*` are the lots held, `volume_*` is the older
 * name (the fallback when `pos_*` is absent).
 */
export const POSITION_LOT_SOURCES: Readonly<Record<PositionLotField, readonly string[]>> = {
  long_today: ["pos_long_today", "volume_long_today"],
  long_his: ["pos_long_his", "volume_long_his"],
  short_today: ["pos_short_today", "volume_short_today"],
  short_his: ["pos_short_his", "volume_short_his"],
  long_frozen_today: ["volume_long_frozen_today"],
  long_frozen_his: ["volume_long_frozen_his"],
  short_frozen_today: ["volume_short_frozen_today"],
  short_frozen_his: ["volume_short_frozen_his"],
};

/** Every DIFF field a position lot count is read from. */
export const POSITION_LOT_DIFF_FIELDS: ReadonlySet<string> = new Set(
  Object.values(POSITION_LOT_SOURCES).flat(),
);

/** A position lot count that could not be read. */
export interface MalformedLot {
  symbol: string;
  /** The DIFF field (`pos_long_today`, …). */
  field: string;
  /** What the tree (or the frame, for a field the merge deleted) holds. */
  value: unknown;
  /** The last known good value used instead; null when there is none (the position is not published). */
  kept: number | null;
}

/** What {@linkcode readPosition} makes of one DIFF position. */
export interface PositionRead {
  /** The view; null when a lot count is malformed and there is no earlier good value for it. */
  view: PositionView | null;
  malformed: MalformedLot[];
}

/** Options of {@linkcode readPosition}. */
export interface ReadPositionOptions {
  /** The last good view of this position: malformed lot counts keep its values. */
  previous?: PositionView;
  /**
   * DIFF fields known to be corrupt in the tree although it may not show it, with the value the frame
   * carried: a field a frame set to `null` (or to an overflowing number, which our parser turns into `null`)
   * has been deleted from tqsdk's tree by its merge and must not read as absent (0).
   */
  corrupt?: ReadonlyMap<string, unknown>;
}

/**
 * A DIFF position → {@linkcode PositionView}. A lot field reads its first source present in the tree
 * ({@linkcode POSITION_LOT_SOURCES}); none present = 0. A source that holds anything but a whole number ≥ 0,
 * or is listed in `corrupt`, is malformed: the field keeps `previous`'s value, and without one the view is
 * null (never a made-up 0).
 */
export function readPosition(
  symbol: string,
  p: Obj | undefined | null,
  options: ReadPositionOptions = {},
): PositionRead {
  if (!isObj(p)) return { view: zeroPosition(symbol), malformed: [] };
  const malformed: MalformedLot[] = [];
  const lot = (field: PositionLotField): number => {
    for (const source of POSITION_LOT_SOURCES[field]) {
      const corrupt = options.corrupt?.has(source) ?? false;
      const value = p[source];
      if (value === undefined && !corrupt) continue;
      if (!corrupt && isLotCount(value)) return value;
      const kept = options.previous ? options.previous[field] : null;
      malformed.push({
        symbol,
        field: source,
        value: value === undefined ? options.corrupt?.get(source) : value,
        kept,
      });
      return kept ?? 0;
    }
    return 0;
  };
  const long_today = lot("long_today");
  const long_his = lot("long_his");
  const short_today = lot("short_today");
  const short_his = lot("short_his");
  const frozen = {
    long_frozen_today: lot("long_frozen_today"),
    long_frozen_his: lot("long_frozen_his"),
    short_frozen_today: lot("short_frozen_today"),
    short_frozen_his: lot("short_frozen_his"),
  };
  if (malformed.some((m) => m.kept === null)) return { view: null, malformed };
  const long = long_today + long_his;
  const short = short_today + short_his;
  return {
    view: {
      symbol,
      long_today,
      long_his,
      short_today,
      short_his,
      long,
      short,
      net: long - short,
      ...frozen,
      open_price_long: long > 0 ? price(p.open_price_long) : null,
      open_price_short: short > 0 ? price(p.open_price_short) : null,
      last_price: price(p.last_price),
      float_profit: money(p.float_profit),
      position_profit: money(p.position_profit),
      margin: money(p.margin),
    },
    malformed,
  };
}

/** The key of {@linkcode framePositionLots}'s answer for "every position deleted" (no DIFF symbol is empty). */
export const ALL_POSITIONS = "";

/**
 * Lot fields one `rtn_data` frame set for `user`, by symbol: DIFF field → the value the frame carried. A
 * position the frame deleted maps to null (its fields are gone with it). A frame that deleted the user's
 * whole subtree or its `positions` starts the answer with {@linkcode ALL_POSITIONS} → null, followed by what
 * the frame set after that.
 */
export function framePositionLots(frame: Obj, user: string): Map<string, Map<string, unknown> | null> {
  const out = new Map<string, Map<string, unknown> | null>();
  const data = Array.isArray(frame.data) ? frame.data : [];
  for (const el of data) {
    if (!isObj(el) || !isObj(el.trade)) continue;
    const u = el.trade[user];
    if (u === null || (isObj(u) && u.positions === null)) {
      out.clear();
      out.set(ALL_POSITIONS, null);
      continue;
    }
    if (!isObj(u) || !isObj(u.positions)) continue;
    for (const [symbol, patch] of Object.entries(u.positions)) {
      if (!isObj(patch)) {
        out.set(symbol, null);
        continue;
      }
      let fields = out.get(symbol);
      if (!fields) {
        fields = new Map();
        out.set(symbol, fields);
      }
      for (const [k, v] of Object.entries(patch)) if (POSITION_LOT_DIFF_FIELDS.has(k)) fields.set(k, v);
    }
  }
  return out;
}

/** DIFF `accounts/CNY` → {@linkcode AccountView}. */
export function toAccountView(a: Obj | undefined | null): AccountView {
  const x = isObj(a) ? a : {};
  return {
    balance: money(x.balance),
    available: money(x.available),
    margin: money(x.margin),
    frozen_margin: money(x.frozen_margin),
    risk_ratio: money(x.risk_ratio),
    position_profit: money(x.position_profit),
    float_profit: money(x.float_profit),
    close_profit: money(x.close_profit),
    commission: money(x.commission),
    static_balance: money(x.static_balance),
    pre_balance: money(x.pre_balance),
  };
}

/** A DIFF notify → {@linkcode BrokerNotice}. */
export function toNotice(n: Obj): BrokerNotice {
  const level = n.level === "WARNING" || n.level === "ERROR" ? n.level : "INFO";
  return {
    code: typeof n.code === "number" && Number.isFinite(n.code) ? n.code : 0,
    level,
    type: str(n.type) || "MESSAGE",
    content: str(n.content),
  };
}

const QUOTE_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/;

/** DIFF quote `datetime` (Beijing time, `"2025-12-24 10:00:00.500000"`) → epoch ms, NaN when unknown. */
export function quoteDatetimeMs(v: unknown): number {
  const m = typeof v === "string" ? QUOTE_DATETIME.exec(v) : null;
  if (!m) return NaN;
  const ms = (m[3] ?? "").padEnd(3, "0").slice(0, 3);
  return Date.parse(`${m[1]}T${m[2]}.${ms}+08:00`);
}

/** A quote from tqsdk's tree → {@linkcode QuoteView}. */
export function toQuoteView(symbol: string, q: Obj, receivedAt: number): QuoteView {
  return {
    symbol,
    datetime_ms: quoteDatetimeMs(q.datetime),
    last_price: price(q.last_price),
    bid_price1: price(q.bid_price1),
    ask_price1: price(q.ask_price1),
    upper_limit: price(q.upper_limit),
    lower_limit: price(q.lower_limit),
    received_at: receivedAt,
  };
}

function sessions(v: unknown): [string, string][] {
  if (!Array.isArray(v)) return [];
  return v.filter((s): s is [string, string] =>
    Array.isArray(s) && s.length === 2 && typeof s[0] === "string" && typeof s[1] === "string"
  ).map(([a, b]) => [a, b]);
}

/** A contract-info entry → {@linkcode InstrumentView}. */
export function toInstrumentView(symbol: string, info: Obj): InstrumentView {
  const tt = isObj(info.trading_time) ? info.trading_time : {};
  const dot = symbol.indexOf(".");
  const positive = (v: unknown, dflt: number) =>
    typeof v === "number" && Number.isFinite(v) && v > 0 ? v : dflt;
  return {
    symbol,
    exchange_id: str(info.exchange_id) || symbol.slice(0, dot),
    instrument_id: str(info.ins_id) || symbol.slice(dot + 1),
    product_id: str(info.product_id),
    class: str(info.class),
    price_tick: money(info.price_tick),
    volume_multiple: money(info.volume_multiple),
    max_limit_order_volume: lots(info.max_limit_order_volume),
    max_market_order_volume: lots(info.max_market_order_volume),
    // tqsdk's contract-info defaults: at least one lot.
    min_limit_order_volume: positive(info.min_limit_order_volume, 1),
    min_market_order_volume: positive(info.min_market_order_volume, 1),
    expired: info.expired === true,
    expire_datetime_ms: typeof info.expire_datetime === "number" && Number.isFinite(info.expire_datetime)
      ? info.expire_datetime * 1000
      : NaN,
    trading_time: { day: sessions(tt.day), night: sessions(tt.night) },
  };
}

function entries(v: unknown): [string, Obj][] {
  return isObj(v) ? Object.entries(v).filter((e): e is [string, Obj] => isObj(e[1])) : [];
}

/** What {@linkcode readSnapshot} makes of a trade subtree. */
export interface SnapshotRead {
  snapshot: AccountSnapshot;
  /** Malformed position lot counts (positions without a good value for one are left out of `snapshot`). */
  malformed: MalformedLot[];
}

/**
 * The complete view of one user's trade subtree (`trade/<user>` of tqsdk's tree). `corrupt` lists, by symbol,
 * the position fields known to be corrupt ({@linkcode ReadPositionOptions.corrupt}); a position with a
 * malformed lot count is left out (a snapshot has no earlier value to keep) and reported in `malformed`.
 */
export function readSnapshot(
  tree: Obj,
  corrupt?: ReadonlyMap<string, ReadonlyMap<string, unknown>>,
): SnapshotRead {
  const session = isObj(tree.session) ? tree.session : {};
  const accounts = isObj(tree.accounts) ? tree.accounts : {};
  const snapshot: AccountSnapshot = {
    trading_day: str(session.trading_day) || str(tree.trading_day),
    account: toAccountView(accounts.CNY as Obj | undefined),
    positions: {},
    orders: {},
    trades: {},
  };
  const malformed: MalformedLot[] = [];
  for (const [k, p] of entries(tree.positions)) {
    const read = readPosition(k, p, { corrupt: corrupt?.get(k) });
    malformed.push(...read.malformed);
    if (read.view) snapshot.positions[k] = read.view;
  }
  for (const [k, o] of entries(tree.orders)) if (isWellFormed(o)) snapshot.orders[k] = toOrderView(k, o);
  for (const [k, t] of entries(tree.trades)) if (isWellFormed(t)) snapshot.trades[k] = toTradeView(k, t);
  return { snapshot, malformed };
}

/** Keys of one frame's changes under `trade/<user>`; `"all"` when a whole collection was deleted. */
export interface TouchedKeys {
  orders: Set<string> | "all";
  trades: Set<string> | "all";
  positions: Set<string> | "all";
  account: boolean;
  /** The frame set `trade_more_data`: its value (last one wins). */
  tradeMoreData?: unknown;
}

/** Which orders/trades/positions/account one `rtn_data` frame touched for `user`. */
export function touchedKeys(frame: Obj, user: string): TouchedKeys {
  const t: TouchedKeys = { orders: new Set(), trades: new Set(), positions: new Set(), account: false };
  const data = Array.isArray(frame.data) ? frame.data : [];
  for (const el of data) {
    if (!isObj(el) || !isObj(el.trade)) continue;
    const u = el.trade[user];
    if (u === null) {
      t.orders = t.trades = t.positions = "all";
      t.account = true;
      continue;
    }
    if (!isObj(u)) continue;
    if ("trade_more_data" in u) t.tradeMoreData = u.trade_more_data;
    for (const c of ["orders", "trades", "positions"] as const) {
      if (!(c in u)) continue;
      const v = u[c];
      const set = t[c];
      if (set === "all") continue;
      if (isObj(v)) { for (const k of Object.keys(v)) set.add(k); }
      else t[c] = "all";
    }
    if ("accounts" in u) {
      const a = u.accounts;
      if (!isObj(a) || "CNY" in a) t.account = true;
    }
  }
  return t;
}

/** The notifies carried by one `rtn_data` frame, in order. */
export function frameNotifies(frame: Obj): Obj[] {
  const out: Obj[] = [];
  const data = Array.isArray(frame.data) ? frame.data : [];
  for (const el of data) {
    if (!isObj(el) || !isObj(el.notify)) continue;
    for (const n of Object.values(el.notify)) if (isObj(n)) out.push(n);
  }
  return out;
}

/** Symbols whose quote one md `rtn_data` frame touched. */
export function touchedQuotes(frame: Obj): Set<string> {
  const out = new Set<string>();
  const data = Array.isArray(frame.data) ? frame.data : [];
  for (const el of data) {
    if (isObj(el) && isObj(el.quotes)) { for (const k of Object.keys(el.quotes)) out.add(k); }
  }
  return out;
}
