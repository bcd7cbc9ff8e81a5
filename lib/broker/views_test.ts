import { assert, assertEquals } from "../../tests/assert.ts";
import {
  ALL_POSITIONS,
  frameNotifies,
  framePositionLots,
  isLotCount,
  isWellFormed,
  nsToMs,
  quoteDatetimeMs,
  readPosition,
  readSnapshot,
  toAccountView,
  toInstrumentView,
  toNotice,
  toOrderView,
  toQuoteView,
  toTradeView,
  touchedKeys,
  touchedQuotes,
  zeroPosition,
} from "./views.ts";

const ORDER = {
  order_id: "o1",
  user_id: "demo",
  exchange_id: "SHFE",
  instrument_id: "rb2605",
  direction: "BUY",
  offset: "OPEN",
  volume_orign: 3,
  volume_left: 1,
  price_type: "LIMIT",
  limit_price: 3500,
  volume_condition: "ANY",
  time_condition: "GFD",
  insert_date_time: 1_766_541_600_123_456_789,
  exchange_order_id: "    25169789",
  status: "ALIVE",
  last_msg: "报单成功",
};

Deno.test("toOrderView maps DIFF fields, trims the exchange id, converts ns to ms", () => {
  assertEquals(toOrderView("o1", ORDER), {
    broker_order_id: "o1",
    exchange_order_id: "25169789",
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume_orign: 3,
    volume_left: 1,
    price_type: "LIMIT",
    limit_price: 3500,
    time_condition: "GFD",
    volume_condition: "ANY",
    status: "ALIVE",
    last_msg: "报单成功",
    insert_time_ms: 1_766_541_600_123,
  });
  const market = toOrderView("o2", { ...ORDER, price_type: "ANY", limit_price: 0, status: "FINISHED" });
  assertEquals([market.limit_price, market.status], [null, "FINISHED"]);
  assertEquals(toOrderView("o3", { ...ORDER, status: "WEIRD" }).status, "ALIVE");
});

Deno.test("isWellFormed rejects empty or partial objects", () => {
  assert(isWellFormed(ORDER));
  assert(!isWellFormed({}));
  assert(!isWellFormed({ ...ORDER, direction: "UP" }));
  assert(!isWellFormed({ ...ORDER, exchange_id: "" }));
});

Deno.test("toTradeView", () => {
  assertEquals(
    toTradeView("o1|1", {
      order_id: "o1",
      exchange_id: "DCE",
      instrument_id: "m2605",
      exchange_trade_id: "t9",
      direction: "SELL",
      offset: "CLOSETODAY",
      price: 2900.5,
      volume: 2,
      commission: 3.02,
      trade_date_time: 2_000_000_000,
    }),
    {
      trade_id: "o1|1",
      broker_order_id: "o1",
      exchange_trade_id: "t9",
      symbol: "DCE.m2605",
      direction: "SELL",
      offset: "CLOSETODAY",
      price: 2900.5,
      volume: 2,
      commission: 3.02,
      trade_time_ms: 2000,
    },
  );
});

Deno.test("readPosition uses pos_* and falls back to volume_*; missing → zeros", () => {
  const { view: p, malformed } = readPosition("SHFE.rb2605", {
    pos_long_today: 2,
    pos_long_his: 1,
    pos_short_today: 0,
    volume_short_his: 4, // no pos_short_his: fallback
    volume_long_frozen_today: 1,
    volume_long_frozen_his: 0,
    volume_short_frozen_today: 0,
    volume_short_frozen_his: 2,
    open_price_long: 3500,
    open_price_short: 3600,
    last_price: 3550,
    float_profit: 150,
    position_profit: 100,
    margin: 12_000,
  });
  assertEquals(malformed, []);
  assert(p);
  assertEquals(
    [p.long_today, p.long_his, p.short_today, p.short_his, p.long, p.short, p.net],
    [2, 1, 0, 4, 3, 4, -1],
  );
  assertEquals([p.long_frozen_today, p.short_frozen_his], [1, 2]);
  assertEquals([p.open_price_long, p.open_price_short, p.last_price], [3500, 3600, 3550]);
  assertEquals([p.float_profit, p.position_profit, p.margin], [150, 100, 12_000]);
  assertEquals(readPosition("X.y", undefined), { view: zeroPosition("X.y"), malformed: [] });
  const empty = readPosition("X.y", {}).view!;
  assertEquals([empty.long, empty.short, empty.net, empty.long_frozen_today], [0, 0, 0, 0]);
  // flat: no open price even if the server left one
  assertEquals(readPosition("X.y", { pos_long_today: 0, open_price_long: 10 }).view?.open_price_long, null);
});

Deno.test("isLotCount: whole numbers ≥ 0 only", () => {
  for (const good of [0, 1, 500, Number.MAX_SAFE_INTEGER]) assert(isLotCount(good), String(good));
  for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 60, "3", null, undefined, true, {}]) {
    assert(!isLotCount(bad), String(bad));
  }
});

