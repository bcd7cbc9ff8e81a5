/**
 * Exchange rules: what the exchange (or the CTP counter) would refuse anyway, checked before anything
 * leaves: the contract exists, is a live future, the price is on the tick grid and inside the daily limit
 * band, the volume is inside the contract's per-order range, and the order type is one the exchange takes.
 *
 * Everything comes from the instrument's contract info and the latest quote; the only table here is the
 * per-exchange order-type matrix of diff-protocol §3.1 ({@linkcode ORDER_TYPE_RESTRICTIONS}), keyed by
 * exchange and instrument class, never by product.
 *
 * Prices are judged in whole ticks (integers, see {@linkcode priceTicks}), never by comparing floats, and a
 * passing LIMIT order carries the price exactly on the grid to send ({@linkcode checkPrice}).
 *
 * Every rule except {@linkcode checkInstrument} passes when the instrument is unknown: refusing that is
 * `checkInstrument`'s job, and `checkAll` runs it first.
 *
 * @module
 */

import { type Decision, fmtNum, type OrderContext, PASS, refuse } from "./types.ts";
import { exchangeClock, formatBeijing } from "./session_rules.ts";

/** Relative tolerance (in ticks) for "is a multiple of the tick" and for limit-band comparisons. */
export const TICK_EPSILON = 1e-9;

