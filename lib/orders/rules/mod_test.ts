import { assert, assertEquals, assertMatch } from "../../../tests/assert.ts";
import {
  BurstMonitor,
  CancelCounter,
  checkAll,
  type CheckAllDeps,
  checkCancel,
  checkOrderType,
  type Decision,
  type DeskLimits,
  INSERT_RULE_ORDER,
  type OrderContext,
  PreTradeRules,
  RateLimiter,
  REJECT_CODES,
  type RejectCode,
  type RiskRulesConfig,
} from "./mod.ts";
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
const LIMITS: DeskLimits = { max_order_volume: 100, max_order_notional: 50_000_000, max_net_position: 500 };
const DEPS: CheckAllDeps = { limits: LIMITS, maxRequestAgeMs: 5000 };

function code(d: Decision): RejectCode {
  assert(!d.ok, "expected a refusal");
  return d.refusal.code;
}

function ok(d: Decision): void {
  assert(d.ok, d.ok ? "" : `expected a pass, got ${d.refusal.code}: ${d.refusal.message}`);
}

Deno.test("checkAll: a sound order passes without warnings, a limit order with its exact price", () => {
  const rb = context(request("SHFE.rb2605"), WED_10);
  assertEquals(checkAll(rb, DEPS), { ok: true, limit_price: rb.request.limit_price! });
  assertEquals(checkAll(context(marketRequest("DCE.m2605", { volume: 5 }), WED_10), DEPS), { ok: true });
  assertEquals(
    checkAll(
      context(request("SHFE.au2606", { limit_price: 562.04 }), bj("2025-12-27 01:30:00"), {
        quote: quote(instrument("SHFE.au2606"), bj("2025-12-27 01:30:00"), {
          lower_limit: 500,
          upper_limit: 600,
        }),
      }),
      DEPS,
    ),
    { ok: true, limit_price: 562.04 },
  );
});

Deno.test("checkAll: a drifted price passes as the exact tick price, which the desk limits judge", () => {
  const at = (p: number, extra: Partial<OrderContext> = {}) =>
    context(request("SHFE.au2606", { limit_price: p, volume: 1 }), WED_10, {
      quote: quote(instrument("SHFE.au2606"), WED_10, { lower_limit: 500, upper_limit: 600 }),
      ...extra,
    });
  const drifted = [0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562); // 562.0799999999999
  assert(drifted !== 562.08);
  assertEquals(checkAll(at(drifted), DEPS), { ok: true, limit_price: 562.08 });
  // Notional exactly at the limit with the exact price (562.08 × 1 × 1000) passes; one tick more does not.
  const limits = { ...LIMITS, max_order_notional: 562_080 };
  assertEquals(checkAll(at(drifted), { ...DEPS, limits }), { ok: true, limit_price: 562.08 });
  assertEquals(code(checkAll(at(562.1), { ...DEPS, limits })), "MAX_ORDER_NOTIONAL");
  // rb: 3500.0000000001 → 3500.
  assertEquals(
    checkAll(context(request("SHFE.rb2605", { limit_price: 3075.0000000001 }), WED_10), DEPS),
    { ok: true, limit_price: 3075 },
  );
});