Deno.test("readPosition: a malformed lot count keeps the last good value, never 0 or a fraction", () => {
  const symbol = "SHFE.rb2605";
  const previous = readPosition(symbol, { pos_long_today: 3, pos_long_his: 2, pos_short_his: 1 }).view!;
  assertEquals(previous.net, 4);
  for (const bad of [-1, 1.5, NaN, Infinity, "3", true]) {
    const r = readPosition(
      symbol,
      { pos_long_today: bad, pos_long_his: 2, pos_short_his: 1, last_price: 9 },
      {
        previous,
      },
    );
    assertEquals(r.malformed, [{ symbol, field: "pos_long_today", value: bad, kept: 3 }], String(bad));
    assertEquals([r.view?.long_today, r.view?.net, r.view?.last_price], [3, 4, 9], String(bad));
  }
  // a field the merge deleted (the frame said null): not "absent", even with volume_* still there
  const corrupt = new Map<string, unknown>([["pos_long_today", Infinity]]);
  const deleted = readPosition(symbol, { volume_long_today: 0, pos_long_his: 2, pos_short_his: 1 }, {
    previous,
    corrupt,
  });
  assertEquals(deleted.malformed, [{ symbol, field: "pos_long_today", value: Infinity, kept: 3 }]);
  assertEquals(deleted.view?.net, 4);
  // no earlier value: nothing is published
  assertEquals(readPosition(symbol, { pos_long_today: 1.5 }).view, null);
  assertEquals(readPosition(symbol, { pos_long_today: 2 }, { corrupt }).view, null);
  // frozen lots too
  const frozen = readPosition(symbol, { pos_long_today: 3, volume_long_frozen_today: -2 }, { previous });
  assertEquals([frozen.view?.long_frozen_today, frozen.malformed.length], [0, 1]);
});

Deno.test("framePositionLots lists the lot fields a frame set, and deleted positions", () => {
  const lots = framePositionLots({
    aid: "rtn_data",
    data: [
      {
        trade: { demo: { positions: { "SHFE.rb2605": { pos_long_today: null, last_price: 1, margin: 2 } } } },
      },
      { trade: { other: { positions: { "SHFE.cu2605": { pos_long_today: 5 } } } } },
      { trade: { demo: { positions: { "SHFE.rb2605": { volume_long_his: -1 }, "DCE.m2605": null } } } },
    ],
  }, "demo");
  assertEquals([...lots.keys()], ["SHFE.rb2605", "DCE.m2605"]);
  assertEquals([...lots.get("SHFE.rb2605")!], [["pos_long_today", null], ["volume_long_his", -1]]);
  assertEquals(lots.get("DCE.m2605"), null);

  // the user's positions (or the user's whole subtree) deleted: every position goes, then what came after
  for (const deletion of [{ demo: { positions: null } }, { demo: null }]) {
    const reset = framePositionLots({
      aid: "rtn_data",
      data: [
        { trade: { demo: { positions: { "SHFE.rb2605": { pos_long_today: -1 } } } } },
        { trade: deletion },
        { trade: { demo: { positions: { "DCE.m2605": { pos_short_his: 2 } } } } },
      ],
    }, "demo");
    assertEquals([...reset.entries()].map(([k, v]) => [k, v && [...v]]), [
      [ALL_POSITIONS, null],
      ["DCE.m2605", [["pos_short_his", 2]]],
    ]);
  }
  // another user's deletion is not ours
  assertEquals(framePositionLots({ aid: "rtn_data", data: [{ trade: { other: null } }] }, "demo").size, 0);
});

Deno.test("toAccountView: non-numbers become NaN, never 0", () => {
  const a = toAccountView({ balance: 100, available: 90, margin: 10, risk_ratio: 0.1, close_profit: "-" });
  assertEquals([a.balance, a.available, a.margin, a.risk_ratio], [100, 90, 10, 0.1]);
  assert(Number.isNaN(a.close_profit));
  assert(Number.isNaN(toAccountView(undefined).balance));
});

Deno.test("quote views: Beijing datetime to epoch ms, '-' and NaN to null", () => {
  assertEquals(quoteDatetimeMs("2025-12-24 10:00:00.500000"), Date.parse("2025-12-24T02:00:00.500Z"));
  assertEquals(quoteDatetimeMs("2025-12-24 21:00:01"), Date.parse("2025-12-24T13:00:01Z"));
  assert(Number.isNaN(quoteDatetimeMs("-")));
  assertEquals(
    toQuoteView("SHFE.rb2605", {
      datetime: "2025-12-24 10:00:00.000000",
      last_price: 3500,
      bid_price1: "-",
      ask_price1: NaN,
      upper_limit: 4000,
      lower_limit: 3000,
    }, 42),
    {
      symbol: "SHFE.rb2605",
      datetime_ms: Date.parse("2025-12-24T02:00:00Z"),
      last_price: 3500,
      bid_price1: null,
      ask_price1: null,
      upper_limit: 4000,
      lower_limit: 3000,
      received_at: 42,
    },
  );
});

