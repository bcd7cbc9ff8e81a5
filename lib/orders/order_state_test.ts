/**
 * The order state machine, with broker views shaped like the sim's real outputs (diff-protocol §2.6,
 * lib/sim/engine.ts): accepted orders carry `exchange_order_id = order_id` and `last_msg "报单成功"`, fills
 * `"全部成交"`, cancels `"已撤单"`, IOC misses `"已撤单报单已提交"` (exchange id set), rejects FINISHED with
 * `exchange_order_id ""` and `volume_left = volume_orign`.
 */
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import type { BrokerOrderView } from "../broker/types.ts";
import {
  brokerRejectReason,
  deriveStatus,
  FillLedger,
  isAnomaly,
  nextUpdate,
  type OrderAnomaly,
  roundPrice,
} from "./order_state.ts";
import type { OrderRecord, OrderUpdate } from "./types.ts";

const BOID = "TBC_o1";

function view(overrides: Partial<BrokerOrderView> = {}): BrokerOrderView {
  return {
    broker_order_id: BOID,
    exchange_order_id: "",
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume_orign: 3,
    volume_left: 3,
    price_type: "LIMIT",
    limit_price: 3500,
    time_condition: "GFD",
    volume_condition: "ANY",
    status: "ALIVE",
    last_msg: "",
    insert_time_ms: 1766541600000,
    ...overrides,
  };
}

/** The sim's accepted order. */
const ACCEPTED = view({ exchange_order_id: BOID, last_msg: "报单成功" });

function record(overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    portfolio_id: "demo",
    id: "o1",
    status: "SUBMITTED",
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 3,
    limit_price: 3500,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    filled_quantity: 0,
    volume_left: 3,
    avg_fill_price: null,
    exchange_order_id: null,
    broker_order_id: BOID,
    last_msg: null,
    reject_reason: null,
    source: "rest",
    request_hash: "h1",
    parent_id: null,
    trading_day: "20251224",
    created_at: "2025-12-24T02:00:00.000000Z",
    updated_at: "2025-12-24T02:00:00.000000Z",
    ...overrides,
  };
}

const NONE = { filled: 0, avgPrice: null };

/** Applies an update to a record the way the store does (status + fields). */
function apply(current: OrderRecord, update: OrderUpdate): OrderRecord {
  return { ...current, status: update.status, ...update.fields };
}

function expectUpdate(result: ReturnType<typeof nextUpdate>): OrderUpdate {
  assert(result !== null, "expected an update, got null");
  assert(!isAnomaly(result), `expected an update, got anomaly ${JSON.stringify(result)}`);
  return result;
}

function expectAnomaly(result: ReturnType<typeof nextUpdate>): OrderAnomaly {
  assert(result !== null && isAnomaly(result), `expected an anomaly, got ${JSON.stringify(result)}`);
  return result;
}

Deno.test("deriveStatus: live orders", () => {
  assertEquals(deriveStatus(view(), NONE), "SUBMITTED");
  assertEquals(deriveStatus(ACCEPTED, NONE), "ACCEPTED");
  // CTP pads exchange ids with spaces; only spaces means none.
  assertEquals(deriveStatus(view({ exchange_order_id: "    25169789" }), NONE), "ACCEPTED");
  assertEquals(deriveStatus(view({ exchange_order_id: "   " }), NONE), "SUBMITTED");
  // Partly traded: by fills, or by volume_left when the trade has not arrived yet.
  assertEquals(
    deriveStatus({ ...ACCEPTED, volume_left: 1 }, { filled: 2, avgPrice: 3500 }),
    "PARTIALLY_FILLED",
  );
  assertEquals(deriveStatus({ ...ACCEPTED, volume_left: 2 }, NONE), "PARTIALLY_FILLED");
  assertEquals(deriveStatus(ACCEPTED, { filled: 1, avgPrice: 3500 }), "PARTIALLY_FILLED");
});

