/**
 * DIFF objects (as tqsdk's merged tree holds them) → the broker room's views (`types.ts`).
 *
 * Missing or non-numeric values follow tqsdk-python's defaults: lot counts become 0, prices become `null`
 * (the views' "unknown"), money amounts become NaN (never a made-up 0). Strings default to `""`.
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

/** A lot count: finite number, else 0. */
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

/** A DIFF position → {@linkcode PositionView}; missing → {@linkcode zeroPosition}. */
export function toPositionView(symbol: string, p: Obj | undefined | null): PositionView {
  if (!isObj(p)) return zeroPosition(symbol);
  // pos_* are the lots held; volume_* is the older name (fallback when pos_* is absent).
  const held = (pos: string, vol: string) => lots(p[pos] !== undefined ? p[pos] : p[vol]);
  const long_today = held("pos_long_today", "volume_long_today");
  const long_his = held("pos_long_his", "volume_long_his");
  const short_today = held("pos_short_today", "volume_short_today");
  const short_his = held("pos_short_his", "volume_short_his");
  const long = long_today + long_his;
  const short = short_today + short_his;
  return {
    symbol,
    long_today,
    long_his,
    short_today,
    short_his,
    long,
    short,
    net: long - short,
    long_frozen_today: lots(p.volume_long_frozen_today),
    long_frozen_his: lots(p.volume_long_frozen_his),
    short_frozen_today: lots(p.volume_short_frozen_today),
    short_frozen_his: lots(p.volume_short_frozen_his),
    open_price_long: long > 0 ? price(p.open_price_long) : null,
    open_price_short: short > 0 ? price(p.open_price_short) : null,
    last_price: price(p.last_price),
    float_profit: money(p.float_profit),
    position_profit: money(p.position_profit),
    margin: money(p.margin),
  };
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

/** The complete view of one user's trade subtree (`trade/<user>` of tqsdk's tree). */
export function buildSnapshot(tree: Obj): AccountSnapshot {
  const session = isObj(tree.session) ? tree.session : {};
  const accounts = isObj(tree.accounts) ? tree.accounts : {};
  const snapshot: AccountSnapshot = {
    trading_day: str(session.trading_day) || str(tree.trading_day),
    account: toAccountView(accounts.CNY as Obj | undefined),
    positions: {},
    orders: {},
    trades: {},
  };
  for (const [k, p] of entries(tree.positions)) snapshot.positions[k] = toPositionView(k, p);
  for (const [k, o] of entries(tree.orders)) if (isWellFormed(o)) snapshot.orders[k] = toOrderView(k, o);
  for (const [k, t] of entries(tree.trades)) if (isWellFormed(t)) snapshot.trades[k] = toTradeView(k, t);
  return snapshot;
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