Deno.test("toInstrumentView", () => {
  const v = toInstrumentView("SHFE.rb2605", {
    class: "FUTURE",
    instrument_id: "SHFE.rb2605",
    exchange_id: "SHFE",
    ins_id: "rb2605",
    product_id: "rb",
    price_tick: 1,
    volume_multiple: 10,
    max_limit_order_volume: 500,
    max_market_order_volume: 30,
    expired: false,
    expire_datetime: 1_778_828_400,
    trading_time: { day: [["09:00:00", "10:15:00"], ["bad"]], night: [["21:00:00", "23:00:00"]] },
  });
  assertEquals(v, {
    symbol: "SHFE.rb2605",
    exchange_id: "SHFE",
    instrument_id: "rb2605",
    product_id: "rb",
    class: "FUTURE",
    price_tick: 1,
    volume_multiple: 10,
    max_limit_order_volume: 500,
    max_market_order_volume: 30,
    min_limit_order_volume: 1,
    min_market_order_volume: 1,
    expired: false,
    expire_datetime_ms: 1_778_828_400_000,
    trading_time: { day: [["09:00:00", "10:15:00"]], night: [["21:00:00", "23:00:00"]] },
  });
});

Deno.test("readSnapshot takes the trade subtree, skipping malformed orders", () => {
  const { snapshot: s } = readSnapshot({
    session: { user_id: "demo", trading_day: "20251224" },
    accounts: { CNY: { balance: 1 } },
    positions: { "SHFE.rb2605": { pos_long_today: 1 } },
    orders: { o1: ORDER, bogus: {} },
    trades: {},
  });
  assertEquals(s.trading_day, "20251224");
  assertEquals(s.account.balance, 1);
  assertEquals(Object.keys(s.orders), ["o1"]);
  assertEquals(s.positions["SHFE.rb2605"].net, 1);
  // a position with a malformed lot count is left out and reported
  const bad = readSnapshot({
    positions: { "SHFE.rb2605": { pos_long_today: -3 }, "DCE.m2605": { pos_short_his: 2 } },
  });
  assertEquals(Object.keys(bad.snapshot.positions), ["DCE.m2605"]);
  assertEquals(bad.malformed, [{ symbol: "SHFE.rb2605", field: "pos_long_today", value: -3, kept: null }]);
  const corrupt = new Map([["DCE.m2605", new Map<string, unknown>([["pos_short_his", null]])]]);
  assertEquals(Object.keys(readSnapshot({ positions: { "DCE.m2605": {} } }, corrupt).snapshot.positions), []);
});

Deno.test("touchedKeys reads exactly what one frame changed", () => {
  const t = touchedKeys({
    aid: "rtn_data",
    data: [
      { notify: { n: { code: 1 } } },
      { trade: { demo: { orders: { o1: {}, o2: {} }, accounts: { CNY: { balance: 1 } } } } },
      {
        trade: {
          demo: { trades: { "o1|1": {} }, positions: { "SHFE.rb2605": null } },
          other: { orders: { x: {} } },
        },
      },
      { trade: { demo: { trade_more_data: false } } },
      {},
    ],
  }, "demo");
  assertEquals([...(t.orders as Set<string>)], ["o1", "o2"]);
  assertEquals([...(t.trades as Set<string>)], ["o1|1"]);
  assertEquals([...(t.positions as Set<string>)], ["SHFE.rb2605"]);
  assertEquals(t.account, true);
  assertEquals(t.tradeMoreData, false);
  const none = touchedKeys({ aid: "rtn_data", data: [{ quotes: {} }] }, "demo");
  assertEquals([(none.orders as Set<string>).size, none.account], [0, false]);
  assertEquals(
    touchedKeys({ aid: "rtn_data", data: [{ trade: { demo: { orders: null } } }] }, "demo").orders,
    "all",
  );
  assertEquals(touchedKeys({ aid: "rtn_data", data: null }, "demo").account, false);
});

Deno.test("frameNotifies, toNotice, touchedQuotes", () => {
  const f = {
    aid: "rtn_data",
    data: [{ notify: { a: { level: "WARNING", code: 413, type: "MESSAGE", content: "开仓保证金不足" } } }, {
      quotes: { "SHFE.rb2605": {}, "DCE.m2605": null },
    }],
  };
  assertEquals(frameNotifies(f).map(toNotice), [{
    code: 413,
    level: "WARNING",
    type: "MESSAGE",
    content: "开仓保证金不足",
  }]);
  assertEquals(toNotice({ level: "bogus" }), { code: 0, level: "INFO", type: "MESSAGE", content: "" });
  assertEquals([...touchedQuotes(f)], ["SHFE.rb2605", "DCE.m2605"]);
  assertEquals(nsToMs(undefined), 0);
});