Deno.test("deriveStatus: finished orders (fill, cancel, IOC miss, rejects)", () => {
  const done = { ...ACCEPTED, status: "FINISHED" as const };
  // Sim fill: "全部成交", volume_left 0. FILLED even before the trade arrives.
  assertEquals(deriveStatus({ ...done, volume_left: 0, last_msg: "全部成交" }, NONE), "FILLED");
  assertEquals(
    deriveStatus({ ...done, volume_left: 0, last_msg: "全部成交" }, { filled: 3, avgPrice: 1 }),
    "FILLED",
  );
  // Fills covering the volume while volume_left lags.
  assertEquals(deriveStatus({ ...done, volume_left: 1 }, { filled: 3, avgPrice: 3500 }), "FILLED");
  // Cancel on request.
  assertEquals(deriveStatus({ ...done, last_msg: "已撤单" }, NONE), "CANCELED");
  // Partial fill then cancel stays CANCELED.
  assertEquals(
    deriveStatus({ ...done, volume_left: 2, last_msg: "已撤单" }, { filled: 1, avgPrice: 3500 }),
    "CANCELED",
  );
  // IOC miss: the sim sets exchange_order_id at acceptance, so it is a cancel, not a reject.
  assertEquals(
    deriveStatus({ ...done, time_condition: "IOC", last_msg: "已撤单报单已提交" }, NONE),
    "CANCELED",
  );
  // Market order without a counter-party.
  assertEquals(deriveStatus({ ...done, price_type: "ANY", last_msg: "市价指令剩余撤销" }, NONE), "CANCELED");
  // Day end.
  assertEquals(
    deriveStatus({ ...done, last_msg: "交易日结束，自动撤销当日有效的委托单（GFD）" }, NONE),
    "CANCELED",
  );

  // Rejects: FINISHED, exchange_order_id "", volume_left = volume_orign. Never a cancel, whatever the text.
  const rejected = view({ status: "FINISHED" });
  assertEquals(deriveStatus({ ...rejected, last_msg: "开仓资金不足" }, NONE), "REJECTED");
  assertEquals(deriveStatus({ ...rejected, last_msg: "" }, NONE), "REJECTED"); // OTG sim: empty last_msg
  assertEquals(deriveStatus({ ...rejected, last_msg: "已撤单报单被拒绝价格超出涨停板" }, NONE), "REJECTED");
  assertEquals(deriveStatus({ ...rejected, last_msg: "CTP:资金不足" }, NONE), "REJECTED");
  assertEquals(deriveStatus({ ...rejected, exchange_order_id: "  " }, NONE), "REJECTED");
  // Without an exchange id but with a fill it cannot be a reject.
  assertEquals(deriveStatus({ ...rejected, volume_left: 2 }, { filled: 1, avgPrice: 3500 }), "CANCELED");
});

Deno.test("FillLedger: dedup by trade_id, filled, volume-weighted average rounded to 1e-8", () => {
  const ledger = new FillLedger();
  assertEquals(ledger.filled, 0);
  assertEquals(ledger.avgPrice, null);
  assertEquals(ledger.add({ trade_id: "TBC_o1|1", price: 3500, volume: 1 }), true);
  assertEquals(ledger.add({ trade_id: "TBC_o1|1", price: 3500, volume: 1 }), false);
  // A replay with different content is still the same trade: ignored.
  assertEquals(ledger.add({ trade_id: "TBC_o1|1", price: 9999, volume: 5 }), false);
  assertEquals(ledger.filled, 1);
  assertEquals(ledger.avgPrice, 3500);
  assertEquals(ledger.add({ trade_id: "TBC_o1|3", price: 3501, volume: 2 }), true);
  assertEquals(ledger.filled, 3);
  // (3500×1 + 3501×2) / 3 = 10502 / 3 = 3500.666666666…
  assertEquals(ledger.avgPrice, 3500.66666667);
  assert(ledger.has("TBC_o1|3"));
  assert(!ledger.has("TBC_o1|2"));
  assertEquals(ledger.trades.map((t) => t.trade_id), ["TBC_o1|1", "TBC_o1|3"]);

  // Float noise is rounded away: (4012.2 + 4012.4×2) / 3 = 4012.3333…
  const b = FillLedger.from([
    { trade_id: "a", price: 4012.2, volume: 1 },
    { trade_id: "b", price: 4012.4, volume: 2 },
    { trade_id: "a", price: 4012.2, volume: 1 },
  ]);
  assertEquals(b.filled, 3);
  assertEquals(b.avgPrice, 4012.33333333);
  const c = FillLedger.from([{ trade_id: "x", price: 0.1, volume: 1 }, {
    trade_id: "y",
    price: 0.2,
    volume: 1,
  }]);
  assertEquals(c.avgPrice, 0.15);
  assertEquals(roundPrice(0.1 + 0.2), 0.3);

  assert(assertThrows(() => ledger.add({ trade_id: "", price: 1, volume: 1 })) instanceof RangeError);
  assert(assertThrows(() => ledger.add({ trade_id: "z", price: 1, volume: 0 })) instanceof RangeError);
  assert(assertThrows(() => ledger.add({ trade_id: "z", price: 1, volume: 1.5 })) instanceof RangeError);
  assert(assertThrows(() => ledger.add({ trade_id: "z", price: NaN, volume: 1 })) instanceof RangeError);
  assertEquals(ledger.filled, 3);
});

