/**
 * Order fixtures shared by the unit tests: a validated insert request and a broker view of another
 * terminal's order, each with the fields a test cares about given as overrides.
 *
 * @module
 */
import type { BrokerOrderView } from "../../lib/broker/types.ts";
import type { InsertRequest } from "../../lib/orders/types.ts";

/** A LIMIT GFD/ANY request of portfolio `demo`: BUY OPEN 1 SHFE.rb2605 @ 3500, unless overridden. */
export function insertRequest(id: string, overrides: Partial<InsertRequest> = {}): InsertRequest {
  return {
    order_id: id,
    portfolio_id: "demo",
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: 3500,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    timestamp_ms: null,
    request_id: null,
    ...overrides,
  };
}

/** Another terminal's resting order (its id is not one of this service's): SELL CLOSE 4 DCE.m2605 @ 2890. */
export function externalOrderView(overrides: Partial<BrokerOrderView> = {}): BrokerOrderView {
  return {
    broker_order_id: "SERVER.123.abc.1",
    exchange_order_id: "8812",
    symbol: "DCE.m2605",
    direction: "SELL",
    offset: "CLOSE",
    volume_orign: 4,
    volume_left: 4,
    price_type: "LIMIT",
    limit_price: 2890,
    time_condition: "GFD",
    volume_condition: "ANY",
    status: "ALIVE",
    last_msg: "未成交",
    insert_time_ms: Date.UTC(2025, 11, 24, 2, 0, 0),
    ...overrides,
  };
}
