import { assert, assertEquals } from "../../../tests/assert.ts";
import {
  checkDeskLimits,
  type DeskLimits,
  productKey,
  projectNet,
  resolveLimits,
  type RiskLimitsConfig,
  valuationPrice,
} from "./desk_limits.ts";
import type { Decision, InsertRequest, OrderContext } from "./types.ts";
import {
  bj,
  context,
  instrument,
  marketRequest,
  position,
  quote,
  request,
  workingOrder,
} from "./test_fixtures.ts";
import { parseConfig } from "../../config.ts";

const WED_10 = bj("2025-12-24 10:00:00");
const WIDE: DeskLimits = { max_order_volume: 10_000, max_order_notional: 1e12, max_net_position: 500 };

function ok(d: Decision): void {
  assert(d.ok, d.ok ? "" : `expected a pass, got ${d.refusal.code}: ${d.refusal.message}`);
}

function refused(d: Decision): { code: string; field: string; message: string } {
  assert(!d.ok, "expected a refusal");
  return d.refusal;
}

// ------------------------------------------------------------------------------------------------------
// resolveLimits
// ------------------------------------------------------------------------------------------------------

const RISK: RiskLimitsConfig = {
  max_order_volume: 100,
  max_order_notional: 50_000_000,
  max_net_position: 500,
  symbols: {
    "SHFE.au": { max_order_volume: 20, max_net_position: 50 },
    "SHFE.au2606": { max_net_position: 10 },
    "CZCE.SR": { max_order_notional: 1_000_000 },
    "DCE.m2605": { max_order_volume: 0 },
  },
};

Deno.test("productKey: EXCHANGE.product from the symbol or the given product id", () => {
  assertEquals(productKey("SHFE.rb2605"), "SHFE.rb");
  assertEquals(productKey("CZCE.SR605"), "CZCE.SR");
  assertEquals(productKey("DCE.m2507-C-3000"), "DCE.m");
  assertEquals(productKey("SHFE.rb2605", { productId: "xx" }), "SHFE.xx");
  assertEquals(productKey("rb2605"), undefined);
  assertEquals(productKey("SHFE.2605"), undefined);
});

Deno.test("resolveLimits: defaults, then product, then symbol, key by key", () => {
  assertEquals(resolveLimits(RISK, "SHFE.rb2605"), {
    max_order_volume: 100,
    max_order_notional: 50_000_000,
    max_net_position: 500,
    sources: { max_order_volume: "risk", max_order_notional: "risk", max_net_position: "risk" },
  });
  // Product override for every au contract …
  const au2608 = resolveLimits(RISK, "SHFE.au2608");
  assertEquals([au2608.max_order_volume, au2608.max_order_notional, au2608.max_net_position], [
    20,
    50_000_000,
    50,
  ]);
  // … and the symbol's own key wins over its product's.
  const au2606 = resolveLimits(RISK, "SHFE.au2606");
  assertEquals([au2606.max_order_volume, au2606.max_order_notional, au2606.max_net_position], [
    20,
    50_000_000,
    10,
  ]);
  assertEquals(au2606.sources, {
    max_order_volume: 'risk.symbols["SHFE.au"]',
    max_order_notional: "risk",
    max_net_position: 'risk.symbols["SHFE.au2606"]',
  });
  assertEquals(resolveLimits(RISK, "CZCE.SR605").max_order_notional, 1_000_000);
  assertEquals(resolveLimits(RISK, "DCE.m2605").max_order_volume, 0);
  assertEquals(resolveLimits(RISK, "DCE.m2607").max_order_volume, 100);
  // The instrument's product id is used when given.
  assertEquals(resolveLimits(RISK, "SHFE.zz2606", { productId: "au" }).max_order_volume, 20);
  // Keys are exact: no case folding, no prototype keys.
  assertEquals(resolveLimits(RISK, "SHFE.AU2606").max_order_volume, 100);
  assertEquals(resolveLimits(RISK, "SHFE.constructor").max_order_volume, 100);
});

Deno.test("resolveLimits: the parsed risk config fits", () => {
  const risk = parseConfig("risk: {symbols: {SHFE.rb: {max_order_volume: 7}}}", "t", { env: {} }).risk;
  assertEquals(resolveLimits(risk, "SHFE.rb2605").max_order_volume, 7);
  assertEquals(resolveLimits(risk, "SHFE.rb2605").max_net_position, 500);
});

// ------------------------------------------------------------------------------------------------------
// MAX_ORDER_VOLUME, MAX_ORDER_NOTIONAL
// ------------------------------------------------------------------------------------------------------

