/**
 * The order state machine: derives an order's status from the broker's view of it (DIFF `orders/<id>`) and
 * its fills (DIFF `trades/<id>`), and turns a change into an {@link OrderUpdate} for the store. Pure: no I/O.
 *
 * Rules (contract §4, lessons-from-peers §15.3, diff-protocol §2.6):
 * - `FINISHED` is the only "dead" signal. FINISHED with `volume_left` 0 (or fills covering the volume) is
 *   `FILLED`; FINISHED that never reached the exchange (`exchange_order_id` empty) and never traded is
 *   `REJECTED` (a reject is never written as a cancel); any other FINISHED order is `CANCELED` (a partial
 *   fill then a cancel stays `CANCELED`, with `filled_quantity` > 0). IOC misses (`已撤单报单已提交`) carry an
 *   exchange id and are therefore `CANCELED`.
 * - `ALIVE` without an exchange id is `SUBMITTED`, with one and no fill `ACCEPTED`, partly traded
 *   `PARTIALLY_FILLED`.
 * - Fill quantities and prices come from trades, deduplicated by `trade_id` ({@link FillLedger}), never from
 *   `last_msg` or status counts. `last_msg` is free text and is only copied, never parsed.
 * - A terminal order (`FILLED`, `CANCELED`, `REJECTED`) never moves to another status, and no order moves
 *   backwards (e.g. `ACCEPTED` → `SUBMITTED`); such a view yields an {@link OrderAnomaly} for the caller to
 *   log instead of an update. `UNKNOWN` (and `RECEIVED`) may move to anything.
 *
 * @module
 */

import type { BrokerOrderView } from "../broker/types.ts";
import { type OrderRecord, type OrderStatus, type OrderUpdate, TERMINAL_STATUSES } from "./types.ts";

/** One fill as the ledger needs it (a subset of `BrokerTradeView`). */
export interface FillTrade {
  trade_id: string;
  price: number;
  volume: number;
}

/** What the state machine knows about an order's fills. */
export interface FillSummary {
  /** Lots traded, Σ volume over distinct trades. */
  filled: number;
  /** Volume-weighted average price rounded to 1e-8, null before the first fill. */
  avgPrice: number | null;
  /**
   * The distinct trades in arrival order. When given, {@link nextUpdate} names the new trades in the fill
   * event (`trade_id`, `price`, `volume`).
   */
  trades?: readonly FillTrade[];
}

/** Rounds to 1e-8 (prices are stored as `numeric`; this keeps float noise out of them). */
export function roundPrice(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}

/**
 * The fills of one order, deduplicated by `trade_id` (DIFF re-sends whole trades after every reconnect and
 * snapshot). Rebuild it after a restart from the `trade` table (`OrderStore.fillsOf`).
 */
export class FillLedger implements FillSummary {
  #trades: FillTrade[] = [];
  #ids = new Set<string>();
  #filled = 0;
  #notional = 0;

  /** A ledger holding `trades` (duplicates ignored). */
  static from(trades: Iterable<FillTrade>): FillLedger {
    const ledger = new FillLedger();
    for (const t of trades) ledger.add(t);
    return ledger;
  }

