/**
 * Test fixtures for the pre-trade rules, built from the sim's real catalogue at 2025-12-24 10:00 Beijing
 * (`buildCatalogue`), so the rules are exercised on real `trading_time`, tick and volume data.
 *
 * @module
 */

import { buildCatalogue } from "../../sim/catalogue.ts";
import { parseQuoteDatetime } from "../../diff/trading_time.ts";
import type { InstrumentInfo, SymbolsFile } from "../../diff/types.ts";
import type { BrokerInsert } from "../../broker/types.ts";
import type {
  BrokerOrderView,
  InsertRequest,
  InstrumentView,
  OrderContext,
  PositionView,
  QuoteView,
} from "./types.ts";

/** The catalogue's clock: 2025-12-24 10:00:00 Beijing, a Wednesday inside the day session. */
export const CATALOGUE_CLOCK_MS: number = Date.parse("2025-12-24T10:00:00+08:00");

/** The sim's symbols file at {@linkcode CATALOGUE_CLOCK_MS}. */
export const CATALOGUE: SymbolsFile = buildCatalogue(CATALOGUE_CLOCK_MS);

/** Beijing `"YYYY-MM-DD HH:MM:SS[.fff]"` → epoch ms. */
export function bj(datetime: string): number {
  return parseQuoteDatetime(datetime);
}

/** A symbols-file entry → the broker's {@linkcode InstrumentView} (the fields the rules read). */
export function toInstrumentView(info: InstrumentInfo): InstrumentView {
  return {
    symbol: info.instrument_id,
    exchange_id: info.exchange_id,
    instrument_id: info.ins_id,
    product_id: info.product_id,
    class: info.class,
    price_tick: info.price_tick,
    volume_multiple: info.volume_multiple,
    max_limit_order_volume: info.max_limit_order_volume,
    max_market_order_volume: info.max_market_order_volume,
    min_limit_order_volume: info.min_limit_order_volume ?? 1,
    min_market_order_volume: info.min_market_order_volume ?? 1,
    expired: info.expired,
    expire_datetime_ms: info.expire_datetime * 1000,
    trading_time: structuredClone(info.trading_time),
  };
}

/** The catalogue's instrument `symbol` as a view; throws when the catalogue lacks it. */
export function instrument(symbol: string): InstrumentView {
  const info = CATALOGUE[symbol];
  if (info === undefined) throw new Error(`fixture: ${symbol} is not in the catalogue`);
  return toInstrumentView(info);
}

/** A quote of `ins` at exchange time `datetimeMs`, received at `datetimeMs` unless overridden. */
export function quote(ins: InstrumentView, datetimeMs: number, fields: Partial<QuoteView> = {}): QuoteView {
  const last = Number(CATALOGUE[ins.symbol]?.last_price ?? 1000);
  const tick = ins.price_tick;
  return {
    symbol: ins.symbol,
    datetime_ms: datetimeMs,
    last_price: last,
    bid_price1: last - tick,
    ask_price1: last + tick,
    upper_limit: last + 100 * tick,
    lower_limit: last - 100 * tick,
    received_at: datetimeMs,
    ...fields,
  };
}

/** A limit BUY OPEN of 1 lot (GFD) of `symbol`, with `fields` overriding. */
export function request(symbol: string, fields: Partial<InsertRequest> = {}): InsertRequest {
  return {
    order_id: "o-1",
    portfolio_id: "demo",
    symbol,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: Number(CATALOGUE[symbol]?.last_price ?? 1000),
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    timestamp_ms: null,
    request_id: null,
    ...fields,
  };
}

/** A market (ANY, IOC) request. */
export function marketRequest(symbol: string, fields: Partial<InsertRequest> = {}): InsertRequest {
  return request(symbol, { price_type: "ANY", limit_price: null, time_condition: "IOC", ...fields });
}

/** A position of `long`/`short` lots (all his). */
export function position(symbol: string, long: number, short: number): PositionView {
  return {
    symbol,
    long_today: 0,
    long_his: long,
    short_today: 0,
    short_his: short,
    long,
    short,
    net: long - short,
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

let orderSeq = 0;

/** One of our orders: ALIVE limit GFD with `volume_left` lots left. */
export function workingOrder(
  symbol: string,
  fields: Partial<BrokerOrderView> & Pick<BrokerOrderView, "direction" | "volume_left">,
): BrokerOrderView {
  return {
    broker_order_id: `w-${++orderSeq}`,
    exchange_order_id: "",
    symbol,
    offset: "OPEN",
    volume_orign: fields.volume_left,
    price_type: "LIMIT",
    limit_price: 1,
    time_condition: "GFD",
    volume_condition: "ANY",
    status: "ALIVE",
    last_msg: "",
    insert_time_ms: 0,
    ...fields,
  };
}

/**
 * An order context for `req` at local time `nowMs`: the catalogue's instrument and, unless `quote` is
 * given (or explicitly undefined), a fresh quote at exchange time `nowMs`.
 */
export function context(req: InsertRequest, nowMs: number, fields: Partial<OrderContext> = {}): OrderContext {
  const info = CATALOGUE[req.symbol];
  const ins = info === undefined ? undefined : toInstrumentView(info);
  return {
    request: req,
    instrument: ins,
    quote: ins === undefined ? undefined : quote(ins, nowMs),
    nowMs,
    position: undefined,
    workingOrders: [],
    ...fields,
  };
}

/** The order as the gate reserves and sends it for `r` (broker order id `TBC.<order_id>`). */
export function brokerInsertOf(r: InsertRequest): BrokerInsert {
  return {
    broker_order_id: `TBC.${r.order_id}`,
    symbol: r.symbol,
    direction: r.direction,
    offset: r.offset,
    volume: r.volume,
    price_type: r.price_type,
    limit_price: r.limit_price ?? undefined,
    time_condition: r.time_condition,
    volume_condition: r.volume_condition,
  };
}
