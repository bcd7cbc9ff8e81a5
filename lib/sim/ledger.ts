/**
 * Account and position arithmetic of the simulated exchange (TqSim rules, diff-protocol.md §2.1, §2.2, §5).
 *
 * Pure functions on the DIFF wire objects. Every derived field is recomputed from a few primary fields
 * (lots per bucket, open/position cost, last price, and the account's pre_balance, close_profit,
 * commission) instead of being adjusted by deltas, so nothing drifts over many updates.
 *
 * Rounding rule: every money figure (costs, profits, margins, commission, balances) and every average
 * price is rounded to 8 decimal places ({@link roundMoney}) when stored. Prices are compared in integer
 * units of the instrument's tick precision ({@link priceUnits}), never as raw floats.
 *
 * @module
 */
import type { Account, MaybeNumber, Position } from "../diff/types.ts";

/** Long or short side of a position. */
export type Side = "long" | "short";

/** Static per-instrument numbers a position needs. */
export interface PositionMeta {
  /** Product, e.g. `rb`; account margin takes the bigger side per `exchange_id.product_id`. */
  product_id: string;
  /** Contract multiplier. */
  volume_multiple: number;
  /** Margin per lot (CNY). */
  margin: number;
  /** Commission per lot (CNY). */
  commission: number;
}

/** Decimal places kept for money figures and average prices. */
export const MONEY_DECIMALS = 8;

/** Round a money figure to {@link MONEY_DECIMALS} places; never returns `-0`. */
export function roundMoney(x: number): number {
  const r = Number(x.toFixed(MONEY_DECIMALS));
  return r === 0 ? 0 : r;
}