Deno.test("nextUpdate: submitted → accepted → partial fill → fill, then nothing", () => {
  let current = record();
  const ledger = new FillLedger();
  assertEquals(nextUpdate(current, view(), ledger), null);

  const accepted = expectUpdate(nextUpdate(current, ACCEPTED, ledger));
  assertEquals(accepted, {
    portfolio_id: "demo",
    id: "o1",
    status: "ACCEPTED",
    fields: { exchange_order_id: BOID, last_msg: "报单成功" },
    event: { event: "accepted", from: "SUBMITTED", exchange_order_id: BOID, last_msg: "报单成功" },
  });
  current = apply(current, accepted);
  assertEquals(nextUpdate(current, ACCEPTED, ledger), null);

  ledger.add({ trade_id: "TBC_o1|1", price: 3499, volume: 1 });
  const partial = expectUpdate(nextUpdate(current, { ...ACCEPTED, volume_left: 2 }, ledger));
  assertEquals(partial, {
    portfolio_id: "demo",
    id: "o1",
    status: "PARTIALLY_FILLED",
    fields: { filled_quantity: 1, avg_fill_price: 3499, volume_left: 2 },
    event: {
      event: "fill",
      trade_id: "TBC_o1|1",
      price: 3499,
      volume: 1,
      filled_quantity: 1,
      avg_fill_price: 3499,
      from: "ACCEPTED",
      volume_left: 2,
    },
  });
  current = apply(current, partial);

  ledger.add({ trade_id: "TBC_o1|3", price: 3500, volume: 2 });
  const filledView = { ...ACCEPTED, status: "FINISHED" as const, volume_left: 0, last_msg: "全部成交" };
  const filled = expectUpdate(nextUpdate(current, filledView, ledger));
  assertEquals(filled.status, "FILLED");
  assertEquals(filled.fields, {
    filled_quantity: 3,
    avg_fill_price: 3499.66666667,
    volume_left: 0,
    last_msg: "全部成交",
  });
  assertEquals(filled.event, {
    event: "fill",
    trade_id: "TBC_o1|3",
    price: 3500,
    volume: 2,
    filled_quantity: 3,
    avg_fill_price: 3499.66666667,
    from: "PARTIALLY_FILLED",
    volume_left: 0,
    last_msg: "全部成交",
  });
  current = apply(current, filled);
  assertEquals(nextUpdate(current, filledView, ledger), null);
  // A replayed trade (snapshot after reconnect) changes nothing.
  assertEquals(ledger.add({ trade_id: "TBC_o1|3", price: 3500, volume: 2 }), false);
  assertEquals(nextUpdate(current, filledView, ledger), null);
});

Deno.test("nextUpdate: FINISHED before its trade arrives → FILLED, then a fill event on the same status", () => {
  let current = record({ status: "ACCEPTED", exchange_order_id: BOID, last_msg: "报单成功" });
  const ledger = new FillLedger();
  const filledView = { ...ACCEPTED, status: "FINISHED" as const, volume_left: 0, last_msg: "全部成交" };
  const first = expectUpdate(nextUpdate(current, filledView, ledger));
  assertEquals(first.status, "FILLED");
  assertEquals(first.fields, { volume_left: 0, last_msg: "全部成交" });
  assertEquals(first.event, {
    event: "filled",
    from: "ACCEPTED",
    volume_left: 0,
    last_msg: "全部成交",
    filled_quantity: 0,
  });
  current = apply(current, first);
  ledger.add({ trade_id: "TBC_o1|3", price: 3500, volume: 3 });
  const fill = expectUpdate(nextUpdate(current, filledView, ledger));
  assertEquals(fill.status, "FILLED");
  assertEquals(fill.fields, { filled_quantity: 3, avg_fill_price: 3500 });
  assertEquals(fill.event, {
    event: "fill",
    trade_id: "TBC_o1|3",
    price: 3500,
    volume: 3,
    filled_quantity: 3,
    avg_fill_price: 3500,
  });
});

