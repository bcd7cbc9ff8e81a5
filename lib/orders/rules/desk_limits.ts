/**
 * Desk limits: our own caps on one order's size and value and on the position it could lead to, from
 * the `risk:` section of the configuration (portfolio defaults, overridden per product `EXCHANGE.product`
 * and per symbol `EXCHANGE.code`).
 *
 * A limit of 0 allows nothing: `max_order_volume: 0` or `max_order_notional: 0` refuses every order of the
 * symbol; `max_net_position: 0` allows only orders that reduce the position.
 *
 * @module
 */

import { type Decision, fmtNum, type OrderContext, pass, refuse } from "./types.ts";

/** The limits that apply to one symbol. */
export interface DeskLimits {
  /** Largest `volume` of one order, lots. */
  max_order_volume: number;
  /** Largest price × volume × volume_multiple of one order, CNY. */
  max_order_notional: number;
  /** Largest |long − short| the symbol may reach, counting our working orders (see `projectNet`). */
  max_net_position: number;
  /** Where each limit came from (`risk` or `risk.symbols["SHFE.rb"]`), for messages. */
  sources?: Partial<Record<LimitKey, string>>;
}

/** The names of the three limits. */
export type LimitKey = "max_order_volume" | "max_order_notional" | "max_net_position";

const LIMIT_KEYS: readonly LimitKey[] = ["max_order_volume", "max_order_notional", "max_net_position"];

/** Overrides of some limits for one product or symbol. */
export type LimitOverrides = Partial<Record<LimitKey, number>>;

/** The part of the `risk:` configuration the desk limits use (`Config["risk"]` fits it). */
export interface RiskLimitsConfig {
  max_order_volume: number;
  max_order_notional: number;
  max_net_position: number;
  /** Keyed by `EXCHANGE.product` (`SHFE.rb`) or by symbol (`SHFE.rb2605`). */
  symbols: Record<string, LimitOverrides>;
}

/** Options of {@linkcode resolveLimits}. */
export interface ResolveLimitsOptions {
  /**
   * The product id (`rb`, `SR`), from the instrument. Default: the leading letters of the exchange code
   * (`rb2605` → `rb`, `SR605` → `SR`).
   */
  productId?: string;
}

/** `EXCHANGE.product` of a symbol (`SHFE.rb2605` → `SHFE.rb`), or undefined when it has no such form. */
export function productKey(symbol: string, options: ResolveLimitsOptions = {}): string | undefined {
  const dot = symbol.indexOf(".");
  if (dot <= 0) return undefined;
  const product = options.productId || /^[A-Za-z]+/.exec(symbol.slice(dot + 1))?.[0];
  return product ? `${symbol.slice(0, dot)}.${product}` : undefined;
}

/**
 * The limits of `symbol`: the portfolio defaults of `risk`, then the overrides of its product
 * (`risk.symbols["SHFE.rb"]`), then those of the symbol itself (`risk.symbols["SHFE.rb2605"]`); the most
 * specific key present wins, key by key. Keys are case-sensitive, as exchanges spell them.
 */
export function resolveLimits(
  risk: RiskLimitsConfig,
  symbol: string,
  options: ResolveLimitsOptions = {},
): DeskLimits {
  const out: DeskLimits = {
    max_order_volume: risk.max_order_volume,
    max_order_notional: risk.max_order_notional,
    max_net_position: risk.max_net_position,
    sources: { max_order_volume: "risk", max_order_notional: "risk", max_net_position: "risk" },
  };
  const product = productKey(symbol, options);
  const keys = product === undefined || product === symbol ? [symbol] : [product, symbol];
  for (const key of keys) {
    const o = Object.hasOwn(risk.symbols, key) ? risk.symbols[key] : undefined;
    if (!o) continue;
    for (const k of LIMIT_KEYS) {
      const v = o[k];
      if (v !== undefined) {
        out[k] = v;
        out.sources![k] = `risk.symbols["${key}"]`;
      }
    }
  }
  return out;
}

function source(limits: DeskLimits, key: LimitKey): string {
  const s = limits.sources?.[key];
  return s && s !== "risk" ? ` from ${s}` : "";
}

/**
 * The price an order is valued at: a LIMIT order's `limit_price`; a market order's opposite best price
 * (ask for BUY, bid for SELL), else the limit-band bound on that side (upper_limit for BUY, lower_limit for
 * SELL). Null when none is known.
 */
export function valuationPrice(ctx: OrderContext): number | null {
  const { request: r, quote } = ctx;
  const finite = (v: number | null | undefined) =>
    v !== null && v !== undefined && Number.isFinite(v) ? v : null;
  if (r.price_type === "LIMIT") return finite(r.limit_price);
  if (r.direction === "BUY") return finite(quote?.ask_price1) ?? finite(quote?.upper_limit);
  return finite(quote?.bid_price1) ?? finite(quote?.lower_limit);
}