Deno.test("checkAll: the documented order decides which refusal comes first", () => {
  assertEquals(INSERT_RULE_ORDER, [
    "request_age",
    "instrument",
    "order_type",
    "volume",
    "session",
    "price",
    "desk_limits",
    "insert_rate",
  ]);
  const night = bj("2025-12-25 03:00:00"); // rb closed
  // Stale beats unknown.
  assertEquals(
    code(checkAll(context(request("SHFE.xx9999", { timestamp_ms: WED_10 - 6000 }), WED_10), DEPS)),
    "STALE_REQUEST",
  );
  // Unknown beats everything after it.
  assertEquals(
    code(checkAll(context(marketRequest("SHFE.xx9999", { volume: 0 }), night), DEPS)),
    "UNKNOWN_SYMBOL",
  );
  // Order type beats volume and session: a 10 000-lot market order on SHFE at 03:00.
  assertEquals(
    code(checkAll(context(marketRequest("SHFE.rb2605", { volume: 10_000 }), night), DEPS)),
    "MARKET_NOT_ALLOWED",
  );
  // Volume beats session.
  assertEquals(code(checkAll(context(request("SHFE.rb2605", { volume: 501 }), night), DEPS)), "VOLUME_RANGE");
  // Session beats price: off-tick at 03:00.
  assertEquals(
    code(checkAll(context(request("SHFE.rb2605", { limit_price: 3075.5 }), night), DEPS)),
    "OUTSIDE_SESSION",
  );
  // Price beats desk limits: off-tick and over the desk's volume.
  assertEquals(
    code(checkAll(context(request("SHFE.rb2605", { limit_price: 3075.5, volume: 101 }), WED_10), DEPS)),
    "PRICE_TICK",
  );
  assertEquals(
    code(checkAll(context(request("SHFE.rb2605", { volume: 101 }), WED_10), DEPS)),
    "MAX_ORDER_VOLUME",
  );
});

Deno.test("checkAll: refused orders spend no insert token; passing ones do", () => {
  const rateLimiter = new RateLimiter({
    insert_rate_per_s: 1,
    insert_burst: 1,
    cancel_rate_per_s: 1,
    cancel_burst: 1,
  });
  const deps = { ...DEPS, rateLimiter };
  for (let i = 0; i < 5; i++) {
    assertEquals(
      code(checkAll(context(request("SHFE.rb2605", { limit_price: 3075.5 }), WED_10), deps)),
      "PRICE_TICK",
    );
  }
  ok(checkAll(context(request("SHFE.rb2605"), WED_10), deps));
  const d = checkAll(context(request("SHFE.rb2605"), WED_10 + 999), deps);
  assertEquals(code(d), "INSERT_RATE");
  ok(checkAll(context(request("SHFE.rb2605"), WED_10 + 1000), deps));
});

Deno.test("checkAll: the burst monitor adds a warning at the 10th action of a second", () => {
  const burstMonitor = new BurstMonitor();
  for (let i = 0; i < 9; i++) burstMonitor.record(WED_10);
  const d = checkAll(context(request("SHFE.rb2605"), WED_10 + 10), { ...DEPS, burstMonitor });
  assert(d.ok);
  assertEquals(d.warnings?.length, 1);
  assertMatch(d.warnings![0], /^10 inserts \+ cancels in one second/);
});