Deno.test("nextUpdate: broker reject → REJECTED with BROKER_REJECTED reason, never CANCELED", () => {
  const current = record();
  const rejectedView = view({ status: "FINISHED", last_msg: "开仓资金不足" });
  const update = expectUpdate(nextUpdate(current, rejectedView, new FillLedger()));
  assertEquals(update, {
    portfolio_id: "demo",
    id: "o1",
    status: "REJECTED",
    fields: { last_msg: "开仓资金不足", reject_reason: "BROKER_REJECTED: 开仓资金不足" },
    event: { event: "rejected", from: "SUBMITTED", last_msg: "开仓资金不足" },
  });
  // OTG sim: the order has an empty last_msg (the reason is in the notify).
  const otg = expectUpdate(nextUpdate(current, view({ status: "FINISHED" }), new FillLedger()));
  assertEquals(otg.status, "REJECTED");
  assertEquals(otg.fields, { reject_reason: "BROKER_REJECTED" });
  assertEquals(otg.event, { event: "rejected", from: "SUBMITTED", last_msg: "" });
  assertEquals(brokerRejectReason("CTP:资金不足"), "BROKER_REJECTED: CTP:资金不足");
});

Deno.test("nextUpdate: cancel after a partial fill stays CANCELED with filled_quantity > 0", () => {
  const ledger = FillLedger.from([{ trade_id: "TBC_o1|1", price: 3500, volume: 1 }]);
  const current = record({
    status: "PARTIALLY_FILLED",
    exchange_order_id: BOID,
    last_msg: "报单成功",
    filled_quantity: 1,
    avg_fill_price: 3500,
    volume_left: 2,
  });
  const canceledView = { ...ACCEPTED, status: "FINISHED" as const, volume_left: 2, last_msg: "已撤单" };
  const update = expectUpdate(nextUpdate(current, canceledView, ledger));
  assertEquals(update, {
    portfolio_id: "demo",
    id: "o1",
    status: "CANCELED",
    fields: { last_msg: "已撤单" },
    event: { event: "canceled", from: "PARTIALLY_FILLED", last_msg: "已撤单", filled_quantity: 1 },
  });
  assertEquals(nextUpdate(apply(current, update), canceledView, ledger), null);
});

Deno.test("nextUpdate: IOC miss (已撤单报单已提交, exchange id set) is CANCELED", () => {
  const current = record({ time_condition: "IOC" });
  const ioc = view({
    time_condition: "IOC",
    exchange_order_id: BOID,
    status: "FINISHED",
    last_msg: "已撤单报单已提交",
  });
  const update = expectUpdate(nextUpdate(current, ioc, new FillLedger()));
  assertEquals(update.status, "CANCELED");
  assertEquals(update.fields, { exchange_order_id: BOID, last_msg: "已撤单报单已提交" });
  assertEquals(update.event, {
    event: "canceled",
    from: "SUBMITTED",
    exchange_order_id: BOID,
    last_msg: "已撤单报单已提交",
    filled_quantity: 0,
  });
});

Deno.test("nextUpdate: a terminal order never changes status (anomaly); same status + late fill is fine", () => {
  const filled = record({ status: "FILLED", filled_quantity: 3, avg_fill_price: 3500, volume_left: 0 });
  const ledger3 = FillLedger.from([{ trade_id: "t", price: 3500, volume: 3 }]);
  const a = expectAnomaly(nextUpdate(filled, { ...ACCEPTED, volume_left: 0 }, ledger3));
  // ALIVE with volume_left 0 derives PARTIALLY_FILLED: refused.
  assertEquals(a.kind, "terminal_status_change");
  assertEquals([a.id, a.current, a.derived], ["o1", "FILLED", "PARTIALLY_FILLED"]);
  assert(a.anomaly.includes("order o1"));

  const canceled = record({ status: "CANCELED", exchange_order_id: BOID, last_msg: "已撤单" });
  const b = expectAnomaly(
    nextUpdate(canceled, { ...ACCEPTED, status: "FINISHED", volume_left: 0 }, new FillLedger()),
  );
  assertEquals([b.kind, b.current, b.derived], ["terminal_status_change", "CANCELED", "FILLED"]);

  const rejected = record({ status: "REJECTED", last_msg: "开仓资金不足", reject_reason: "x" });
  const c = expectAnomaly(nextUpdate(rejected, { ...ACCEPTED, status: "FINISHED" }, new FillLedger()));
  assertEquals([c.kind, c.derived], ["terminal_status_change", "CANCELED"]);
  const d = expectAnomaly(nextUpdate(rejected, ACCEPTED, new FillLedger()));
  assertEquals(d.derived, "ACCEPTED");

  // A late trade on a canceled order (same status): written as a fill.
  const canceledView = { ...ACCEPTED, status: "FINISHED" as const, volume_left: 2, last_msg: "已撤单" };
  const late = record({ status: "CANCELED", exchange_order_id: BOID, last_msg: "已撤单", volume_left: 2 });
  const u = expectUpdate(
    nextUpdate(late, canceledView, FillLedger.from([{ trade_id: "t1", price: 3501, volume: 1 }])),
  );
  assertEquals(u.status, "CANCELED");
  assertEquals(u.fields, { filled_quantity: 1, avg_fill_price: 3501 });
  assertEquals(u.event, {
    event: "fill",
    trade_id: "t1",
    price: 3501,
    volume: 1,
    filled_quantity: 1,
    avg_fill_price: 3501,
    last_msg: "已撤单",
  });
});

