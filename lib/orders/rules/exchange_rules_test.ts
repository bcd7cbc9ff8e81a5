import { assert, assertEquals } from "../../../tests/assert.ts";
import {
  checkInstrument,
  checkOrderType,
  checkPrice,
  checkVolume,
  isRestricted,
  isTickMultiple,
  ORDER_TYPE_RESTRICTIONS,
  priceTicks,
  snapToTick,
  tickDecimals,
  tickGrid,
  ticksToPrice,
} from "./exchange_rules.ts";
import type { Decision, InsertRequest, InstrumentView, OrderContext, RejectCode } from "./types.ts";
import {
  bj,
  CATALOGUE,
  context,
  instrument,
  marketRequest,
  quote,
  request,
  toInstrumentView,
} from "./test_fixtures.ts";

const WED_10 = bj("2025-12-24 10:00:00");

function refusal(d: Decision): { code: RejectCode; field: string } {
  assert(!d.ok, `expected a refusal, got a pass`);
  return { code: d.refusal.code, field: d.refusal.field };
}

function message(d: Decision): string {
  assert(!d.ok, "expected a refusal");
  return d.refusal.message;
}

function ok(d: Decision): void {
  assert(d.ok, d.ok ? "" : `expected a pass, got ${d.refusal.code}: ${d.refusal.message}`);
}

/** A context for `req` whose quote has the given limit band. */
function banded(req: InsertRequest, lower: number | null, upper: number | null): OrderContext {
  const ctx = context(req, WED_10);
  return { ...ctx, quote: quote(ctx.instrument!, WED_10, { lower_limit: lower, upper_limit: upper }) };
}

// ------------------------------------------------------------------------------------------------------
// checkInstrument
// ------------------------------------------------------------------------------------------------------

Deno.test("checkInstrument: a live catalogue future passes", () => {
  ok(checkInstrument(context(request("SHFE.rb2605"), WED_10)));
  ok(checkInstrument(context(request("CZCE.SR605"), WED_10)));
});

Deno.test("checkInstrument: unknown symbol → UNKNOWN_SYMBOL on symbol", () => {
  const d = checkInstrument(context(request("SHFE.xx9999"), WED_10));
  assertEquals(refusal(d), { code: "UNKNOWN_SYMBOL", field: "symbol" });
  assertEquals(message(d), "unknown symbol SHFE.xx9999 (not in the contract info)");
  // Contract info of another symbol is not contract info of this one.
  const wrong = context(request("SHFE.rb2605"), WED_10, { instrument: instrument("SHFE.rb2606") });
  assertEquals(refusal(checkInstrument(wrong)), { code: "UNKNOWN_SYMBOL", field: "symbol" });
});

Deno.test("checkInstrument: expired flag, or expire_datetime reached at exchange time → EXPIRED", () => {
  const rb2601 = instrument("SHFE.rb2601");
  assertEquals(rb2601.expire_datetime_ms, bj("2026-01-15 15:00:00"));
  const flagged = context(request("SHFE.rb2601"), WED_10, { instrument: { ...rb2601, expired: true } });
  assertEquals(refusal(checkInstrument(flagged)), { code: "EXPIRED", field: "symbol" });

  const before = bj("2026-01-15 14:59:59.999");
  ok(checkInstrument(context(request("SHFE.rb2601"), before)));
  const at = bj("2026-01-15 15:00:00");
  const d = checkInstrument(context(request("SHFE.rb2601"), at));
  assertEquals(refusal(d), { code: "EXPIRED", field: "symbol" });
  assertEquals(message(d), "SHFE.rb2601 expired at 2026-01-15 15:00:00 (quote time now 2026-01-15 15:00:00)");

  // Exchange time comes from the quote: the local clock says 14:59, the quote says 15:00.
  const local = bj("2026-01-15 14:59:00");
  const ahead = context(request("SHFE.rb2601"), local, { quote: quote(rb2601, at, { received_at: local }) });
  assertEquals(refusal(checkInstrument(ahead)), { code: "EXPIRED", field: "symbol" });
  // Without a quote, the local clock.
  ok(checkInstrument(context(request("SHFE.rb2601"), local, { quote: undefined })));
  // An unknown expiry (NaN) relies on the flag alone.
  ok(
    checkInstrument(
      context(request("SHFE.rb2601"), at, { instrument: { ...rb2601, expire_datetime_ms: NaN } }),
    ),
  );
});