Deno.test("checkDeskLimits: exactly max_order_volume passes, one more is MAX_ORDER_VOLUME on volume", () => {
  const limits = { ...WIDE, max_order_volume: 100 };
  ok(checkDeskLimits(context(request("SHFE.rb2605", { volume: 100 }), WED_10), limits));
  const d = refused(checkDeskLimits(context(request("SHFE.rb2605", { volume: 101 }), WED_10), limits));
  assertEquals([d.code, d.field], ["MAX_ORDER_VOLUME", "volume"]);
  assertEquals(d.message, "volume 101 is above max_order_volume 100 (SHFE.rb2605)");
  const fromProduct = refused(
    checkDeskLimits(
      context(request("SHFE.au2606", { volume: 21 }), WED_10),
      resolveLimits(RISK, "SHFE.au2606"),
    ),
  );
  assertEquals(
    fromProduct.message,
    'volume 21 is above max_order_volume 20 from risk.symbols["SHFE.au"] (SHFE.au2606)',
  );
  // 0 allows nothing.
  assertEquals(
    refused(checkDeskLimits(context(request("DCE.m2605"), WED_10), resolveLimits(RISK, "DCE.m2605"))).code,
    "MAX_ORDER_VOLUME",
  );
});

Deno.test("checkDeskLimits: notional = price × volume × volume_multiple, exactly the max passes", () => {
  // rb: 3100 × 10 lots × 10 = 310 000.
  const rb = (limit: number) =>
    checkDeskLimits(
      context(request("SHFE.rb2605", { limit_price: 3100, volume: 10 }), WED_10),
      { ...WIDE, max_order_notional: limit },
    );
  ok(rb(310_000));
  const d = refused(rb(309_999));
  assertEquals([d.code, d.field], ["MAX_ORDER_NOTIONAL", "volume"]);
  assertEquals(
    d.message,
    "order value 310000 (3100 × 10 × 10) is above max_order_notional 309999 (SHFE.rb2605)",
  );
  // au: 562.04 × 2 × 1000 = 1 124 080 (floats would give a hair more or less; the boundary holds).
  const au = (limit: number) =>
    checkDeskLimits(
      context(request("SHFE.au2606", { limit_price: 562.02 + 0.02, volume: 2 }), WED_10),
      { ...WIDE, max_order_notional: limit },
    );
  ok(au(1_124_080));
  assertEquals(refused(au(1_124_079.99)).code, "MAX_ORDER_NOTIONAL");
  // T: 98.235 × 3 × 10000 = 2 947 050.
  const t = (limit: number) =>
    checkDeskLimits(
      context(request("CFFEX.T2603", { limit_price: 98.235, volume: 3 }), WED_10),
      { ...WIDE, max_order_notional: limit },
    );
  ok(t(2_947_050));
  assertEquals(refused(t(2_947_049)).code, "MAX_ORDER_NOTIONAL");
});

Deno.test("valuationPrice: market orders at the opposite best, else the limit bound on that side", () => {
  const m = instrument("DCE.m2605");
  const q = quote(m, WED_10, { bid_price1: 2800, ask_price1: 2802, lower_limit: 2600, upper_limit: 3000 });
  const ctx = (req: InsertRequest, fields: Partial<OrderContext> = {}) =>
    context(req, WED_10, { quote: q, ...fields });
  assertEquals(valuationPrice(ctx(marketRequest("DCE.m2605"))), 2802);
  assertEquals(valuationPrice(ctx(marketRequest("DCE.m2605", { direction: "SELL" }))), 2800);
  const locked = { ...q, ask_price1: null, bid_price1: NaN };
  assertEquals(valuationPrice(ctx(marketRequest("DCE.m2605"), { quote: locked })), 3000);
  assertEquals(
    valuationPrice(ctx(marketRequest("DCE.m2605", { direction: "SELL" }), { quote: locked })),
    2600,
  );
  assertEquals(valuationPrice(ctx(marketRequest("DCE.m2605"), { quote: undefined })), null);
  assertEquals(valuationPrice(ctx(request("DCE.m2605", { limit_price: 2850 }))), 2850);
  // Market BUY of 10 lots valued at the ask: 2802 × 10 × 10 = 280 200.
  const limits = { ...WIDE, max_order_notional: 280_200 };
  ok(checkDeskLimits(ctx(marketRequest("DCE.m2605", { volume: 10 })), limits));
  assertEquals(
    refused(checkDeskLimits(ctx(marketRequest("DCE.m2605", { volume: 10 }), { quote: locked }), limits))
      .message,
    "order value 300000 (3000 × 10 × 10) is above max_order_notional 280200 (DCE.m2605)",
  );
});

Deno.test("checkDeskLimits: a market order with no price, or an unknown multiplier, is refused", () => {
  const noPrice = checkDeskLimits(context(marketRequest("DCE.m2605"), WED_10, { quote: undefined }), WIDE);
  assertEquals([refused(noPrice).code, refused(noPrice).field], ["NO_QUOTE", "symbol"]);
  const noMult = context(request("DCE.m2605"), WED_10, {
    instrument: { ...instrument("DCE.m2605"), volume_multiple: NaN },
  });
  assertEquals(refused(checkDeskLimits(noMult, WIDE)).code, "MAX_ORDER_NOTIONAL");
  const unknown = context(request("SHFE.xx9999"), WED_10);
  assertEquals(refused(checkDeskLimits(unknown, WIDE)).code, "UNKNOWN_SYMBOL");
});

// ------------------------------------------------------------------------------------------------------
// MAX_POSITION
// ------------------------------------------------------------------------------------------------------