Deno.test("nextUpdate: no moving backwards, no fewer fills, no overfill", () => {
  const accepted = record({ status: "ACCEPTED", exchange_order_id: BOID, last_msg: "报单成功" });
  const back = expectAnomaly(nextUpdate(accepted, view(), new FillLedger()));
  assertEquals([back.kind, back.current, back.derived], ["status_regression", "ACCEPTED", "SUBMITTED"]);

  const partial = record({
    status: "PARTIALLY_FILLED",
    exchange_order_id: BOID,
    filled_quantity: 2,
    volume_left: 1,
  });
  const fewer = expectAnomaly(nextUpdate(partial, { ...ACCEPTED, volume_left: 1 }, new FillLedger()));
  assertEquals(fewer.kind, "fills_decreased");

  const over = FillLedger.from([{ trade_id: "a", price: 1, volume: 2 }, {
    trade_id: "b",
    price: 1,
    volume: 2,
  }]);
  const o = expectAnomaly(nextUpdate(record(), { ...ACCEPTED, volume_left: 0, status: "FINISHED" }, over));
  assertEquals(o.kind, "overfill");
});

Deno.test("nextUpdate: UNKNOWN and RECEIVED may move to anything", () => {
  const unknown = record({ status: "UNKNOWN" });
  assertEquals(expectUpdate(nextUpdate(unknown, view(), new FillLedger())).status, "SUBMITTED");
  assertEquals(
    expectUpdate(
      nextUpdate(unknown, view({ status: "FINISHED", last_msg: "平仓手数不足" }), new FillLedger()),
    ).status,
    "REJECTED",
  );
  const ledger = FillLedger.from([{ trade_id: "a", price: 3500, volume: 1 }, {
    trade_id: "b",
    price: 3502,
    volume: 2,
  }]);
  const filledView = { ...ACCEPTED, status: "FINISHED" as const, volume_left: 0, last_msg: "全部成交" };
  const u = expectUpdate(nextUpdate(unknown, filledView, ledger));
  assertEquals(u.status, "FILLED");
  // Several new trades at once: all named.
  assertEquals(u.event, {
    event: "fill",
    trades: [{ trade_id: "a", price: 3500, volume: 1 }, { trade_id: "b", price: 3502, volume: 2 }],
    volume: 3,
    filled_quantity: 3,
    avg_fill_price: 3501.33333333,
    from: "UNKNOWN",
    exchange_order_id: BOID,
    volume_left: 0,
    last_msg: "全部成交",
  });
  const received = record({ status: "RECEIVED" });
  assertEquals(expectUpdate(nextUpdate(received, ACCEPTED, new FillLedger())).status, "ACCEPTED");
});

Deno.test("nextUpdate: padded exchange id is stored trimmed; unchanged padding is not a change", () => {
  const current = record();
  const padded = view({ exchange_order_id: "    25169789", last_msg: "未成交" });
  const u = expectUpdate(nextUpdate(current, padded, new FillLedger()));
  assertEquals(u.fields.exchange_order_id, "25169789");
  assertEquals(nextUpdate(apply(current, u), padded, new FillLedger()), null);
  // Only last_msg changes: an "update" event.
  const again = expectUpdate(
    nextUpdate(apply(current, u), { ...padded, last_msg: "全部成交?" }, new FillLedger()),
  );
  assertEquals(again.status, "ACCEPTED");
  assertEquals(again.event, { event: "update", last_msg: "全部成交?" });
});