Deno.test("checkInstrument: anything but class FUTURE → NOT_FUTURE", () => {
  const m = instrument("DCE.m2605");
  for (
    const cls of ["OPTION", "FUTURE_OPTION", "FUTURE_COMBINE", "FUTURE_INDEX", "FUTURE_CONT", "SPOT", ""]
  ) {
    const d = checkInstrument(context(request("DCE.m2605"), WED_10, { instrument: { ...m, class: cls } }));
    assertEquals(refusal(d), { code: "NOT_FUTURE", field: "symbol" }, cls);
  }
});

// ------------------------------------------------------------------------------------------------------
// checkPrice
// ------------------------------------------------------------------------------------------------------

Deno.test("isTickMultiple: judged in integer ticks, forgiving float noise only", () => {
  assert(isTickMultiple(3500, 1));
  assert(isTickMultiple(3500.0000000001, 1)); // float drift, 1e-10 of a tick
  assert(!isTickMultiple(3500.000001, 1)); // a millionth of a tick is a real (wrong) price
  assert(!isTickMultiple(3500.5, 1));
  assert(isTickMultiple(562.04, 0.02)); // 562.04 / 0.02 = 28101.999999999996 in floats
  assert(!isTickMultiple(562.05, 0.02));
  assert(isTickMultiple(562.02 + 0.02, 0.02));
  assert(isTickMultiple(0.1 + 0.2, 0.1)); // 0.30000000000000004
  assert(isTickMultiple(500.1 + 0.2, 0.1));
  assert(isTickMultiple(98.235, 0.005));
  assert(!isTickMultiple(98.237, 0.005));
  assert(isTickMultiple(3879.2, 0.2));
  assert(!isTickMultiple(3879.3, 0.2));
  assert(isTickMultiple(-5, 1)); // sign does not matter to the grid
  assert(!isTickMultiple(NaN, 1));
  assert(!isTickMultiple(3500, 0));
  assert(!isTickMultiple(3500, NaN));
});

Deno.test("priceTicks / tickGrid / ticksToPrice: prices as whole ticks, and back with no drift", () => {
  assertEquals(tickGrid(0.02), { decimals: 2, scale: 100, step: 2 });
  assertEquals(tickGrid(1), { decimals: 0, scale: 1, step: 1 });
  assertEquals(tickGrid(0.005), { decimals: 3, scale: 1000, step: 5 });
  assertEquals(tickGrid(0), undefined);
  assertEquals(tickGrid(-1), undefined);
  assertEquals(priceTicks(3500, 1), 3500);
  assertEquals(priceTicks(3500.0000000001, 1), 3500);
  assertEquals(priceTicks(562.04, 0.02), 28102);
  assertEquals(priceTicks([0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562), 0.02), 28104);
  assertEquals(priceTicks(0.1 + 0.2, 0.1), 3);
  assertEquals(priceTicks(3879 + 0.2 + 0.1, 0.1), 38793); // 3879.2999999999997
  assertEquals(priceTicks(562.05, 0.02), undefined);
  assertEquals(priceTicks(3500.000001, 1), undefined);
  // Large prices: float resolution there is coarser than 1e-9 of a tick, and still no false refusal.
  assertEquals(priceTicks(1_000_000.01, 0.01), 100_000_001);
  assertEquals(priceTicks(987_654.32 + 0.01, 0.01), 98_765_433);
  assertEquals(priceTicks(1_000_000.015, 0.01), undefined);
  // Back to a price: the double nearest the decimal, where ticks × tick drifts.
  assertEquals(28003 * 0.02, 560.0600000000001);
  assertEquals(ticksToPrice(28003, 0.02), 560.06);
  assertEquals(38781 * 0.1, 3878.1000000000004);
  assertEquals(ticksToPrice(38781, 0.1), 3878.1);
  assertEquals(ticksToPrice(3, 0.1), 0.3);
  assertEquals(ticksToPrice(19647, 0.005), 98.235);
  assertEquals(String(ticksToPrice(38793, 0.1)), "3879.3");
});

