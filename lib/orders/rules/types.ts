/**
 * Vocabulary of the pre-trade rules: what a rule looks at ({@linkcode OrderContext}), what it answers
 * ({@linkcode Decision}) and why it refuses ({@linkcode RejectCode}, {@linkcode Refusal}).
 *
 * Every rule is a pure function of its context (and, for the stateful limiters, of the time passed in):
 * no I/O, no clock reads. The send gate gathers the context and calls them; see `mod.ts` for the order.
 *
 * @module
 */

import type { InsertRequest } from "../types.ts";
import type { BrokerOrderView, InstrumentView, PositionView, QuoteView } from "../../broker/types.ts";

export type { BrokerOrderView, InsertRequest, InstrumentView, PositionView, QuoteView };

/** Why a rule refused a request. Stable strings: they are written to `order_history.reject_reason`. */
export type RejectCode =
  | "UNKNOWN_SYMBOL"
  | "EXPIRED"
  | "NOT_FUTURE"
  | "NO_QUOTE"
  | "PRICE_TICK"
  | "PRICE_LIMIT"
  | "VOLUME_RANGE"
  | "MARKET_NOT_ALLOWED"
  | "FOK_NOT_ALLOWED"
  | "FAK_NOT_ALLOWED"
  | "OUTSIDE_SESSION"
  | "STALE_REQUEST"
  | "MAX_ORDER_VOLUME"
  | "MAX_ORDER_NOTIONAL"
  | "MAX_POSITION"
  | "INSERT_RATE"
  | "CANCEL_RATE"
  | "CANCEL_LIMIT";

/** Every {@linkcode RejectCode}, for metrics labels and exhaustiveness tests. */
export const REJECT_CODES: readonly RejectCode[] = [
  "UNKNOWN_SYMBOL",
  "EXPIRED",
  "NOT_FUTURE",
  "NO_QUOTE",
  "PRICE_TICK",
  "PRICE_LIMIT",
  "VOLUME_RANGE",
  "MARKET_NOT_ALLOWED",
  "FOK_NOT_ALLOWED",
  "FAK_NOT_ALLOWED",
  "OUTSIDE_SESSION",
  "STALE_REQUEST",
  "MAX_ORDER_VOLUME",
  "MAX_ORDER_NOTIONAL",
  "MAX_POSITION",
  "INSERT_RATE",
  "CANCEL_RATE",
  "CANCEL_LIMIT",
];

/**
 * A refusal: the code, the request field it is about (`symbol`, `limit_price`, `volume`, `price_type`,
 * `time_condition`, `volume_condition`, `timestamp`, or `$` for the request as a whole, e.g. rate limits),
 * and a message naming the value and the limit, e.g.
 * `"limit_price 3500.5 is not a multiple of price_tick 1 (SHFE.rb2605)"`.
 */
export interface Refusal {
  code: RejectCode;
  field: string;
  message: string;
}

/**
 * A rule's answer: pass (possibly with warnings to log) or refuse with one reason. A pass of a LIMIT order
 * may carry `limit_price`: the requested price exactly on the tick grid, which is what must be sent
 * (`checkPrice`).
 */
export type Decision =
  | { ok: true; warnings?: string[]; limit_price?: number }
  | { ok: false; refusal: Refusal };

/** Everything an insert rule may look at, gathered by the send gate at the moment of the decision. */
export interface OrderContext {
  request: InsertRequest;
  /** Contract info of `request.symbol`; undefined when the symbol is unknown. */
  instrument: InstrumentView | undefined;
  /** Latest quote of `request.symbol`; undefined before the first one arrived. */
  quote: QuoteView | undefined;
  /** Local clock, epoch ms. */
  nowMs: number;
  /** Our position in `request.symbol`; undefined = flat. */
  position: PositionView | undefined;
  /** Our ALIVE orders on this symbol (others are ignored defensively). */
  workingOrders: BrokerOrderView[];
}

/** The passing decision without warnings. */
export const PASS: Decision = Object.freeze({ ok: true as const });

/** A passing decision, carrying `warnings` when there are any. */
export function pass(warnings: readonly string[] = []): Decision {
  return warnings.length > 0 ? { ok: true, warnings: [...warnings] } : { ok: true };
}

/** A refusing decision. */
export function refuse(code: RejectCode, field: string, message: string): Decision {
  return { ok: false, refusal: { code, field, message } };
}

/**
 * Format a number for a message without float noise: up to 10 significant decimals, trailing zeros
 * dropped (`562.0400000000001` → `"562.04"`, `3500.5` → `"3500.5"`, `50000000` → `"50000000"`).
 */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = n.toFixed(10).replace(/\.?0+$/, "");
  return s === "-0" ? "0" : s;
}