/** A DIFF "maybe number" (`"-"`, `null`, NaN mean no value) as a finite number or `undefined`. */
export function finiteOrUndefined(x: MaybeNumber | string | undefined): number | undefined {
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

/** Number of decimal places in the shortest decimal form of `x` (e.g. 0.2 → 1, 0.005 → 3, 1e-7 → 7). */
export function decimalsOf(x: number): number {
  const s = String(Math.abs(x));
  const exp = s.indexOf("e-");
  if (exp >= 0) {
    const mantissa = s.slice(0, exp);
    const dot = mantissa.indexOf(".");
    return Number(s.slice(exp + 2)) + (dot >= 0 ? mantissa.length - dot - 1 : 0);
  }
  const dot = s.indexOf(".");
  return dot >= 0 ? s.length - dot - 1 : 0;
}

/**
 * `price` in integer units of 10^-decimals, or `undefined` when `price` has more decimals than that
 * (beyond float-representation noise of 1e-6 unit).
 */
export function priceUnits(price: number, decimals: number): number | undefined {
  const scaled = price * 10 ** decimals;
  const units = Math.round(scaled);
  return Math.abs(scaled - units) <= 1e-6 ? units : undefined;
}

/** `price` is a whole multiple of `tick`, decided in integer units (no float drift). */
export function isTickMultiple(price: number, tick: number): boolean {
  if (!Number.isFinite(price) || !(tick > 0)) return false;
  const d = decimalsOf(tick);
  const p = priceUnits(price, d);
  const t = priceUnits(tick, d);
  return p !== undefined && t !== undefined && t > 0 && p % t === 0;
}

/**
 * Compare two prices at the precision of `tick` (plus a few extra places for off-tick quotes):
 * negative if a < b, 0 if equal, positive if a > b.
 */
export function comparePrices(a: number, b: number, tick: number): number {
  const d = Math.min(decimalsOf(tick) + 4, 12);
  return Math.round(a * 10 ** d) - Math.round(b * 10 ** d);
}

/** A fresh `accounts/CNY` with `balance` CNY and nothing else. */
export function newAccount(userId: string, balance: number): Account {
  const b = roundMoney(balance);
  return {
    user_id: userId,
    currency: "CNY",
    pre_balance: b,
    deposit: 0,
    withdraw: 0,
    static_balance: b,
    close_profit: 0,
    commission: 0,
    premium: 0,
    position_profit: 0,
    float_profit: 0,
    balance: b,
    margin: 0,
    frozen_margin: 0,
    frozen_commission: 0,
    frozen_premium: 0,
    available: b,
    risk_ratio: 0,
    market_value: 0,
    ctp_balance: "-",
    ctp_available: "-",
  };
}

/** A flat position for `symbol` (`"SHFE.rb2605"`), valued at `lastPrice`. */
export function newPosition(userId: string, symbol: string, lastPrice: number): Position {
  const dot = symbol.indexOf(".");
  return {
    user_id: userId,
    exchange_id: symbol.slice(0, dot),
    instrument_id: symbol.slice(dot + 1),
    volume_long_today: 0,
    volume_long_his: 0,
    volume_long: 0,
    volume_long_frozen_today: 0,
    volume_long_frozen_his: 0,
    volume_long_frozen: 0,
    volume_short_today: 0,
    volume_short_his: 0,
    volume_short: 0,
    volume_short_frozen_today: 0,
    volume_short_frozen_his: 0,
    volume_short_frozen: 0,
    volume_long_yd: 0,
    volume_short_yd: 0,
    pos_long_today: 0,
    pos_long_his: 0,
    pos_short_today: 0,
    pos_short_his: 0,
    open_price_long: 0,
    open_price_short: 0,
    open_cost_long: 0,
    open_cost_short: 0,
    position_price_long: 0,
    position_price_short: 0,
    position_cost_long: 0,
    position_cost_short: 0,
    last_price: lastPrice,
    float_profit_long: 0,
    float_profit_short: 0,
    float_profit: 0,
    position_profit_long: 0,
    position_profit_short: 0,
    position_profit: 0,
    margin_long: 0,
    margin_short: 0,
    margin: 0,
    market_value_long: 0,
    market_value_short: 0,
    market_value: 0,
  };
}

/** The side whose lots a close order consumes: a SELL close takes long lots, a BUY close short lots. */
export function closedSide(direction: "BUY" | "SELL"): Side {
  return direction === "SELL" ? "long" : "short";
}

/** The side an open order adds to. */
export function openedSide(direction: "BUY" | "SELL"): Side {
  return direction === "BUY" ? "long" : "short";
}

/** Lots of `side` in `bucket` not frozen by pending closes (`all` = today + his). */
export function closableLots(p: Position, side: Side, bucket: "today" | "his" | "all"): number {
  const today = p[`volume_${side}_today`] - p[`volume_${side}_frozen_today`];
  const his = p[`volume_${side}_his`] - p[`volume_${side}_frozen_his`];
  return bucket === "today" ? today : bucket === "his" ? his : today + his;
}

/** Freeze (`sign` 1) or release (`sign` -1) lots of a pending close order, then refresh the totals. */
export function adjustFrozen(
  p: Position,
  side: Side,
  lots: { today: number; his: number },
  sign: 1 | -1,
): void {
  p[`volume_${side}_frozen_today`] += sign * lots.today;
  p[`volume_${side}_frozen_his`] += sign * lots.his;
  refreshVolumes(p);
}

/** Book an opening fill of `lots` at `price`. */
export function applyOpen(p: Position, side: Side, lots: number, price: number, meta: PositionMeta): void {
  const value = roundMoney(price * lots * meta.volume_multiple);
  p[`volume_${side}_today`] += lots;
  p[`open_cost_${side}`] = roundMoney(p[`open_cost_${side}`] + value);
  p[`position_cost_${side}`] = roundMoney(p[`position_cost_${side}`] + value);
  revalue(p, meta);
}

/**
 * Book a closing fill at `price` that takes `lots.today` today lots and `lots.his` old lots (both were
 * frozen by the order and are released here). Costs shrink pro rata; returns the realised close profit
 * `(price − position price) × lots × multiple` (long) or the mirror (short).
 */
export function applyClose(
  p: Position,
  side: Side,
  lots: { today: number; his: number },
  price: number,
  meta: PositionMeta,
): number {
  const n = lots.today + lots.his;
  const before = p[`volume_${side}`];
  const removedOpen = before === n
    ? p[`open_cost_${side}`]
    : roundMoney((p[`open_cost_${side}`] * n) / before);
  const removedPosition = before === n
    ? p[`position_cost_${side}`]
    : roundMoney((p[`position_cost_${side}`] * n) / before);
  const value = roundMoney(price * n * meta.volume_multiple);
  p[`volume_${side}_today`] -= lots.today;
  p[`volume_${side}_his`] -= lots.his;
  p[`volume_${side}_frozen_today`] -= lots.today;
  p[`volume_${side}_frozen_his`] -= lots.his;
  p[`open_cost_${side}`] = before === n ? 0 : roundMoney(p[`open_cost_${side}`] - removedOpen);
  p[`position_cost_${side}`] = before === n ? 0 : roundMoney(p[`position_cost_${side}`] - removedPosition);
  revalue(p, meta);
  return roundMoney(side === "long" ? value - removedPosition : removedPosition - value);
}

/** Recompute the lot totals (`volume_*`, `volume_*_frozen`, `pos_*`, `volume_*_yd`). */
export function refreshVolumes(p: Position): void {
  for (const side of ["long", "short"] as const) {
    p[`volume_${side}`] = p[`volume_${side}_today`] + p[`volume_${side}_his`];
    p[`volume_${side}_frozen`] = p[`volume_${side}_frozen_today`] + p[`volume_${side}_frozen_his`];
    p[`pos_${side}_today`] = p[`volume_${side}_today`];
    p[`pos_${side}_his`] = p[`volume_${side}_his`];
  }
  p.volume_long_yd = p.volume_long_his;
  p.volume_short_yd = p.volume_short_his;
}

/**
 * Recompute every derived field of a position from its lots, costs and `last_price`: average prices,
 * float profit (vs open cost), position profit (vs position cost), margins (lots × per-lot margin).
 */
export function revalue(p: Position, meta: PositionMeta): void {
  refreshVolumes(p);
  const last = finiteOrUndefined(p.last_price) ?? 0;
  for (const side of ["long", "short"] as const) {
    const lots = p[`volume_${side}`];
    const sign = side === "long" ? 1 : -1;
    if (lots === 0) {
      p[`open_cost_${side}`] = 0;
      p[`position_cost_${side}`] = 0;
      p[`open_price_${side}`] = 0;
      p[`position_price_${side}`] = 0;
      p[`float_profit_${side}`] = 0;
      p[`position_profit_${side}`] = 0;
      p[`margin_${side}`] = 0;
      continue;
    }
    const value = last * lots * meta.volume_multiple;
    p[`open_price_${side}`] = roundMoney(p[`open_cost_${side}`] / (lots * meta.volume_multiple));
    p[`position_price_${side}`] = roundMoney(p[`position_cost_${side}`] / (lots * meta.volume_multiple));
    p[`float_profit_${side}`] = roundMoney(sign * (value - p[`open_cost_${side}`]));
    p[`position_profit_${side}`] = roundMoney(sign * (value - p[`position_cost_${side}`]));
    p[`margin_${side}`] = roundMoney(lots * meta.margin);
  }
  p.float_profit = roundMoney(p.float_profit_long + p.float_profit_short);
  p.position_profit = roundMoney(p.position_profit_long + p.position_profit_short);
  p.margin = roundMoney(p.margin_long + p.margin_short);
}

/**
 * End-of-day roll of one position (TqSim `_on_settle`): today lots become his lots, frozen lots are
 * cleared (the day's orders are cancelled first), position price and cost are reset to `last_price`, so
 * position profit restarts at 0; open cost and float profit are kept.
 */
export function rollPosition(p: Position, meta: PositionMeta): void {
  const last = finiteOrUndefined(p.last_price) ?? 0;
  for (const side of ["long", "short"] as const) {
    p[`volume_${side}_his`] += p[`volume_${side}_today`];
    p[`volume_${side}_today`] = 0;
    p[`volume_${side}_frozen_today`] = 0;
    p[`volume_${side}_frozen_his`] = 0;
    p[`position_cost_${side}`] = roundMoney(last * p[`volume_${side}_his`] * meta.volume_multiple);
  }
  revalue(p, meta);
}

/** One position with its static numbers, as {@link recomputeAccount} needs them. */
export interface ValuedPosition {
  /** The position. */
  position: Position;
  /** Its instrument's static numbers. */
  meta: PositionMeta;
  /** Its exchange (margin groups are per `exchange_id.product_id`). */
  exchange_id: string;
}

/**
 * Recompute the derived account fields from its primaries (`pre_balance`, `deposit`, `withdraw`,
 * `close_profit`, `commission`, `premium`), the positions and the orders' frozen margin:
 * - static_balance = pre_balance + deposit − withdraw
 * - balance = static_balance + close_profit − commission + premium + position_profit
 * - margin = Σ over products (`exchange.product`) of max(Σ margin_long, Σ margin_short) (big side, TqSim)
 * - available = balance − margin − frozen_margin − frozen_commission − frozen_premium
 * - risk_ratio = margin / balance (0 when balance is 0)
 */
export function recomputeAccount(
  a: Account,
  positions: Iterable<ValuedPosition>,
  frozen: { margin: number; commission: number; premium: number },
): void {
  let floatProfit = 0;
  let positionProfit = 0;
  const sides = new Map<string, { long: number; short: number }>();
  for (const { position, meta, exchange_id } of positions) {
    floatProfit += position.float_profit;
    positionProfit += position.position_profit;
    const key = `${exchange_id}.${meta.product_id}`;
    const s = sides.get(key) ?? { long: 0, short: 0 };
    s.long += position.margin_long;
    s.short += position.margin_short;
    sides.set(key, s);
  }
  let margin = 0;
  for (const s of sides.values()) margin += Math.max(s.long, s.short);
  a.float_profit = roundMoney(floatProfit);
  a.position_profit = roundMoney(positionProfit);
  a.margin = roundMoney(margin);
  a.frozen_margin = roundMoney(frozen.margin);
  a.frozen_commission = roundMoney(frozen.commission);
  a.frozen_premium = roundMoney(frozen.premium);
  a.static_balance = roundMoney(a.pre_balance + a.deposit - a.withdraw);
  a.balance = roundMoney(a.static_balance + a.close_profit - a.commission + a.premium + a.position_profit);
  a.available = roundMoney(a.balance - a.margin - a.frozen_margin - a.frozen_commission - a.frozen_premium);
  a.risk_ratio = a.balance === 0 ? 0 : a.margin / a.balance;
}