  /**
   * Adds a trade. Returns false (and changes nothing) when a trade with this `trade_id` is already in the
   * ledger. Throws a `RangeError` for a trade that cannot be a fill (volume not an integer ≥ 1, price not
   * finite, empty id).
   */
  add(trade: FillTrade): boolean {
    if (typeof trade.trade_id !== "string" || trade.trade_id === "") {
      throw new RangeError("FillLedger: trade_id must be a non-empty string");
    }
    if (this.#ids.has(trade.trade_id)) return false;
    if (!Number.isSafeInteger(trade.volume) || trade.volume < 1) {
      throw new RangeError(
        `FillLedger: trade ${trade.trade_id}: volume ${trade.volume} is not an integer >= 1`,
      );
    }
    if (!Number.isFinite(trade.price)) {
      throw new RangeError(`FillLedger: trade ${trade.trade_id}: price ${trade.price} is not finite`);
    }
    this.#ids.add(trade.trade_id);
    this.#trades.push({ trade_id: trade.trade_id, price: trade.price, volume: trade.volume });
    this.#filled += trade.volume;
    this.#notional += trade.price * trade.volume;
    return true;
  }

  /** True when the trade id is in the ledger. */
  has(tradeId: string): boolean {
    return this.#ids.has(tradeId);
  }

  /** Lots traded. */
  get filled(): number {
    return this.#filled;
  }

  /** Σ price×volume / Σ volume rounded to 1e-8; null before the first fill. */
  get avgPrice(): number | null {
    return this.#filled === 0 ? null : roundPrice(this.#notional / this.#filled);
  }

  /** Distinct trades in arrival order. */
  get trades(): readonly FillTrade[] {
    return this.#trades;
  }
}

/** True when the broker's exchange order id is set (CTP pads it with spaces: `"    25169789"`). */
function hasExchangeId(view: BrokerOrderView): boolean {
  return view.exchange_order_id.trim() !== "";
}

/**
 * The status of an order the broker shows as `view`, given its fills (see the module rules).
 */
export function deriveStatus(
  view: BrokerOrderView,
  fills: { filled: number; avgPrice: number | null },
): OrderStatus {
  const traded = fills.filled > 0 || view.volume_left < view.volume_orign;
  if (view.status === "FINISHED") {
    if (view.volume_left === 0 || (view.volume_orign > 0 && fills.filled >= view.volume_orign)) {
      return "FILLED";
    }
    if (!hasExchangeId(view) && !traded) return "REJECTED";
    return "CANCELED";
  }
  if (traded) return "PARTIALLY_FILLED";
  return hasExchangeId(view) ? "ACCEPTED" : "SUBMITTED";
}

/** Why {@link nextUpdate} refused to produce an update. */
export type AnomalyKind =
  /** A FILLED, CANCELED or REJECTED order would move to another status. */
  | "terminal_status_change"
  /** A live order would move backwards (e.g. ACCEPTED → SUBMITTED). */
  | "status_regression"
  /** The fills passed are fewer than the order already records (a ledger not rebuilt?). */
  | "fills_decreased"
  /** The fills exceed the order's volume. */
  | "overfill";

/** A view that contradicts what is recorded: nothing should be written; the caller logs it. */
export interface OrderAnomaly {
  anomaly: string;
  kind: AnomalyKind;
  portfolio_id: string;
  id: string;
  current: OrderStatus;
  derived: OrderStatus;
}

/** True when `result` is an {@link OrderAnomaly}. */
export function isAnomaly(result: OrderUpdate | OrderAnomaly | null): result is OrderAnomaly {
  return result !== null && typeof (result as OrderAnomaly).anomaly === "string";
}

/** Progress rank of live statuses; a live order never moves to a lower rank. */
const RANK: Record<OrderStatus, number> = {
  RECEIVED: 0,
  UNKNOWN: 0,
  SUBMITTED: 1,
  ACCEPTED: 2,
  PARTIALLY_FILLED: 3,
  FILLED: 4,
  CANCELED: 4,
  REJECTED: 4,
};

/** Event names per status, used when the status changed and no fill explains it. */
const EVENT_OF: Record<OrderStatus, string> = {
  RECEIVED: "received",
  UNKNOWN: "unknown",
  SUBMITTED: "submitted",
  ACCEPTED: "accepted",
  PARTIALLY_FILLED: "partially_filled",
  FILLED: "filled",
  CANCELED: "canceled",
  REJECTED: "rejected",
};

/** The `reject_reason` written for an order the broker refused. */
export function brokerRejectReason(lastMsg: string): string {
  return lastMsg === "" ? "BROKER_REJECTED" : `BROKER_REJECTED: ${lastMsg}`;
}

/** The trades of `fills` not yet counted in `alreadyFilled` lots (fills arrive in ledger order). */
function newTrades(fills: FillSummary, alreadyFilled: number): FillTrade[] {
  if (!fills.trades) return [];
  const out: FillTrade[] = [];
  let cumulative = 0;
  for (const t of fills.trades) {
    cumulative += t.volume;
    if (cumulative > alreadyFilled) out.push(t);
  }
  return out;
}

function anomaly(
  current: OrderRecord,
  derived: OrderStatus,
  kind: AnomalyKind,
  text: string,
): OrderAnomaly {
  return {
    anomaly: `order ${current.id}: ${text}`,
    kind,
    portfolio_id: current.portfolio_id,
    id: current.id,
    current: current.status,
    derived,
  };
}

/**
 * The update that brings `current` in line with the broker's `view` and the order's `fills`, or null when
 * nothing changed, or an {@link OrderAnomaly} when the view contradicts the record (nothing to write).
 *
 * Compared and written: `status`, `filled_quantity`, `avg_fill_price` (from fills), `volume_left`,
 * `exchange_order_id` (trimmed), `last_msg`; `reject_reason` on a broker reject. The event `msg` names what
 * happened: `event` is `fill` when new fills arrived, else `accepted`, `rejected`, `canceled`, `filled`,
 * `partially_filled`, `submitted` for a status change, else `update`; it carries the changed values (see the
 * tests for exact shapes).
 */
export function nextUpdate(
  current: OrderRecord,
  view: BrokerOrderView,
  fills: FillSummary,
): OrderUpdate | OrderAnomaly | null {
  const derived = deriveStatus(view, fills);
  if (TERMINAL_STATUSES.has(current.status) && derived !== current.status) {
    return anomaly(
      current,
      derived,
      "terminal_status_change",
      `recorded ${current.status} (terminal) but the broker view gives ${derived} (status ${view.status}, ` +
        `volume_left ${view.volume_left}, last_msg ${JSON.stringify(view.last_msg)})`,
    );
  }
  if (!TERMINAL_STATUSES.has(current.status) && RANK[derived] < RANK[current.status]) {
    return anomaly(
      current,
      derived,
      "status_regression",
      `recorded ${current.status} but the broker view gives ${derived}: an order never moves backwards`,
    );
  }
  if (fills.filled < current.filled_quantity) {
    return anomaly(
      current,
      derived,
      "fills_decreased",
      `recorded filled_quantity ${current.filled_quantity} but the fills given total ${fills.filled}`,
    );
  }
  const volume = current.volume ?? view.volume_orign;
  if (fills.filled > volume) {
    return anomaly(
      current,
      derived,
      "overfill",
      `fills total ${fills.filled} lots, above the volume ${volume}`,
    );
  }

  const fields: OrderUpdate["fields"] = {};
  const exchangeId = view.exchange_order_id.trim();
  const exchangeIdChanged = exchangeId !== "" && exchangeId !== (current.exchange_order_id ?? "");
  if (exchangeIdChanged) fields.exchange_order_id = exchangeId;
  const fillChanged = fills.filled !== current.filled_quantity;
  if (fillChanged) fields.filled_quantity = fills.filled;
  if (fills.avgPrice !== current.avg_fill_price && (fillChanged || fills.avgPrice !== null)) {
    fields.avg_fill_price = fills.avgPrice;
  }
  if (view.volume_left !== current.volume_left) fields.volume_left = view.volume_left;
  if (view.last_msg !== (current.last_msg ?? "")) fields.last_msg = view.last_msg;
  const statusChanged = derived !== current.status;
  if (statusChanged && derived === "REJECTED") fields.reject_reason = brokerRejectReason(view.last_msg);

  if (!statusChanged && Object.keys(fields).length === 0) return null;

  const added = fillChanged ? newTrades(fills, current.filled_quantity) : [];
  let event: Record<string, unknown>;
  if (fillChanged) {
    event = { event: "fill" };
    if (added.length === 1) {
      Object.assign(event, { trade_id: added[0].trade_id, price: added[0].price, volume: added[0].volume });
    } else if (added.length > 1) {
      event.trades = added.map((t) => ({ trade_id: t.trade_id, price: t.price, volume: t.volume }));
      event.volume = fills.filled - current.filled_quantity;
    } else {
      event.volume = fills.filled - current.filled_quantity;
    }
    event.filled_quantity = fills.filled;
    event.avg_fill_price = fills.avgPrice;
  } else if (statusChanged) {
    event = { event: EVENT_OF[derived] };
  } else {
    event = { event: "update" };
  }
  if (statusChanged) event.from = current.status;
  if (exchangeIdChanged) event.exchange_order_id = exchangeId;
  if (fields.volume_left !== undefined) event.volume_left = fields.volume_left;
  if (fields.last_msg !== undefined || derived === "REJECTED" || derived === "CANCELED") {
    event.last_msg = view.last_msg;
  }
  if (!fillChanged && (derived === "CANCELED" || derived === "FILLED") && statusChanged) {
    event.filled_quantity = fills.filled;
  }
  return { portfolio_id: current.portfolio_id, id: current.id, status: derived, fields, event };
}