function posCtx(
  req: InsertRequest,
  long: number,
  short: number,
  working: OrderContext["workingOrders"] = [],
) {
  return context(req, WED_10, { position: position(req.symbol, long, short), workingOrders: working });
}

const RB = "SHFE.rb2605";
const buy = (volume: number, offset: "OPEN" | "CLOSE" = "OPEN") =>
  request(RB, { direction: "BUY", offset, volume, limit_price: 3100 });
const sell = (volume: number, offset: "OPEN" | "CLOSE" = "OPEN") =>
  request(RB, { direction: "SELL", offset, volume, limit_price: 3100 });

Deno.test("projectNet: direction decides, same-side working orders count, the other side does not", () => {
  const working = [
    workingOrder(RB, { direction: "BUY", volume_left: 30 }),
    workingOrder(RB, { direction: "BUY", offset: "CLOSE", volume_left: 5 }),
    workingOrder(RB, { direction: "SELL", volume_left: 100 }),
    workingOrder(RB, { direction: "BUY", volume_left: 7, status: "FINISHED" }),
    workingOrder("SHFE.rb2606", { direction: "BUY", volume_left: 9 }),
  ];
  assertEquals(projectNet(posCtx(buy(10), 400, 100, working)), {
    net: 300,
    working: 35,
    before: 335,
    after: 345,
  });
  assertEquals(projectNet(posCtx(sell(10, "CLOSE"), 400, 100, working)), {
    net: 300,
    working: 100,
    before: 200,
    after: 190,
  });
  assertEquals(projectNet(context(buy(3), WED_10)), { net: 0, working: 0, before: 0, after: 3 });
});

Deno.test("checkDeskLimits: exactly max_net_position passes, one more is MAX_POSITION", () => {
  ok(checkDeskLimits(posCtx(buy(100), 400, 0), WIDE));
  const d = refused(checkDeskLimits(posCtx(buy(101), 400, 0), WIDE));
  assertEquals([d.code, d.field], ["MAX_POSITION", "volume"]);
  assertEquals(
    d.message,
    "net position of SHFE.rb2605 could reach +501 (net +400, working BUY 0, this BUY 101), beyond max_net_position 500",
  );
  // Short side: −450 − 50 = −500 passes, −501 does not.
  ok(checkDeskLimits(posCtx(sell(50), 0, 450), WIDE));
  assertEquals(refused(checkDeskLimits(posCtx(sell(51), 0, 450), WIDE)).code, "MAX_POSITION");
  // From flat: 500 passes, 501 refused.
  ok(checkDeskLimits(context(buy(500), WED_10), WIDE));
  assertEquals(refused(checkDeskLimits(context(buy(501), WED_10), WIDE)).code, "MAX_POSITION");
});

Deno.test("checkDeskLimits: working orders on the same side count conservatively", () => {
  const working = [
    workingOrder(RB, { direction: "BUY", volume_left: 50 }),
    workingOrder(RB, { direction: "SELL", volume_left: 200 }), // may be cancelled: not counted
  ];
  ok(checkDeskLimits(posCtx(buy(50), 400, 0, working), WIDE)); // 400 + 50 + 50 = 500
  const d = refused(checkDeskLimits(posCtx(buy(51), 400, 0, working), WIDE));
  assertEquals(
    d.message,
    "net position of SHFE.rb2605 could reach +501 (net +400, working BUY 50, this BUY 51), beyond max_net_position 500",
  );
  // Sells: working SELLs count for a new SELL.
  const sells = [workingOrder(RB, { direction: "SELL", volume_left: 300 })];
  ok(checkDeskLimits(posCtx(sell(200), 0, 0, sells), WIDE));
  assertEquals(refused(checkDeskLimits(posCtx(sell(201), 0, 0, sells), WIDE)).code, "MAX_POSITION");
});

Deno.test("checkDeskLimits: orders that reduce the worst-case exposure always pass", () => {
  // Over the limit (it was lowered): closing is still allowed.
  ok(checkDeskLimits(posCtx(sell(10, "CLOSE"), 600, 0), WIDE));
  ok(checkDeskLimits(posCtx(buy(100, "CLOSE"), 0, 600), WIDE));
  // Flipping through zero to beyond the limit on the other side is not.
  assertEquals(refused(checkDeskLimits(posCtx(sell(900, "CLOSE"), 300, 0), WIDE)).code, "MAX_POSITION");
  // Working closes already cover the position: another close would open exposure on the other side.
  const closing = [workingOrder(RB, { direction: "SELL", offset: "CLOSE", volume_left: 600 })];
  assertEquals(
    refused(checkDeskLimits(posCtx(sell(600, "CLOSE"), 600, 0, closing), WIDE)).code,
    "MAX_POSITION",
  );
  // max_net_position 0: only reducing orders.
  const zero = { ...WIDE, max_net_position: 0 };
  assertEquals(refused(checkDeskLimits(context(buy(1), WED_10), zero)).code, "MAX_POSITION");
  ok(checkDeskLimits(posCtx(sell(1, "CLOSE"), 5, 0), zero));
});