Deno.test("snapToTick and tickDecimals", () => {
  assertEquals(tickDecimals(1), 0);
  assertEquals(tickDecimals(0.02), 2);
  assertEquals(tickDecimals(0.005), 3);
  assertEquals(tickDecimals(0.2), 1);
  assertEquals(snapToTick(3500.0000000001, 1), 3500);
  assertEquals(snapToTick(562.02 + 0.02, 0.02), 562.04);
  assertEquals(snapToTick(0.1 + 0.2, 0.1), 0.3);
  assertEquals(snapToTick(98.235, 0.005), 98.235);
  assertEquals(snapToTick([0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562), 0.02), 562.08);
  assertEquals(snapToTick(3879 + 0.2 + 0.1, 0.1), 3879.3);
  assertEquals(snapToTick(3500.4, 1), 3500);
});

Deno.test("checkPrice: a multiple of price_tick inside the band passes; off-grid → PRICE_TICK", () => {
  ok(checkPrice(banded(request("SHFE.rb2605", { limit_price: 3500 }), 3000, 3600)));
  ok(checkPrice(banded(request("SHFE.rb2605", { limit_price: 3500.0000000001 }), 3000, 3600)));
  const d = checkPrice(banded(request("SHFE.rb2605", { limit_price: 3500.5 }), 3000, 3600));
  assertEquals(refusal(d), { code: "PRICE_TICK", field: "limit_price" });
  assertEquals(
    message(d),
    "limit_price 3500.5 is not a multiple of price_tick 1 (SHFE.rb2605; nearest 3500 or 3501)",
  );
  // au: tick 0.02.
  ok(checkPrice(banded(request("SHFE.au2606", { limit_price: 562.04 }), 500, 600)));
  const au = checkPrice(banded(request("SHFE.au2606", { limit_price: 562.05 }), 500, 600));
  assertEquals(refusal(au), { code: "PRICE_TICK", field: "limit_price" });
  assertEquals(
    message(au),
    "limit_price 562.05 is not a multiple of price_tick 0.02 (SHFE.au2606; nearest 562.04 or 562.06)",
  );
  // Treasury futures: tick 0.005.
  ok(checkPrice(banded(request("CFFEX.T2603", { limit_price: 98.235 }), 96, 100)));
  assertEquals(
    refusal(checkPrice(banded(request("CFFEX.T2603", { limit_price: 98.237 }), 96, 100))).code,
    "PRICE_TICK",
  );
});

Deno.test("checkPrice: a pass carries the exact tick-grid price to send", () => {
  const rb = checkPrice(banded(request("SHFE.rb2605", { limit_price: 3400.0000000001 }), 3000, 3600));
  assertEquals(rb, { ok: true, limit_price: 3400 });
  const drifted = [0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562); // 562.0799999999999
  assertEquals(checkPrice(banded(request("SHFE.au2606", { limit_price: drifted }), 500, 600)), {
    ok: true,
    limit_price: 562.08,
  });
  assertEquals(checkPrice(banded(request("CFFEX.T2603", { limit_price: 98.23 + 0.005 }), 96, 100)), {
    ok: true,
    limit_price: 98.235,
  });
  // A market order carries no price.
  assertEquals(checkPrice(context(marketRequest("DCE.m2605"), WED_10)), { ok: true });
});

Deno.test("checkPrice: the band is compared in whole ticks (drifted and off-grid bounds)", () => {
  const au = (p: number, lower: number, upper: number) =>
    checkPrice(banded(request("SHFE.au2606", { limit_price: p }), lower, upper));
  const up = [0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562); // 562.0799999999999 = 562.08
  // A price a hair above a drifted bound is the same tick: it passes, exactly at the bound.
  assertEquals(au(562.08, 500, up), { ok: true, limit_price: 562.08 });
  assertEquals(au(562.08 + 1e-12, 500, up), { ok: true, limit_price: 562.08 });
  assertEquals(refusal(au(562.1, 500, up)).code, "PRICE_LIMIT");
  assertEquals(message(au(562.1, 500, up)), "limit_price 562.1 is above upper_limit 562.08 (SHFE.au2606)");
  assertEquals(au(500 - 1e-12, 500 - 1e-12, 600), { ok: true, limit_price: 500 });
  // An off-grid bound is rounded inwards: upper 562.09 allows 562.08 but not 562.1; lower 499.99 allows 500.
  assertEquals(au(562.08, 500, 562.09), { ok: true, limit_price: 562.08 });
  assertEquals(refusal(au(562.1, 500, 562.09)).code, "PRICE_LIMIT");
  assertEquals(au(500, 499.99, 600), { ok: true, limit_price: 500 });
  assertEquals(refusal(au(499.98, 499.99, 600)).code, "PRICE_LIMIT");
});

