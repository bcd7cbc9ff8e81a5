import { assertEquals } from "../../../tests/assert.ts";
import { bj, CATALOGUE, context, instrument, request, toInstrumentView } from "./test_fixtures.ts";

Deno.test("test fixtures: catalogue instruments become InstrumentViews with their real data", () => {
  assertEquals(toInstrumentView(CATALOGUE["SHFE.au2606"]), {
    symbol: "SHFE.au2606",
    exchange_id: "SHFE",
    instrument_id: "au2606",
    product_id: "au",
    class: "FUTURE",
    price_tick: 0.02,
    volume_multiple: 1000,
    max_limit_order_volume: 500,
    max_market_order_volume: 0,
    min_limit_order_volume: 1,
    min_market_order_volume: 0,
    expired: false,
    expire_datetime_ms: bj("2026-06-15 15:00:00"),
    trading_time: {
      day: [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"], ["13:30:00", "15:00:00"]],
      night: [["21:00:00", "26:30:00"]],
    },
  });
});

Deno.test("test fixtures: a context carries a fresh quote at the given time around the catalogue price", () => {
  const t = bj("2025-12-24 10:00:00");
  const ctx = context(request("SHFE.rb2605"), t);
  assertEquals(ctx.instrument, instrument("SHFE.rb2605"));
  assertEquals(ctx.quote, {
    symbol: "SHFE.rb2605",
    datetime_ms: t,
    last_price: 3075,
    bid_price1: 3074,
    ask_price1: 3076,
    upper_limit: 3175,
    lower_limit: 2975,
    received_at: t,
  });
  assertEquals(ctx.request.limit_price, 3075);
  assertEquals(context(request("SHFE.xx9999"), t).instrument, undefined);
});
