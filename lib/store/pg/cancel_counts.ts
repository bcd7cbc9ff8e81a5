/**
 * The per-contract daily cancel counts, rebuilt from what PostgreSQL already holds, so the cancel counter
 * of the pre-trade rules (`CANCEL_LIMIT`, below the exchanges' 500 cancels per contract per day) survives a
 * restart or a takeover on the same trading day.
 *
 * Every cancel the service sent is an `order_event` with `{"event":"cancel_requested"}` on the order it was
 * sent for (a refused one is `cancel_refused`); the contract and the trading day are that order's
 * `order_history.symbol` and `trading_day`. A split SHFE/INE close records the request on its parent too,
 * but only the children went to the broker: only orders with a `broker_order_id` count, one per event,
 * exactly like the in-memory counter, which counts each cancel sent. Orders of China futures never outlive
 * their trading day (GFD, FAK, FOK), so the order's trading day is the day of its cancels.
 *
 * @module
 */

import type { CancelCounterState } from "../../orders/rules/supervision.ts";
import type { Database } from "./connect.ts";

/** Options of {@linkcode loadCancelCounts}. */
export interface LoadCancelCountsOptions {
  /** Only this portfolio's orders. */
  portfolioId: string;
  /** Only this trading day (`YYYYMMDD`); default: every trading day of the orders looked at. */
  tradingDay?: string;
  /**
   * Look at orders created in the last this many days (default 4: a trading day spans at most Friday 21:00
   * to Monday 15:00), which keeps the scan to the recent part of `order_history` (index on `created_at`).
   */
  lookbackDays?: number;
}

/**
 * Cancels sent per trading day and contract, as `CancelCounter.merge` takes them
 * (`{"20251224": {"SHFE.rb2605": 3}}`).
 */
export async function loadCancelCounts(
  sql: Database,
  options: LoadCancelCountsOptions,
): Promise<CancelCounterState> {
  if (!options.portfolioId) throw new TypeError("loadCancelCounts: portfolioId is required");
  const days = options.lookbackDays ?? 4;
  if (!(Number.isFinite(days) && days > 0)) {
    throw new RangeError(`loadCancelCounts: lookbackDays must be > 0, got ${days}`);
  }
  const day = options.tradingDay ?? null;
  const rows = await sql`
    select o.trading_day, o.symbol, count(*)::int as n
    from order_history o
    join order_event e on e.portfolio_id = o.portfolio_id and e.id = o.id
    where o.portfolio_id = ${options.portfolioId}
      and o.created_at >= now() - make_interval(secs => ${days * 86_400})
      and o.trading_day is not null and o.symbol is not null and o.broker_order_id is not null
      and (${day}::text is null or o.trading_day = ${day}::text)
      and e.msg like '%cancel_requested%'
      and (e.msg::jsonb)->>'event' = 'cancel_requested'
    group by o.trading_day, o.symbol`;
  const state: CancelCounterState = {};
  for (const r of rows) {
    const d = r.trading_day as string;
    (state[d] ??= {})[r.symbol as string] = Number(r.n);
  }
  return state;
}