Deno.test("checkPrice: the limit band is inclusive at both ends", () => {
  // rb2605 fixture quote: last 3075, band 2975 … 3175.
  const rb = (p: number) => context(request("SHFE.rb2605", { limit_price: p }), WED_10);
  ok(checkPrice(rb(3175)));
  ok(checkPrice(rb(2975)));
  const above = checkPrice(rb(3176));
  assertEquals(refusal(above), { code: "PRICE_LIMIT", field: "limit_price" });
  assertEquals(message(above), "limit_price 3176 is above upper_limit 3175 (SHFE.rb2605)");
  const below = checkPrice(rb(2974));
  assertEquals(refusal(below), { code: "PRICE_LIMIT", field: "limit_price" });
  assertEquals(message(below), "limit_price 2974 is below lower_limit 2975 (SHFE.rb2605)");
  // Exactly the band with float noise on a fractional tick (au band computed in floats).
  ok(checkPrice(banded(request("SHFE.au2606", { limit_price: 562.04 }), 500, 562.02 + 0.02)));
});

Deno.test("checkPrice: no quote, or a quote without limits → NO_QUOTE on symbol", () => {
  const noQuote = context(request("SHFE.rb2605"), WED_10, { quote: undefined });
  assertEquals(refusal(checkPrice(noQuote)), { code: "NO_QUOTE", field: "symbol" });
  assertEquals(refusal(checkPrice(banded(request("SHFE.rb2605"), null, 3175))), {
    code: "NO_QUOTE",
    field: "symbol",
  });
  assertEquals(refusal(checkPrice(banded(request("SHFE.rb2605"), 2975, NaN))), {
    code: "NO_QUOTE",
    field: "symbol",
  });
  // The tick is checked first: it needs no quote.
  const offTick = context(request("SHFE.rb2605", { limit_price: 3075.5 }), WED_10, { quote: undefined });
  assertEquals(refusal(checkPrice(offTick)).code, "PRICE_TICK");
});

Deno.test("checkPrice: a LIMIT order without a usable price, or an unknown tick → PRICE_TICK", () => {
  assertEquals(refusal(checkPrice(context(request("SHFE.rb2605", { limit_price: null }), WED_10))), {
    code: "PRICE_TICK",
    field: "limit_price",
  });
  assertEquals(
    refusal(checkPrice(context(request("SHFE.rb2605", { limit_price: NaN }), WED_10))).code,
    "PRICE_TICK",
  );
  const noTick = context(request("SHFE.rb2605"), WED_10, {
    instrument: { ...instrument("SHFE.rb2605"), price_tick: NaN },
  });
  assertEquals(refusal(checkPrice(noTick)).code, "PRICE_TICK");
});

Deno.test("checkPrice: market orders and unknown instruments pass (other rules refuse those)", () => {
  ok(checkPrice(context(marketRequest("DCE.m2605"), WED_10, { quote: undefined })));
  ok(checkPrice(context(request("SHFE.xx9999", { limit_price: 0.5 }), WED_10)));
});

// ------------------------------------------------------------------------------------------------------
// checkVolume
// ------------------------------------------------------------------------------------------------------

