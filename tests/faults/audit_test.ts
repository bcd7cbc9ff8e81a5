/** The audit's comparison on hand-made sides: clean when they agree, each kind of disagreement named. */
import { assert, assertEquals } from "../assert.ts";
import type { Order, Position, Trade, TradeTree } from "../../lib/diff/types.ts";
import { deriveBrokerOrderId } from "../../lib/broker/order_ids.ts";
import { type AuditRow, type AuditSides, compareAudit, expectedStatus } from "./audit.ts";

const PF = "pf_audit";

function order(id: string, fields: Partial<Order> = {}): Order {
  return {
    order_id: deriveBrokerOrderId(PF, id),
    user_id: "demo",
    exchange_id: "SHFE",
    instrument_id: "rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume_orign: 2,
    volume_left: 2,
    price_type: "LIMIT",
    limit_price: 3500,
    volume_condition: "ANY",
    time_condition: "GFD",
    insert_date_time: 1,
    exchange_order_id: "x1",
    status: "ALIVE",
    last_msg: "报单成功",
    ...fields,
  };
}

function row(id: string, fields: Partial<AuditRow> = {}): AuditRow {
  return {
    id,
    status: "ACCEPTED",
    filled_quantity: 0,
    volume_left: 2,
    broker_order_id: deriveBrokerOrderId(PF, id),
    reject_reason: null,
    source: "rabbitmq",
    parent_id: null,
    ...fields,
  };
}

function position(longToday: number, shortToday: number): Position {
  return {
    pos_long_today: longToday,
    pos_long_his: 0,
    pos_short_today: shortToday,
    pos_short_his: 0,
  } as Position;
}

function sides(overrides: Partial<AuditSides> = {}): AuditSides {
  const filled = order("b", { status: "FINISHED", volume_left: 0 });
  const trade: Trade = {
    trade_id: "t1",
    order_id: filled.order_id,
    user_id: "demo",
    exchange_id: "SHFE",
    instrument_id: "rb2605",
    exchange_trade_id: "t1",
    direction: "BUY",
    offset: "OPEN",
    price: 3500,
    volume: 2,
    trade_date_time: 1,
    commission: 1,
  };
  const snapshot = {
    user_id: "demo",
    trading_day: "20251224",
    trade_more_data: false,
    accounts: {},
    positions: { "SHFE.rb2605": position(2, 0) },
    orders: { [order("a").order_id]: order("a"), [filled.order_id]: filled },
    trades: { t1: trade },
  } as TradeTree;
  return {
    portfolioId: PF,
    expectedIds: ["a", "b", "c"],
    rows: [
      row("a"),
      row("b", { status: "FILLED", filled_quantity: 2, volume_left: 0 }),
      row("c", { status: "REJECTED", broker_order_id: null, reject_reason: "PRICE_TICK: off tick" }),
    ],
    events: [
      { id: "a", seq: 1 },
      { id: "a", seq: 2 },
      { id: "b", seq: 1 },
      { id: "c", seq: 1 },
    ],
    trades: [{ trade_id: "t1", order_id: "b", volume: 2, price: 3500 }],
    snapshot,
    redisNet: new Map([["SHFE.rb2605", "2"], ["DCE.m2605", "0"]]),
    ...overrides,
  };
}

Deno.test("audit: agreeing sides are clean", () => {
  const result = compareAudit(sides());
  assertEquals(result.problems, []);
  assertEquals(result.counts, { rows: 3, atBroker: 2, rejected: 1, filled: 1, redisKeys: 2 });
});

Deno.test("audit: the state machine's status for each final broker state", () => {
  assertEquals(expectedStatus(order("x", { status: "FINISHED", volume_left: 0 })), "FILLED");
  assertEquals(expectedStatus(order("x", { status: "FINISHED", exchange_order_id: "" })), "REJECTED");
  assertEquals(expectedStatus(order("x", { status: "FINISHED" })), "CANCELED");
  assertEquals(
    expectedStatus(order("x", { status: "FINISHED", volume_left: 1, exchange_order_id: "" })),
    "CANCELED",
  );
  assertEquals(expectedStatus(order("x", { volume_left: 1 })), "PARTIALLY_FILLED");
  assertEquals(expectedStatus(order("x")), "ACCEPTED");
  assertEquals(expectedStatus(order("x", { exchange_order_id: "" })), "SUBMITTED");
});

Deno.test("audit: each disagreement is named", () => {
  const base = sides();
  const check = (s: AuditSides, expected: string) => {
    const problems = compareAudit(s).problems;
    assert(problems.some((p) => p.includes(expected)), `${expected} not in ${JSON.stringify(problems)}`);
  };
  check({ ...base, expectedIds: ["a", "b", "c", "d"] }, "d: requested but not in order_history");
  check(
    { ...base, rows: base.rows.map((r) => r.id === "a" ? { ...r, status: "CANCELED" } : r) },
    "a: order_history says CANCELED",
  );
  check(
    { ...base, rows: base.rows.map((r) => r.id === "a" ? { ...r, status: "UNKNOWN" } : r) },
    "a: left UNKNOWN",
  );
  check(
    { ...base, rows: base.rows.filter((r) => r.id !== "a") },
    "a: at the broker but not in order_history",
  );
  check(
    { ...base, rows: base.rows.map((r) => r.id === "c" ? { ...r, reject_reason: null } : r) },
    "REJECTED without a reason",
  );
  check(
    { ...base, rows: base.rows.map((r) => r.id === "c" ? { ...r, status: "ACCEPTED" } : r) },
    "c: ACCEPTED in order_history but not at the broker",
  );
  check({ ...base, events: [...base.events, { id: "a", seq: 4 }] }, "a: order_event seq 1,2,4");
  check({ ...base, trades: [] }, "trade t1: at the broker, not recorded");
  check({ ...base, trades: [{ trade_id: "t1", order_id: "b", volume: 1, price: 3500 }] }, "trade t1: 1@3500");
  check({ ...base, redisNet: new Map([["SHFE.rb2605", "1"]]) }, "redis SHFE.rb2605: 1, broker net 2");
  check({ ...base, redisNet: new Map() }, "redis SHFE.rb2605: absent");
  check({ ...base, redisNet: new Map([["SHFE.rb2605", "2"], ["DCE.m2605", "3"]]) }, "redis DCE.m2605: 3");
  check(
    { ...base, rows: base.rows.map((r) => r.id === "b" ? { ...r, filled_quantity: 1 } : r) },
    "b: filled_quantity 1, broker filled 2",
  );
  // Redis skipped when not given
  assertEquals(compareAudit({ ...base, redisNet: null }).problems, []);
});