/** One scenario per code: every RejectCode can be produced (through checkAll where it can reach it). */
Deno.test("every RejectCode is produced by some rule, with its field", () => {
  const rb = instrument("SHFE.rb2605");
  const noRate = () =>
    new RateLimiter({ insert_rate_per_s: 1, insert_burst: 1, cancel_rate_per_s: 1, cancel_burst: 1 });
  const spent = noRate();
  spent.tryInsert(WED_10);
  spent.tryCancel(WED_10);
  const counter = new CancelCounter({ warnAt: 1, limit: 1 });
  counter.record("SHFE.rb2605", "20251224");
  const inserts: [RejectCode, string, OrderContext, Partial<CheckAllDeps>?][] = [
    ["UNKNOWN_SYMBOL", "symbol", context(request("SHFE.xx9999"), WED_10)],
    ["EXPIRED", "symbol", context(request("SHFE.rb2605"), WED_10, { instrument: { ...rb, expired: true } })],
    [
      "NOT_FUTURE",
      "symbol",
      context(request("SHFE.rb2605"), WED_10, { instrument: { ...rb, class: "OPTION" } }),
    ],
    ["NO_QUOTE", "symbol", context(request("SHFE.rb2605"), WED_10, { quote: undefined })],
    ["PRICE_TICK", "limit_price", context(request("SHFE.rb2605", { limit_price: 3075.5 }), WED_10)],
    ["PRICE_LIMIT", "limit_price", context(request("SHFE.rb2605", { limit_price: 3176 }), WED_10)],
    ["VOLUME_RANGE", "volume", context(request("SHFE.rb2605", { volume: 0 }), WED_10)],
    ["MARKET_NOT_ALLOWED", "price_type", context(marketRequest("SHFE.rb2605"), WED_10)],
    [
      "FOK_NOT_ALLOWED",
      "volume_condition",
      context(request("CZCE.SR605", { time_condition: "IOC", volume_condition: "ALL" }), WED_10),
    ],
    ["OUTSIDE_SESSION", "symbol", context(request("SHFE.rb2605"), bj("2025-12-24 12:00:00"))],
    ["STALE_REQUEST", "timestamp", context(request("SHFE.rb2605", { timestamp_ms: WED_10 - 5001 }), WED_10)],
    ["MAX_ORDER_VOLUME", "volume", context(request("SHFE.rb2605", { volume: 101 }), WED_10)],
    ["MAX_ORDER_NOTIONAL", "volume", context(request("SHFE.rb2605", { volume: 100 }), WED_10), {
      limits: { ...LIMITS, max_order_notional: 1_000_000 },
    }],
    [
      "MAX_POSITION",
      "volume",
      context(request("SHFE.rb2605", { volume: 10 }), WED_10, {
        position: position("SHFE.rb2605", 480, 0),
        workingOrders: [workingOrder("SHFE.rb2605", { direction: "BUY", volume_left: 15 })],
      }),
    ],
    ["INSERT_RATE", "$", context(request("SHFE.rb2605"), WED_10), { rateLimiter: spent }],
  ];
  const seen = new Set<RejectCode>();
  for (const [expected, field, ctx, deps] of inserts) {
    const d = checkAll(ctx, { ...DEPS, ...deps });
    assert(!d.ok, `${expected}: passed`);
    assertEquals([d.refusal.code, d.refusal.field], [expected, field], expected);
    seen.add(d.refusal.code);
  }
  // checkAll refuses options as NOT_FUTURE first; the matrix rule itself still knows FAK restrictions.
  const fak = checkOrderType(context(request("SHFE.rb2605", { time_condition: "IOC" }), WED_10, {
    instrument: { ...rb, exchange_id: "SSE", class: "OPTION" },
  }));
  assertEquals(code(fak), "FAK_NOT_ALLOWED");
  seen.add("FAK_NOT_ALLOWED");
  const cancelCtx = { symbol: "SHFE.rb2605", tradingDay: "20251224", nowMs: WED_10 };
  const cancels: [RejectCode, Decision][] = [
    ["CANCEL_RATE", checkCancel(cancelCtx, { rateLimiter: spent })],
    ["CANCEL_LIMIT", checkCancel(cancelCtx, { cancelCounter: counter, rateLimiter: noRate() })],
  ];
  for (const [expected, d] of cancels) {
    assertEquals(code(d), expected);
    seen.add(expected);
  }
  assertEquals([...seen].sort(), [...REJECT_CODES].sort());
});

Deno.test("checkCancel: the count is checked before the rate, and a refused count spends no token", () => {
  const rateLimiter = new RateLimiter({
    insert_rate_per_s: 1,
    insert_burst: 1,
    cancel_rate_per_s: 1,
    cancel_burst: 1,
  });
  const cancelCounter = new CancelCounter({ warnAt: 1, limit: 1 });
  const ctx = { symbol: "SHFE.rb2605", tradingDay: "20251224", nowMs: WED_10 };
  const first = checkCancel(ctx, { rateLimiter, cancelCounter });
  assert(first.ok);
  assertEquals(first.warnings?.length, 1); // cancel 1 ≥ warnAt 1
  cancelCounter.record(ctx.symbol, ctx.tradingDay);
  assertEquals(
    code(checkCancel({ ...ctx, nowMs: WED_10 + 5000 }, { rateLimiter, cancelCounter })),
    "CANCEL_LIMIT",
  );
  // The refused cancel did not spend the token refilled meanwhile; another contract may use it.
  ok(checkCancel({ ...ctx, symbol: "SHFE.rb2606", nowMs: WED_10 + 5000 }, { rateLimiter, cancelCounter }));
  assertEquals(checkCancel(ctx, {}), { ok: true });
});