Deno.test("checkVolume: limit orders within min/max_limit_order_volume, exactly max passes", () => {
  // rb: max_limit_order_volume 500.
  ok(checkVolume(context(request("SHFE.rb2605", { volume: 500 }), WED_10)));
  ok(checkVolume(context(request("SHFE.rb2605", { volume: 1 }), WED_10)));
  const d = checkVolume(context(request("SHFE.rb2605", { volume: 501 }), WED_10));
  assertEquals(refusal(d), { code: "VOLUME_RANGE", field: "volume" });
  assertEquals(message(d), "volume 501 is above max_limit_order_volume 500 (SHFE.rb2605)");
  for (const v of [0, -1, 1.5, NaN]) {
    assertEquals(refusal(checkVolume(context(request("SHFE.rb2605", { volume: v }), WED_10))), {
      code: "VOLUME_RANGE",
      field: "volume",
    }, String(v));
  }
  const min2 = { ...instrument("SHFE.rb2605"), min_limit_order_volume: 2 };
  const below = checkVolume(context(request("SHFE.rb2605", { volume: 1 }), WED_10, { instrument: min2 }));
  assertEquals(message(below), "volume 1 is below min_limit_order_volume 2 (SHFE.rb2605)");
  ok(checkVolume(context(request("SHFE.rb2605", { volume: 2 }), WED_10, { instrument: min2 })));
});

Deno.test("checkVolume: a limit max of 0 is unknown (only the desk limit applies)", () => {
  const unknownMax = { ...instrument("SHFE.rb2605"), max_limit_order_volume: 0 };
  ok(checkVolume(context(request("SHFE.rb2605", { volume: 10_000 }), WED_10, { instrument: unknownMax })));
});

Deno.test("checkVolume: market orders within min/max_market_order_volume; max 0 → MARKET_NOT_ALLOWED", () => {
  // DCE.m: max_market_order_volume 1000; CZCE.SR: 200; SHFE.rb: 0.
  ok(checkVolume(context(marketRequest("DCE.m2605", { volume: 1000 }), WED_10)));
  const m = checkVolume(context(marketRequest("DCE.m2605", { volume: 1001 }), WED_10));
  assertEquals(refusal(m), { code: "VOLUME_RANGE", field: "volume" });
  assertEquals(message(m), "volume 1001 is above max_market_order_volume 1000 (DCE.m2605)");
  ok(checkVolume(context(marketRequest("CZCE.SR605", { volume: 200 }), WED_10)));
  assertEquals(
    refusal(checkVolume(context(marketRequest("CZCE.SR605", { volume: 201 }), WED_10))).code,
    "VOLUME_RANGE",
  );
  const rb = checkVolume(context(marketRequest("SHFE.rb2605"), WED_10));
  assertEquals(refusal(rb), { code: "MARKET_NOT_ALLOWED", field: "price_type" });
  assertEquals(message(rb), "market orders are not accepted for SHFE.rb2605 (max_market_order_volume 0)");
  // The same contract's limit orders are fine.
  ok(checkVolume(context(request("SHFE.rb2605", { volume: 200 }), WED_10)));
});

// ------------------------------------------------------------------------------------------------------
// checkOrderType
// ------------------------------------------------------------------------------------------------------

const FOK = { time_condition: "IOC", volume_condition: "ALL" } as const;
const FAK = { time_condition: "IOC", volume_condition: "ANY" } as const;

Deno.test("checkOrderType: market orders refused on SHFE, INE, CFFEX; accepted on DCE and CZCE futures", () => {
  for (const s of ["SHFE.rb2605", "SHFE.au2606", "INE.sc2603", "CFFEX.IF2601", "CFFEX.T2603"]) {
    assertEquals(refusal(checkOrderType(context(marketRequest(s), WED_10))), {
      code: "MARKET_NOT_ALLOWED",
      field: "price_type",
    }, s);
  }
  // CFFEX.IF lists max_market_order_volume 10, the exchange matrix still refuses.
  assertEquals(instrument("CFFEX.IF2601").max_market_order_volume, 10);
  assertEquals(
    message(checkOrderType(context(marketRequest("CFFEX.IF2601"), WED_10))),
    "market orders (price_type ANY) are not accepted on CFFEX FUTURE (CFFEX.IF2601)",
  );
  for (const s of ["DCE.m2605", "DCE.i2605", "CZCE.SR605", "CZCE.AP605"]) {
    ok(checkOrderType(context(marketRequest(s), WED_10)));
  }
});