/** Decimal places of a tick size (`1` → 0, `0.02` → 2, `0.005` → 3). */
export function tickDecimals(tick: number): number {
  const s = fmtNum(tick);
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

/**
 * A tick grid in integers: prices are counted in `unit`s of `10^-decimals` (the tick's decimals), so the
 * tick is the whole number `step` of units (`0.02` → decimals 2, step 2; `1` → decimals 0, step 1) and a
 * price on the grid is a whole number of units divisible by `step`. Undefined for a tick that is not finite
 * and > 0.
 */
export interface TickGrid {
  /** Decimal places of the tick. */
  decimals: number;
  /** `10 ** decimals`: units per 1 of price. */
  scale: number;
  /** The tick in units, a whole number ≥ 1. */
  step: number;
}

/** The integer grid of `tick` (see {@linkcode TickGrid}); undefined for a tick that is not finite and > 0. */
export function tickGrid(tick: number): TickGrid | undefined {
  if (!Number.isFinite(tick) || tick <= 0) return undefined;
  const decimals = tickDecimals(tick);
  const scale = 10 ** decimals;
  const step = Math.round(tick * scale);
  return step >= 1 ? { decimals, scale, step } : undefined;
}

/**
 * `price` in whole units of `grid` when it is one within float noise, else undefined. The noise forgiven
 * is `TICK_EPSILON` of a tick, or a few ulps of the price for large prices (where one ulp is more than
 * that), so `3500.0000000001`, `0.1 + 0.2` and `562.02 + 0.02` are whole units and `3500.000001` is not.
 */
function wholeUnits(price: number, grid: TickGrid): number | undefined {
  if (!Number.isFinite(price)) return undefined;
  const units = price * grid.scale;
  const n = Math.round(units);
  const tolerance = Math.max(grid.step * TICK_EPSILON, Math.abs(units) * 8 * Number.EPSILON);
  return Math.abs(units - n) <= tolerance ? n : undefined;
}

/**
 * `price` as a whole number of `tick`s (`3500` at tick 1 → 3500; `562.04` at tick 0.02 → 28102), judged in
 * integers: the price is counted in units of the tick's decimals, which must be a whole number within
 * float noise (see {@linkcode TICK_EPSILON}) and a multiple of the tick. Undefined when the price is off the
 * grid, not finite, or the tick is not finite and > 0.
 */
export function priceTicks(price: number, tick: number): number | undefined {
  const grid = tickGrid(tick);
  return grid === undefined ? undefined : gridTicks(price, grid);
}

/** {@linkcode priceTicks} on a grid already built. */
function gridTicks(price: number, grid: TickGrid): number | undefined {
  const units = wholeUnits(price, grid);
  if (units === undefined || units % grid.step !== 0) return undefined;
  return units / grid.step;
}

/**
 * Whether `price` is a whole number of `tick`s ({@linkcode priceTicks}): float noise (`3500.0000000001`,
 * `0.1 + 0.2`) is forgiven while a real off-grid price (`562.05` with tick `0.02`) is not. False for a
 * non-finite price or a tick ≤ 0.
 */
export function isTickMultiple(price: number, tick: number): boolean {
  return priceTicks(price, tick) !== undefined;
}

/**
 * The price of `ticks` whole ticks of `tick`, exactly as its decimal reads: computed as whole units divided
 * by the power of ten (`28102` ticks of `0.02` → `56204 / 100` → `562.04`, where `28102 * 0.02` would give
 * `562.0400000000001`), so the number sent is the double nearest the decimal price, with no drift.
 */
export function ticksToPrice(ticks: number, tick: number): number {
  return gridPrice(ticks, gridOf(tick));
}

/** {@linkcode ticksToPrice} on a grid already built. */
function gridPrice(ticks: number, grid: TickGrid): number {
  return (ticks * grid.step) / grid.scale;
}

function gridOf(tick: number): TickGrid {
  const grid = tickGrid(tick);
  if (grid === undefined) throw new RangeError(`price_tick must be finite and > 0, got ${tick}`);
  return grid;
}

/**
 * `price` moved to the nearest tick, with no drift (`3500.0000000001` → `3500`, `562.02 + 0.02` →
 * `562.04`, `3500.4` → `3500`): what the gate sends once {@linkcode isTickMultiple} passed.
 */
export function snapToTick(price: number, tick: number): number {
  const grid = gridOf(tick);
  return gridPrice(Math.round((price * grid.scale) / grid.step), grid);
}

/** The tick-grid prices just below and above an off-grid `price`. */
function neighbours(price: number, grid: TickGrid): [number, number] {
  const lo = Math.floor((price * grid.scale) / grid.step);
  return [gridPrice(lo, grid), gridPrice(lo + 1, grid)];
}

/**
 * A band bound in whole ticks: a bound on the grid (within float noise) is that tick; an off-grid bound
 * is the nearest tick inside the band (`floor` for the upper bound, `ceil` for the lower one).
 */
function boundTicks(bound: number, grid: TickGrid, side: "upper" | "lower"): number {
  const units = wholeUnits(bound, grid);
  if (units !== undefined && units % grid.step === 0) return units / grid.step;
  const ticks = (bound * grid.scale) / grid.step;
  return side === "upper" ? Math.floor(ticks) : Math.ceil(ticks);
}

/**
 * The contract is known (UNKNOWN_SYMBOL), not expired at the estimated exchange time (EXPIRED: the
 * `expired` flag, or `expire_datetime` at or before exchange time) and a plain future (NOT_FUTURE: class
 * `FUTURE`; options, combinations, indexes and continuous `KQ.*` symbols are refused). Field `symbol`.
 */
export function checkInstrument(ctx: OrderContext): Decision {
  const { request, instrument: ins } = ctx;
  if (ins === undefined) {
    return refuse("UNKNOWN_SYMBOL", "symbol", `unknown symbol ${request.symbol} (not in the contract info)`);
  }
  if (ins.symbol !== request.symbol) {
    return refuse(
      "UNKNOWN_SYMBOL",
      "symbol",
      `contract info is for ${ins.symbol}, not for the requested ${request.symbol}`,
    );
  }
  if (ins.expired) return refuse("EXPIRED", "symbol", `${ins.symbol} is expired`);
  const clock = exchangeClock(ctx.quote, ctx.nowMs);
  if (
    Number.isFinite(ins.expire_datetime_ms) && ins.expire_datetime_ms > 0 &&
    ins.expire_datetime_ms <= clock.ms
  ) {
    return refuse(
      "EXPIRED",
      "symbol",
      `${ins.symbol} expired at ${formatBeijing(ins.expire_datetime_ms)} (${clock.source} time now ` +
        `${formatBeijing(clock.ms)})`,
    );
  }
  if (ins.class !== "FUTURE") {
    return refuse(
      "NOT_FUTURE",
      "symbol",
      `${ins.symbol} is of class ${ins.class || "(none)"}, only FUTURE is traded`,
    );
  }
  return PASS;
}

/**
 * For LIMIT orders: `limit_price` is a number (PRICE_TICK), a whole number of `price_tick`s
 * (PRICE_TICK, see {@linkcode priceTicks}), and inside the quote's `lower_limit … upper_limit`, both
 * inclusive (PRICE_LIMIT), compared in whole ticks. Without a quote, or with a quote whose limits are
 * unknown, the band cannot be checked and the order is refused with NO_QUOTE (field `symbol`). A pass
 * carries `limit_price`: the price exactly on the grid (`3500.0000000001` → `3500`, `562.02 + 0.02` →
 * `562.04`), the one to send. Market orders pass as they are (they carry no price; the desk-limit rule
 * prices them).
 */
export function checkPrice(ctx: OrderContext): Decision {
  const { request, instrument: ins, quote } = ctx;
  if (ins === undefined || request.price_type !== "LIMIT") return PASS;
  const price = request.limit_price;
  if (price === null || !Number.isFinite(price)) {
    return refuse(
      "PRICE_TICK",
      "limit_price",
      `limit_price ${price} is not a number (LIMIT order, ${ins.symbol})`,
    );
  }
  const tick = ins.price_tick;
  const grid = tickGrid(tick); // built once for every step below
  if (grid === undefined) {
    return refuse(
      "PRICE_TICK",
      "limit_price",
      `price_tick of ${ins.symbol} is unknown (${tick}): cannot check limit_price`,
    );
  }
  const ticks = gridTicks(price, grid);
  if (ticks === undefined) {
    const [lo, hi] = neighbours(price, grid);
    return refuse(
      "PRICE_TICK",
      "limit_price",
      `limit_price ${fmtNum(price)} is not a multiple of price_tick ${fmtNum(tick)} (${ins.symbol}; ` +
        `nearest ${fmtNum(lo)} or ${fmtNum(hi)})`,
    );
  }
  const exact = gridPrice(ticks, grid);
  if (quote === undefined) {
    return refuse("NO_QUOTE", "symbol", `no quote for ${ins.symbol} yet: cannot check the limit band`);
  }
  const { lower_limit: lower, upper_limit: upper } = quote;
  if (lower === null || upper === null || !Number.isFinite(lower) || !Number.isFinite(upper)) {
    return refuse(
      "NO_QUOTE",
      "symbol",
      `the quote of ${ins.symbol} has no limit band (lower_limit ${lower}, upper_limit ${upper})`,
    );
  }
  if (ticks > boundTicks(upper, grid, "upper")) {
    return refuse(
      "PRICE_LIMIT",
      "limit_price",
      `limit_price ${fmtNum(exact)} is above upper_limit ${fmtNum(upper)} (${ins.symbol})`,
    );
  }
  if (ticks < boundTicks(lower, grid, "lower")) {
    return refuse(
      "PRICE_LIMIT",
      "limit_price",
      `limit_price ${fmtNum(exact)} is below lower_limit ${fmtNum(lower)} (${ins.symbol})`,
    );
  }
  return { ok: true, limit_price: exact };
}

function minVolume(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 1;
}

/**
 * `volume` is a whole number ≥ 1 and inside the contract's per-order range (VOLUME_RANGE, field
 * `volume`): LIMIT orders within `min_limit_order_volume … max_limit_order_volume`, market orders within
 * `min_market_order_volume … max_market_order_volume`. A minimum ≤ 0 or unknown counts as 1. A LIMIT
 * maximum of 0 means unknown: only the desk limit then applies. A market maximum of 0 means market orders
 * are not accepted for the contract: MARKET_NOT_ALLOWED (field `price_type`).
 */
export function checkVolume(ctx: OrderContext): Decision {
  const { request, instrument: ins } = ctx;
  if (ins === undefined) return PASS;
  const v = request.volume;
  if (!Number.isInteger(v) || v < 1) {
    return refuse("VOLUME_RANGE", "volume", `volume ${v} is not a whole number of lots ≥ 1 (${ins.symbol})`);
  }
  const market = request.price_type === "ANY";
  const max = market ? ins.max_market_order_volume : ins.max_limit_order_volume;
  const min = minVolume(market ? ins.min_market_order_volume : ins.min_limit_order_volume);
  const kind = market ? "market" : "limit";
  if (market && !(Number.isFinite(max) && max > 0)) {
    return refuse(
      "MARKET_NOT_ALLOWED",
      "price_type",
      `market orders are not accepted for ${ins.symbol} (max_market_order_volume ${max})`,
    );
  }
  if (v < min) {
    return refuse(
      "VOLUME_RANGE",
      "volume",
      `volume ${v} is below min_${kind}_order_volume ${min} (${ins.symbol})`,
    );
  }
  if (Number.isFinite(max) && max > 0 && v > max) {
    return refuse(
      "VOLUME_RANGE",
      "volume",
      `volume ${v} is above max_${kind}_order_volume ${max} (${ins.symbol})`,
    );
  }
  return PASS;
}

/** The order kinds an exchange may refuse. */
export type RestrictedKind = "MARKET" | "FOK" | "FAK";

/** One line of the order-type matrix: `kind` is not accepted on `exchange_id` (for `classes`, or all). */
export interface OrderTypeRestriction {
  kind: RestrictedKind;
  exchange_id: string;
  /** Instrument classes it applies to; absent = every class. */
  classes?: readonly string[];
}

/**
 * diff-protocol §3.1 (tqsdk-python's client-side checks, `api.py` ≈L1368–1392; lessons §16.3):
 * market orders not on CFFEX, SHFE, INE, SSE, SZSE, nor on DCE options; FOK (IOC + ALL, limit or market)
 * not on CZCE futures; limit FAK (IOC + ANY) not on SSE/SZSE options. Nothing per product.
 */
export const ORDER_TYPE_RESTRICTIONS: readonly OrderTypeRestriction[] = [
  { kind: "MARKET", exchange_id: "CFFEX" },
  { kind: "MARKET", exchange_id: "SHFE" },
  { kind: "MARKET", exchange_id: "INE" },
  { kind: "MARKET", exchange_id: "SSE" },
  { kind: "MARKET", exchange_id: "SZSE" },
  { kind: "MARKET", exchange_id: "DCE", classes: ["OPTION", "FUTURE_OPTION"] },
  { kind: "FOK", exchange_id: "CZCE", classes: ["FUTURE"] },
  { kind: "FAK", exchange_id: "SSE", classes: ["OPTION"] },
  { kind: "FAK", exchange_id: "SZSE", classes: ["OPTION"] },
];

/** Whether the matrix forbids `kind` for an instrument of `exchangeId` and class `cls`. */
export function isRestricted(kind: RestrictedKind, exchangeId: string, cls: string): boolean {
  return ORDER_TYPE_RESTRICTIONS.some((r) =>
    r.kind === kind && r.exchange_id === exchangeId && (r.classes === undefined || r.classes.includes(cls))
  );
}

/**
 * The order type is one the exchange accepts, per {@linkcode ORDER_TYPE_RESTRICTIONS}: a market order
 * (`price_type` ANY) where markets are refused → MARKET_NOT_ALLOWED (field `price_type`); FOK (`IOC` +
 * `ALL`) where refused → FOK_NOT_ALLOWED (field `volume_condition`); limit FAK (`IOC` + `ANY`) where refused
 * → FAK_NOT_ALLOWED (field `time_condition`). Also (defence in depth, the request parser refuses these
 * first): a market order must be IOC (MARKET_NOT_ALLOWED, field `time_condition`) and `volume_condition`
 * ALL needs IOC (FOK_NOT_ALLOWED, field `volume_condition`).
 */
export function checkOrderType(ctx: OrderContext): Decision {
  const { request: r, instrument: ins } = ctx;
  if (ins === undefined) return PASS;
  const where = `${ins.exchange_id} ${ins.class} (${ins.symbol})`;
  if (r.price_type === "ANY") {
    if (isRestricted("MARKET", ins.exchange_id, ins.class)) {
      return refuse(
        "MARKET_NOT_ALLOWED",
        "price_type",
        `market orders (price_type ANY) are not accepted on ${where}`,
      );
    }
    if (r.time_condition !== "IOC") {
      return refuse(
        "MARKET_NOT_ALLOWED",
        "time_condition",
        `a market order must be IOC, not time_condition ${r.time_condition} (${ins.symbol})`,
      );
    }
  }
  if (r.volume_condition === "ALL") {
    if (r.time_condition !== "IOC") {
      return refuse(
        "FOK_NOT_ALLOWED",
        "volume_condition",
        `volume_condition ALL (FOK) needs time_condition IOC, not ${r.time_condition} (${ins.symbol})`,
      );
    }
    if (isRestricted("FOK", ins.exchange_id, ins.class)) {
      return refuse(
        "FOK_NOT_ALLOWED",
        "volume_condition",
        `FOK orders (IOC + ALL) are not accepted on ${where}`,
      );
    }
  } else if (
    r.time_condition === "IOC" && r.price_type === "LIMIT" && isRestricted("FAK", ins.exchange_id, ins.class)
  ) {
    return refuse(
      "FAK_NOT_ALLOWED",
      "time_condition",
      `FAK orders (LIMIT + IOC + ANY) are not accepted on ${where}`,
    );
  }
  return PASS;
}