Deno.test("PreTradeRules: built from the parsed risk config, per-symbol limits from risk.symbols", () => {
  const risk: RiskRulesConfig = parseConfig(
    "risk: {insert_burst: 2, insert_rate_per_s: 1, cancel_limit_per_contract: 3, cancel_warn_per_contract: 2, " +
      "symbols: {SHFE.rb: {max_order_volume: 5}}}",
    "t",
    { env: {} },
  ).risk;
  const rules = new PreTradeRules(risk);
  const d = rules.checkInsert(context(request("SHFE.rb2605", { volume: 6 }), WED_10));
  assert(!d.ok);
  assertEquals(
    d.refusal.message,
    'volume 6 is above max_order_volume 5 from risk.symbols["SHFE.rb"] (SHFE.rb2605)',
  );
  ok(rules.checkInsert(context(request("DCE.m2605", { volume: 6 }), WED_10)));
  ok(rules.checkInsert(context(request("SHFE.rb2605", { volume: 5 }), WED_10)));
  assertEquals(code(rules.checkInsert(context(request("SHFE.rb2605"), WED_10))), "INSERT_RATE"); // burst 2 spent
  // An order passed but not sent after all gives its token back: the next one passes, then none.
  rules.refundInsert();
  ok(rules.checkInsert(context(request("SHFE.rb2605"), WED_10)));
  assertEquals(code(rules.checkInsert(context(request("SHFE.rb2605"), WED_10))), "INSERT_RATE");
  // Stale requests per max_request_age_ms (default 5000).
  assertEquals(
    code(rules.checkInsert(context(request("SHFE.rb2605", { timestamp_ms: WED_10 - 5001 }), WED_10 + 2000))),
    "STALE_REQUEST",
  );
  // Cancels: warn from 2, refuse after 3; recordCancel counts and feeds the burst monitor.
  const c = { symbol: "SHFE.rb2605", tradingDay: "20251224", nowMs: WED_10 };
  for (let i = 1; i <= 3; i++) {
    const d = rules.checkCancel({ ...c, nowMs: WED_10 + i * 1000 });
    assert(d.ok, `cancel ${i}`);
    assertEquals(d.warnings?.length ?? 0, i >= 2 ? 1 : 0, `cancel ${i}`);
    assertEquals(rules.recordCancel({ ...c, nowMs: WED_10 + i * 1000 }), i);
  }
  assertEquals(code(rules.checkCancel({ ...c, nowMs: WED_10 + 10_000 })), "CANCEL_LIMIT");
  rules.recordInsert(WED_10);
  assertEquals(rules.burstStats().actions_today, 4);
  assertEquals(rules.burstStats().trading_day, "20251224");
});

Deno.test("PreTradeRules.restoreCancelCounts: counts of an earlier run refuse at the same count, merged without double counting", () => {
  const risk: RiskRulesConfig = parseConfig(
    "risk: {cancel_limit_per_contract: 3, cancel_warn_per_contract: 2}",
    "t",
    { env: {} },
  ).risk;
  const c = { symbol: "SHFE.rb2605", tradingDay: "20251224", nowMs: WED_10 };
  const rules = new PreTradeRules(risk);
  rules.restoreCancelCounts({ "20251224": { "SHFE.rb2605": 2, "SHFE.au2606": 3 } });
  const third = rules.checkCancel(c);
  assert(third.ok);
  assertEquals(third.warnings?.length, 1); // cancel 3 ≥ warn 2
  assertEquals(rules.recordCancel(c), 3);
  assertEquals(code(rules.checkCancel(c)), "CANCEL_LIMIT");
  assertEquals(code(rules.checkCancel({ ...c, symbol: "SHFE.au2606" })), "CANCEL_LIMIT");
  // The same counts again (a takeover) change nothing; a lower count never lowers ours.
  rules.restoreCancelCounts({ "20251224": { "SHFE.rb2605": 2, "SHFE.au2606": 3 } });
  assertEquals(rules.cancelCounter.count("SHFE.rb2605", "20251224"), 3);
  ok(rules.checkCancel({ ...c, tradingDay: "20251225" }));
});