Deno.test("checkOrderType: the matrix holds for every instrument of the catalogue", () => {
  const noMarket = new Set(["SHFE", "INE", "CFFEX"]);
  let checked = 0;
  for (const info of Object.values(CATALOGUE)) {
    const ctx = context(marketRequest(info.instrument_id), WED_10);
    const market = checkOrderType(ctx);
    assertEquals(market.ok, !noMarket.has(info.exchange_id), info.instrument_id);
    const fok = checkOrderType(context(request(info.instrument_id, FOK), WED_10));
    assertEquals(fok.ok, info.exchange_id !== "CZCE", info.instrument_id);
    ok(checkOrderType(context(request(info.instrument_id, FAK), WED_10)));
    ok(checkOrderType(context(request(info.instrument_id), WED_10)));
    checked++;
  }
  assert(checked > 300, `only ${checked} instruments`);
});

Deno.test("checkOrderType: DCE options refuse market orders, DCE futures take them", () => {
  const m = instrument("DCE.m2605");
  for (const cls of ["OPTION", "FUTURE_OPTION"]) {
    const ctx = context(marketRequest("DCE.m2605"), WED_10, { instrument: { ...m, class: cls } });
    assertEquals(refusal(checkOrderType(ctx)), { code: "MARKET_NOT_ALLOWED", field: "price_type" });
  }
  assert(isRestricted("MARKET", "DCE", "OPTION"));
  assert(!isRestricted("MARKET", "DCE", "FUTURE"));
});

Deno.test("checkOrderType: FOK (IOC + ALL) refused on CZCE futures, limit or market", () => {
  const d = checkOrderType(context(request("CZCE.SR605", FOK), WED_10));
  assertEquals(refusal(d), { code: "FOK_NOT_ALLOWED", field: "volume_condition" });
  assertEquals(message(d), "FOK orders (IOC + ALL) are not accepted on CZCE FUTURE (CZCE.SR605)");
  assertEquals(
    refusal(checkOrderType(context(marketRequest("CZCE.SR605", FOK), WED_10))).code,
    "FOK_NOT_ALLOWED",
  );
  ok(checkOrderType(context(request("CZCE.SR605", FAK), WED_10)));
  ok(checkOrderType(context(marketRequest("DCE.m2605", FOK), WED_10)));
  ok(checkOrderType(context(request("SHFE.rb2605", FOK), WED_10)));
});

Deno.test("checkOrderType: limit FAK refused on SSE/SZSE options (matrix), accepted elsewhere", () => {
  const option: InstrumentView = {
    ...toInstrumentView(CATALOGUE["DCE.m2605"]),
    symbol: "SSE.10008888",
    exchange_id: "SSE",
    instrument_id: "10008888",
    class: "OPTION",
  };
  const ctx = context(request("SSE.10008888", FAK), WED_10, { instrument: option });
  assertEquals(refusal(checkOrderType(ctx)), { code: "FAK_NOT_ALLOWED", field: "time_condition" });
  ok(checkOrderType({ ...ctx, request: request("SSE.10008888") }));
});

Deno.test("checkOrderType: inconsistent combinations (defence in depth)", () => {
  const gfdMarket = checkOrderType(context(marketRequest("DCE.m2605", { time_condition: "GFD" }), WED_10));
  assertEquals(refusal(gfdMarket), { code: "MARKET_NOT_ALLOWED", field: "time_condition" });
  const gfdAll = checkOrderType(context(request("DCE.m2605", { volume_condition: "ALL" }), WED_10));
  assertEquals(refusal(gfdAll), { code: "FOK_NOT_ALLOWED", field: "volume_condition" });
});

Deno.test("order-type matrix: keyed by exchange and class only", () => {
  for (const r of ORDER_TYPE_RESTRICTIONS) {
    assertEquals(Object.keys(r).filter((k) => !["kind", "exchange_id", "classes"].includes(k)), []);
  }
});

Deno.test("exchange rules pass an unknown instrument (checkInstrument refuses it)", () => {
  const ctx = context(marketRequest("SHFE.xx9999", { volume: 0 }), WED_10);
  ok(checkOrderType(ctx));
  ok(checkVolume(ctx));
});