/** How a new order could move the net position (lots). See {@linkcode projectNet}. */
export interface NetProjection {
  /** long − short now. */
  net: number;
  /** Lots still to trade (`volume_left`) of our ALIVE orders on the symbol in the order's direction. */
  working: number;
  /** Worst case without the new order: `net + s·working` (s = +1 for BUY, −1 for SELL). */
  before: number;
  /** Worst case with it: `before + s·volume`. */
  after: number;
}

/**
 * The conservative net-position projection. On the net (long − short) only the direction matters: every
 * BUY lot adds 1 (OPEN BUY adds to long, CLOSE BUY takes from short), every SELL lot subtracts 1. Working
 * orders in the same direction are assumed to fill entirely; those in the opposite direction are assumed
 * not to (they may be cancelled):
 *
 * `net = long − short`, `working = Σ volume_left (ALIVE, same symbol, same direction)`,
 * `before = net + s·working`, `after = before + s·volume`, with s = +1 for BUY and −1 for SELL.
 */
export function projectNet(ctx: OrderContext): NetProjection {
  const { request: r, position: p } = ctx;
  const net = p === undefined ? 0 : p.long - p.short;
  let working = 0;
  for (const o of ctx.workingOrders) {
    if (o.status === "ALIVE" && o.symbol === r.symbol && o.direction === r.direction) {
      working += Math.max(0, o.volume_left);
    }
  }
  const s = r.direction === "BUY" ? 1 : -1;
  const before = net + s * working;
  return { net, working, before, after: before + s * r.volume };
}

function signed(n: number): string {
  return n > 0 ? `+${fmtNum(n)}` : fmtNum(n);
}

/**
 * Our own limits, in this order:
 * 1. MAX_ORDER_VOLUME (field `volume`): `volume > max_order_volume`;
 * 2. MAX_ORDER_NOTIONAL (field `volume`): `price × volume × volume_multiple > max_order_notional`, priced
 *    by {@linkcode valuationPrice}; a market order with no price known → NO_QUOTE (field `symbol`); an
 *    unknown instrument → UNKNOWN_SYMBOL; a value that cannot be computed (unknown multiplier) is refused;
 * 3. MAX_POSITION (field `volume`): `|after| > max_net_position` **and** `|after| > |before|` (see
 *    {@linkcode projectNet}): an order that does not increase the worst-case exposure is always allowed,
 *    so a desk over its limit (after the limit was lowered) can still close.
 */
export function checkDeskLimits(ctx: OrderContext, limits: DeskLimits): Decision {
  const { request: r, instrument: ins } = ctx;
  if (r.volume > limits.max_order_volume) {
    return refuse(
      "MAX_ORDER_VOLUME",
      "volume",
      `volume ${r.volume} is above max_order_volume ${limits.max_order_volume}${
        source(limits, "max_order_volume")
      } ` +
        `(${r.symbol})`,
    );
  }
  if (ins === undefined) {
    return refuse("UNKNOWN_SYMBOL", "symbol", `unknown symbol ${r.symbol}: cannot value the order`);
  }
  const price = valuationPrice(ctx);
  if (price === null) {
    return refuse(
      "NO_QUOTE",
      "symbol",
      `no price to value a market order on ${r.symbol} (no quote or limits yet)`,
    );
  }
  // Rounded to a millionth of a yuan so that float noise (0.3 × 3 × 10000 = 9000.000000000002) cannot
  // tip an order at exactly the limit over it.
  const notional = Number((Math.abs(price) * r.volume * ins.volume_multiple).toFixed(6));
  if (!Number.isFinite(notional)) {
    return refuse(
      "MAX_ORDER_NOTIONAL",
      "volume",
      `order value of ${r.symbol} cannot be computed (price ${price}, volume_multiple ${ins.volume_multiple})`,
    );
  }
  if (notional > limits.max_order_notional) {
    return refuse(
      "MAX_ORDER_NOTIONAL",
      "volume",
      `order value ${fmtNum(notional)} (${fmtNum(price)} × ${r.volume} × ${ins.volume_multiple}) is above ` +
        `max_order_notional ${fmtNum(limits.max_order_notional)}${
          source(limits, "max_order_notional")
        } (${r.symbol})`,
    );
  }
  const p = projectNet(ctx);
  if (Math.abs(p.after) > limits.max_net_position && Math.abs(p.after) > Math.abs(p.before)) {
    return refuse(
      "MAX_POSITION",
      "volume",
      `net position of ${r.symbol} could reach ${signed(p.after)} (net ${
        signed(p.net)
      }, working ${r.direction} ` +
        `${p.working}, this ${r.direction} ${r.volume}), beyond max_net_position ${limits.max_net_position}` +
        source(limits, "max_net_position"),
    );
  }
  return pass();
}
