import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../tests/assert.ts";
import type { InsertOrderPacket, InstrumentInfo, Order, Quote } from "../diff/types.ts";
import { type EngineDeps, type EngineEvent, matchOrder, SimEngine, type TradePatch } from "./engine.ts";

// ---- fakes: a small instrument table, hand-set quotes, a controllable clock ----

const T0 = Date.UTC(2025, 11, 24, 2, 0, 0); // 2025-12-24 10:00 Beijing

function instrument(symbol: string, over: Partial<InstrumentInfo>): InstrumentInfo {
  const [exchange, code] = symbol.split(".");
  return {
    class: "FUTURE",
    instrument_id: symbol,
    exchange_id: exchange,
    ins_id: code,
    ins_name: code,
    product_id: code.replace(/\d+$/, ""),
    price_tick: 1,
    price_decs: 0,
    volume_multiple: 10,
    expired: false,
    expire_datetime: T0 / 1000 + 86400 * 200,
    margin: 4000,
    commission: 2.5,
    max_limit_order_volume: 500,
    max_market_order_volume: 0,
    trading_time: { day: [["09:00:00", "15:00:00"]], night: [] },
    ...over,
  };
}

const INSTRUMENTS: Record<string, InstrumentInfo> = {
  "SHFE.rb2605": instrument("SHFE.rb2605", {}),
  "DCE.m2609": instrument("DCE.m2609", { margin: 3000, commission: 1.51, max_market_order_volume: 1000 }),
  "DCE.m2605": instrument("DCE.m2605", { margin: 3000, commission: 1.51, max_market_order_volume: 1000 }),
  "DCE.m2501": instrument("DCE.m2501", { expired: true }),
  "CFFEX.IF2606": instrument("CFFEX.IF2606", {
    price_tick: 0.2,
    price_decs: 1,
    volume_multiple: 300,
    margin: 150000,
    commission: 23.4,
    max_limit_order_volume: 20,
    max_market_order_volume: 10,
  }),
  "CZCE.MA609": instrument("CZCE.MA609", { max_market_order_volume: 0 }),
  "SHFE.cu2605C80000": instrument("SHFE.cu2605C80000", { class: "OPTION" }),
};

interface Book {
  last?: number;
  ask?: number;
  bid?: number;
  upper?: number;
  lower?: number;
}

function makeQuote(symbol: string, b: Book): Quote {
  const v = (x: number | undefined) => x ?? "-";
  return {
    instrument_id: symbol,
    datetime: "2025-12-24 10:00:00.000000",
    last_price: v(b.last),
    ask_price1: v(b.ask),
    ask_volume1: b.ask === undefined ? "-" : 10,
    bid_price1: v(b.bid),
    bid_volume1: b.bid === undefined ? "-" : 10,
    highest: "-",
    lowest: "-",
    open: "-",
    close: "-",
    average: "-",
    volume: 0,
    amount: 0,
    open_interest: 0,
    settlement: "-",
    upper_limit: v(b.upper),
    lower_limit: v(b.lower),
    pre_open_interest: 0,
    pre_settlement: "-",
    pre_close: "-",
  };
}

interface Harness {
  engine: SimEngine;
  deps: EngineDeps;
  events: EngineEvent[];
  quotes: Map<string, Quote>;
  clock: { now: number; inSession: boolean; day: string };
  setQuote(symbol: string, b: Book): void;
  insert(p: Partial<InsertOrderPacket> & { order_id: string }): void;
  order(id: string): Order;
  take(): EngineEvent[];
}

function harness(balance = 1_000_000): Harness {
  const quotes = new Map<string, Quote>();
  const clock = { now: T0, inSession: true, day: "20251224" };
  const deps: EngineDeps = {
    instrument: (s) => INSTRUMENTS[s],
    quote: (s) => quotes.get(s),
    nowMs: () => clock.now,
    inSession: () => clock.inSession,
    tradingDay: () => clock.day,
  };
  const engine = new SimEngine(deps, { accounts: [{ user: "demo", password: "pw", balance }] });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  const h: Harness = {
    engine,
    deps,
    events,
    quotes,
    clock,
    setQuote(symbol, b) {
      quotes.set(symbol, makeQuote(symbol, { upper: 99999, lower: 1, ...b }));
    },
    insert(p) {
      engine.insertOrder("demo", {
        aid: "insert_order",
        user_id: "demo",
        exchange_id: "SHFE",
        instrument_id: "rb2605",
        direction: "BUY",
        offset: "OPEN",
        volume: 1,
        price_type: "LIMIT",
        limit_price: 3500,
        volume_condition: "ANY",
        time_condition: "GFD",
        ...p,
      });
    },
    order: (id) => engine.snapshot("demo").orders[id],
    take() {
      return events.splice(0, events.length);
    },
  };
  return h;
}

function notifies(events: EngineEvent[]): [number, string, string][] {
  return events.flatMap((e) =>
    e.kind === "notify" ? [[e.notify.code, e.notify.level, e.notify.content]] : []
  ) as [
    number,
    string,
    string,
  ][];
}

function patches(events: EngineEvent[]): TradePatch[] {
  return events.flatMap((e) => e.kind === "trade" ? [e.patch] : []);
}

function account(h: Harness) {
  return h.engine.snapshot("demo").accounts.CNY;
}

function position(h: Harness, symbol: string) {
  return h.engine.snapshot("demo").positions[symbol];
}

/** Fill a BUY (or SELL) OPEN right away by quoting a crossing book. */
function openFilled(
  h: Harness,
  id: string,
  symbol: string,
  direction: "BUY" | "SELL",
  volume: number,
  price: number,
) {
  const [exchange_id, instrument_id] = symbol.split(".");
  h.setQuote(symbol, { last: price, ask: price, bid: price });
  h.insert({
    order_id: id,
    exchange_id,
    instrument_id,
    direction,
    offset: "OPEN",
    volume,
    limit_price: price,
  });
  assertEquals(h.order(id).last_msg, "全部成交");
}

// ---- login & snapshot ----

Deno.test("checkLogin: ok, wrong password 402, unknown user 403", () => {
  const h = harness();
  assertEquals(h.engine.checkLogin("demo", "pw"), { ok: true });
  assertEquals(h.engine.checkLogin("demo", "nope"), { ok: false, code: 402, content: "账户和密码不匹配!" });
  assertEquals(h.engine.checkLogin("ghost", "pw"), { ok: false, code: 403, content: "用户登录失败!" });
  assert(h.engine.hasUser("demo"));
  assert(!h.engine.hasUser("ghost"));
});

Deno.test("snapshot: full subtree with trade_more_data false, a deep copy", () => {
  const h = harness(500000);
  const s = h.engine.snapshot("demo");
  assertEquals(s.user_id, "demo");
  assertEquals(s.trading_day, "20251224");
  assertEquals(s.trade_more_data, false);
  assertEquals(s.session, { user_id: "demo", trading_day: "20251224" });
  assertEquals(s.accounts.CNY.balance, 500000);
  assertEquals(s.accounts.CNY.available, 500000);
  assertEquals(s.accounts.CNY.static_balance, 500000);
  assertEquals(s.positions, {});
  assertEquals(s.orders, {});
  assertEquals(s.trades, {});
  s.accounts.CNY.balance = 1;
  assertEquals(h.engine.snapshot("demo").accounts.CNY.balance, 500000);
  assertThrows(() => h.engine.snapshot("ghost"));
});

// ---- events ----

Deno.test("events: an accepted insert emits notify 417 then one trade patch with the order and account", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3502, bid: 3500 });
  h.insert({ order_id: "o1", limit_price: 3501, volume: 2 });
  const ev = h.take();
  assertEquals(ev.length, 2);
  assertEquals(ev[0], {
    kind: "notify",
    user: "demo",
    notify: { type: "MESSAGE", level: "INFO", code: 417, content: "下单成功" },
  });
  assert(ev[1].kind === "trade");
  const patch = ev[1].patch;
  assertEquals(Object.keys(patch).sort(), ["accounts", "orders"]);
  const o = patch.orders!.o1;
  assertEquals(o.status, "ALIVE");
  assertEquals(o.exchange_order_id, "o1");
  assertEquals(o.last_msg, "报单成功");
  assertEquals(o.insert_date_time, T0 * 1e6);
  assertEquals(o.volume_orign, 2);
  assertEquals(o.volume_left, 2);
  assertEquals(o.limit_price, 3501);
  assertEquals(o.frozen_margin, 8000);
  assertEquals(patch.accounts!.CNY.frozen_margin, 8000);
  assertEquals(patch.accounts!.CNY.available, 992000);
  // whole objects: the account carries every field
  assertEquals(patch.accounts!.CNY.balance, 1_000_000);
  assertEquals(patch.accounts!.CNY.user_id, "demo");
});

Deno.test("events: a rejected insert emits a WARNING notify then a patch with only the FINISHED order", () => {
  const h = harness();
  h.insert({ order_id: "bad", volume: 0 });
  const ev = h.take();
  assertEquals(notifies(ev), [[411, "WARNING", "下单, 已被服务器拒绝, 原因:下单手数应该大于0"]]);
  assertEquals(ev.length, 2);
  const p = patches(ev)[0];
  assertEquals(Object.keys(p), ["orders"]);
  assertEquals(p.orders!.bad.status, "FINISHED");
  assertEquals(p.orders!.bad.exchange_order_id, "");
  assertEquals(p.orders!.bad.last_msg, "下单手数应该大于0");
});

Deno.test("subscribe: the returned function unsubscribes", () => {
  const h = harness();
  const seen: EngineEvent[] = [];
  const off = h.engine.subscribe((e) => seen.push(e));
  h.insert({ order_id: "a", volume: 0 });
  off();
  h.insert({ order_id: "b", volume: 0 });
  assertEquals(seen.length, 2);
});

// ---- matching ----

Deno.test("match: resting BUY LIMIT fills at its own price when the ask comes down to it", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "o1", limit_price: 3500, volume: 2 });
  assertEquals(h.order("o1").status, "ALIVE");
  h.take();
  h.setQuote("SHFE.rb2605", { last: 3499, ask: 3498, bid: 3497 });
  h.engine.onQuote("SHFE.rb2605");
  const ev = h.take();
  assertEquals(notifies(ev), [[406, "INFO", "成交通知,合约:SHFE.rb2605,手数:2"]]);
  const ps = patches(ev);
  assertEquals(ps.length, 1);
  const p = ps[0];
  assertEquals(p.orders!.o1.status, "FINISHED");
  assertEquals(p.orders!.o1.last_msg, "全部成交");
  assertEquals(p.orders!.o1.volume_left, 0);
  assertEquals(p.orders!.o1.frozen_margin, 0);
  const t = p.trades!["o1|2"];
  assertEquals(t.trade_id, "o1|2");
  assertEquals(t.exchange_trade_id, "o1|2");
  assertEquals(t.price, 3500); // own limit price, not the better ask 3498
  assertEquals(t.volume, 2);
  assertEquals(t.commission, 5);
  assertEquals(t.trade_date_time, T0 * 1e6);
  const pos = p.positions!["SHFE.rb2605"];
  assertEquals(pos.volume_long_today, 2);
  assertEquals(pos.volume_long, 2);
  assertEquals(pos.pos_long_today, 2);
  assertEquals(pos.open_cost_long, 70000);
  assertEquals(pos.open_price_long, 3500);
  assertEquals(pos.last_price, 3499);
  assertEquals(pos.float_profit_long, -20); // (3499 - 3500) * 2 * 10
  assertEquals(pos.margin_long, 8000);
  const a = p.accounts!.CNY;
  assertEquals(a.frozen_margin, 0);
  assertEquals(a.margin, 8000);
  assertEquals(a.commission, 5);
  assertEquals(a.balance, 999975); // 1e6 - 5 - 20
  assertEquals(a.available, 991975);
});

Deno.test("match: marketable LIMIT fills immediately at its limit; market order at the counter price", () => {
  const h = harness();
  h.setQuote("DCE.m2609", { last: 3005, ask: 3005, bid: 3004 });
  h.insert({ order_id: "l", exchange_id: "DCE", instrument_id: "m2609", limit_price: 3010 });
  const ev = h.take();
  assertEquals(notifies(ev).map((n) => n[0]), [417, 406]);
  assertEquals(patches(ev).length, 1);
  assertEquals(h.order("l").status, "FINISHED");
  assertEquals(h.engine.snapshot("demo").trades["l|1"].price, 3010);
  h.insert({
    order_id: "m",
    exchange_id: "DCE",
    instrument_id: "m2609",
    direction: "SELL",
    offset: "CLOSE",
    price_type: "ANY",
    limit_price: null,
    time_condition: "IOC",
  });
  assertEquals(h.order("m").last_msg, "全部成交");
  assertEquals(h.order("m").limit_price, 0);
  assertEquals(h.engine.snapshot("demo").trades["m|1"].price, 3004);
});

Deno.test("match: IOC LIMIT that cannot fill now is cancelled with 已撤单报单已提交", () => {
  const h = harness();
  h.setQuote("DCE.m2609", { last: 3005, ask: 3005, bid: 3004 });
  h.insert({
    order_id: "fak",
    exchange_id: "DCE",
    instrument_id: "m2609",
    limit_price: 3000,
    time_condition: "IOC",
  });
  const o = h.order("fak");
  assertEquals(o.status, "FINISHED");
  assertEquals(o.last_msg, "已撤单报单已提交");
  assertEquals(o.volume_left, 1);
  assertEquals(o.exchange_order_id, "fak");
  assertEquals(account(h).frozen_margin, 0);
  assertEquals(account(h).available, 1_000_000);
  assertEquals(h.engine.snapshot("demo").trades, {});
});

Deno.test("match: market order with no counter-party is cancelled with 市价指令剩余撤销", () => {
  const h = harness();
  h.setQuote("DCE.m2609", { last: 3005, bid: 3004 }); // limit-up: no ask
  h.insert({
    order_id: "mk",
    exchange_id: "DCE",
    instrument_id: "m2609",
    price_type: "ANY",
    limit_price: null,
    time_condition: "IOC",
  });
  const o = h.order("mk");
  assertEquals(o.status, "FINISHED");
  assertEquals(o.last_msg, "市价指令剩余撤销");
  assertEquals(o.volume_left, 1);
  assertEquals(account(h).available, 1_000_000);
});

Deno.test("matchOrder: SELL LIMIT fills at or below bid only; float noise does not matter", () => {
  const base = {
    direction: "SELL",
    price_type: "LIMIT",
    time_condition: "GFD",
  } as Order;
  const q = makeQuote("CFFEX.IF2606", { last: 3500.2, ask: 3500.4, bid: 3500.2 });
  assertEquals(matchOrder({ ...base, limit_price: 3500.2 }, q, 0.2), { status: "FILLED", price: 3500.2 });
  assertEquals(matchOrder({ ...base, limit_price: 3500.4 }, q, 0.2), { status: "ALIVE" });
  const noisy = makeQuote("CFFEX.IF2606", { last: 1, ask: 0.1 + 0.2, bid: 0.1 });
  assertEquals(matchOrder({ ...base, direction: "BUY", limit_price: 0.3 }, noisy, 0.1).status, "FILLED");
});

// ---- cancel ----

Deno.test("cancel: ALIVE order → FINISHED 已撤单, 419, frozen margin released; again → 420", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "o1", limit_price: 3490, volume: 3 });
  assertEquals(account(h).frozen_margin, 12000);
  h.take();
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "o1" });
  const ev = h.take();
  assertEquals(notifies(ev), [[419, "INFO", "撤单成功"]]);
  const p = patches(ev)[0];
  assertEquals(p.orders!.o1.status, "FINISHED");
  assertEquals(p.orders!.o1.last_msg, "已撤单");
  assertEquals(p.orders!.o1.volume_left, 3);
  assertEquals(p.orders!.o1.frozen_margin, 0);
  assertEquals(p.accounts!.CNY.frozen_margin, 0);
  assertEquals(p.accounts!.CNY.available, 1_000_000);
  // cancelling a FINISHED order is refused like an unknown one
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "o1" });
  assertEquals(h.take(), [{
    kind: "notify",
    user: "demo",
    notify: { type: "MESSAGE", level: "WARNING", code: 420, content: "要撤销的单不存在" },
  }]);
});

Deno.test("cancel: unknown id → 420, wrong user prefix → 418, no state change", () => {
  const h = harness();
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "nope" });
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "other", order_id: "nope" });
  const ev = h.take();
  assertEquals(notifies(ev), [
    [420, "WARNING", "要撤销的单不存在"],
    [418, "WARNING", "撤单,已被服务器拒绝,原因:撤单指令中的用户名错误"],
  ]);
  assertEquals(patches(ev), []);
});

// ---- rejections, one each ----

function rejected(h: Harness, id: string, code: number, content: string, lastMsg: string) {
  const ev = h.take();
  assertEquals(notifies(ev), [[code, "WARNING", content]]);
  const o = h.order(id);
  assertEquals(o.status, "FINISHED");
  assertEquals(o.last_msg, lastMsg);
  assertEquals(o.exchange_order_id, "");
  assertEquals(o.volume_left, o.volume_orign);
  assertEquals(o.frozen_margin, 0);
}

Deno.test("reject 407: duplicate order_id leaves the existing order untouched", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "o1", limit_price: 3490 });
  const before = h.order("o1");
  h.take();
  h.insert({ order_id: "o1", limit_price: 3501, volume: 5, direction: "SELL" });
  assertEquals(notifies(h.take()), [[407, "WARNING", "下单, 已被服务器拒绝,原因:单号重复"]]);
  assertEquals(h.order("o1"), before);
  assertEquals(h.events.length, 0);
});

Deno.test("reject 408: user_id not starting with the login user; a sub-unit id passes", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "x", user_id: "someone" });
  rejected(h, "x", 408, "下单, 已被服务器拒绝, 原因:下单指令中的用户名错误", "下单指令中的用户名错误");
  assertEquals(h.order("x").user_id, "someone");
  h.insert({ order_id: "y", user_id: "demo.unit1", limit_price: 3490 });
  assertEquals(h.order("y").status, "ALIVE");
});

Deno.test("reject 409: unknown or expired instrument", () => {
  const h = harness();
  h.insert({ order_id: "u", exchange_id: "SHFE", instrument_id: "zz9999" });
  rejected(h, "u", 409, "下单, 已被服务器拒绝, 原因:合约不合法", "合约不合法");
  h.insert({ order_id: "e", exchange_id: "DCE", instrument_id: "m2501" });
  rejected(h, "e", 409, "下单, 已被服务器拒绝, 原因:合约不合法", "合约不合法");
});

Deno.test("reject 410: not a future", () => {
  const h = harness();
  h.insert({ order_id: "opt", instrument_id: "cu2605C80000", limit_price: 100 });
  rejected(h, "opt", 410, "下单, 已被服务器拒绝, 原因:模拟交易只支持期货合约", "模拟交易只支持期货合约");
});

Deno.test("reject 411: volume not a positive integer", () => {
  const h = harness();
  h.insert({ order_id: "z", volume: 0 });
  rejected(h, "z", 411, "下单, 已被服务器拒绝, 原因:下单手数应该大于0", "下单手数应该大于0");
  h.insert({ order_id: "f", volume: 1.5 });
  rejected(h, "f", 411, "下单, 已被服务器拒绝, 原因:下单手数应该大于0", "下单手数应该大于0");
});

Deno.test("reject 412: price not a tick multiple (0.2 tick); an exact multiple passes", () => {
  const h = harness();
  h.setQuote("CFFEX.IF2606", { last: 3500, ask: 3600, bid: 3400 });
  const p = { exchange_id: "CFFEX", instrument_id: "IF2606" };
  h.insert({ order_id: "bad", ...p, limit_price: 3500.3 });
  rejected(
    h,
    "bad",
    412,
    "下单,已被服务器拒绝, 原因:下单价格不是价格单位的整倍数",
    "下单价格不是价格单位的整倍数",
  );
  h.insert({ order_id: "ok", ...p, limit_price: 3500.2 });
  assertEquals(h.order("ok").status, "ALIVE");
  h.insert({ order_id: "ok2", ...p, limit_price: 0.1 + 0.2 + 3499.9 }); // 3500.2000000000003
  assertEquals(h.order("ok2").status, "ALIVE");
  h.insert({ order_id: "nullprice", ...p, limit_price: null });
  assertEquals(h.order("nullprice").last_msg, "下单价格不是价格单位的整倍数");
});

Deno.test("reject 404/405: outside the limit band; exactly upper/lower limit passes", () => {
  const h = harness();
  h.quotes.set(
    "SHFE.rb2605",
    makeQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500, upper: 3700, lower: 3300 }),
  );
  h.insert({ order_id: "hi", limit_price: 3701 });
  rejected(
    h,
    "hi",
    404,
    "下单,已被服务器拒绝,原因:已撤单报单被拒绝价格超出涨停板",
    "已撤单报单被拒绝价格超出涨停板",
  );
  h.insert({ order_id: "lo", direction: "SELL", limit_price: 3299 });
  rejected(
    h,
    "lo",
    405,
    "下单,已被服务器拒绝,原因:已撤单报单被拒绝价格跌破跌停板",
    "已撤单报单被拒绝价格跌破跌停板",
  );
  h.insert({ order_id: "up", limit_price: 3700 });
  assertEquals(h.order("up").last_msg, "全部成交");
  h.insert({ order_id: "down", direction: "SELL", limit_price: 3300 });
  assertEquals(h.order("down").last_msg, "全部成交");
});

Deno.test("reject 412: market orders on SHFE, and where max_market_order_volume is 0", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "a", price_type: "ANY", limit_price: null, time_condition: "IOC" });
  rejected(h, "a", 412, "下单,已被服务器拒绝,原因:交易所不支持市价单", "交易所不支持市价单");
  h.insert({
    order_id: "b",
    exchange_id: "CZCE",
    instrument_id: "MA609",
    price_type: "ANY",
    limit_price: null,
    time_condition: "IOC",
  });
  rejected(h, "b", 412, "下单,已被服务器拒绝,原因:该合约不支持市价单", "该合约不支持市价单");
});

Deno.test("reject 411: volume above max_limit_order_volume; exactly the max passes", () => {
  const h = harness(100_000_000);
  h.setQuote("CFFEX.IF2606", { last: 3500, ask: 3600, bid: 3400 });
  h.insert({ order_id: "big", exchange_id: "CFFEX", instrument_id: "IF2606", volume: 21 });
  rejected(
    h,
    "big",
    411,
    "下单,已被服务器拒绝,原因:下单手数超过单笔最大下单手数",
    "下单手数超过单笔最大下单手数",
  );
  h.insert({ order_id: "max", exchange_id: "CFFEX", instrument_id: "IF2606", volume: 20 });
  assertEquals(h.order("max").status, "ALIVE");
});

Deno.test("reject 333: outside trading sessions, TqSim text", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.clock.inSession = false;
  h.insert({ order_id: "night" });
  rejected(
    h,
    "night",
    333,
    "下单,已被服务器拒绝,原因:下单失败, 不在可交易时间段内",
    "下单失败, 不在可交易时间段内",
  );
});

Deno.test("reject 413: open margin above available; exactly available passes", () => {
  const h = harness(12000);
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "four", volume: 4, limit_price: 3490 });
  rejected(h, "four", 413, "下单,已被服务器拒绝,原因:开仓保证金不足", "开仓资金不足");
  h.insert({ order_id: "three", volume: 3, limit_price: 3490 });
  assertEquals(h.order("three").status, "ALIVE");
  assertEquals(account(h).available, 0);
  h.insert({ order_id: "one", volume: 1, limit_price: 3490 });
  assertEquals(h.order("one").last_msg, "开仓资金不足");
});

Deno.test("reject 414/415/416: close volumes with no position", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.setQuote("DCE.m2609", { last: 3000, ask: 3001, bid: 3000 });
  h.insert({ order_id: "ct", direction: "SELL", offset: "CLOSETODAY" });
  rejected(h, "ct", 414, "下单,已被服务器拒绝,原因:平今手数超过今仓持仓量", "平今仓手数不足");
  h.insert({ order_id: "cy", direction: "SELL", offset: "CLOSE" });
  rejected(h, "cy", 415, "下单,已被服务器拒绝,原因:平昨手数超过昨仓持仓量", "平昨仓手数不足");
  h.insert({ order_id: "c", exchange_id: "DCE", instrument_id: "m2609", direction: "BUY", offset: "CLOSE" });
  rejected(h, "c", 416, "下单,已被服务器拒绝,原因:平仓手数超过持仓量", "平仓手数不足");
});

// ---- positions ----

Deno.test("SHFE: close today vs yesterday, net of lots frozen by pending closes", () => {
  const h = harness();
  openFilled(h, "o1", "SHFE.rb2605", "BUY", 3, 3500);
  h.engine.settle(); // 3 his lots
  openFilled(h, "o2", "SHFE.rb2605", "BUY", 2, 3500); // + 2 today lots
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  const sell = { direction: "SELL" as const, limit_price: 3600 }; // rests
  h.insert({ order_id: "c1", ...sell, offset: "CLOSE", volume: 2 });
  assertEquals(h.order("c1").status, "ALIVE");
  let p = position(h, "SHFE.rb2605");
  assertEquals([p.volume_long_frozen_his, p.volume_long_frozen_today, p.volume_long_frozen], [2, 0, 2]);
  h.take();
  h.insert({ order_id: "c2", ...sell, offset: "CLOSE", volume: 2 });
  rejected(h, "c2", 415, "下单,已被服务器拒绝,原因:平昨手数超过昨仓持仓量", "平昨仓手数不足");
  h.insert({ order_id: "c3", ...sell, offset: "CLOSE", volume: 1 });
  assertEquals(h.order("c3").status, "ALIVE");
  h.take();
  h.insert({ order_id: "c4", ...sell, offset: "CLOSETODAY", volume: 3 });
  rejected(h, "c4", 414, "下单,已被服务器拒绝,原因:平今手数超过今仓持仓量", "平今仓手数不足");
  h.insert({ order_id: "c5", ...sell, offset: "CLOSETODAY", volume: 2 });
  assertEquals(h.order("c5").status, "ALIVE");
  p = position(h, "SHFE.rb2605");
  assertEquals([p.volume_long_frozen_his, p.volume_long_frozen_today, p.volume_long_frozen], [3, 2, 5]);
  // cancelling c1 releases exactly its 2 his lots
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "c1" });
  p = position(h, "SHFE.rb2605");
  assertEquals([p.volume_long_frozen_his, p.volume_long_frozen_today, p.volume_long_frozen], [1, 2, 3]);
  // c5 fills on a quote: takes today lots only
  h.setQuote("SHFE.rb2605", { last: 3600, ask: 3601, bid: 3600 });
  h.engine.onQuote("SHFE.rb2605");
  p = position(h, "SHFE.rb2605");
  assertEquals(h.order("c5").last_msg, "全部成交");
  assertEquals(h.order("c3").last_msg, "全部成交");
  assertEquals([p.volume_long_his, p.volume_long_today, p.volume_long], [2, 0, 2]);
  assertEquals([p.volume_long_frozen_his, p.volume_long_frozen_today], [0, 0]);
});

Deno.test("DCE: a close takes his lots first, then today; frozen lots block further closes (416)", () => {
  const h = harness();
  openFilled(h, "o1", "DCE.m2609", "SELL", 2, 3000); // short
  h.engine.settle();
  openFilled(h, "o2", "DCE.m2609", "SELL", 1, 3000);
  let p = position(h, "DCE.m2609");
  assertEquals([p.volume_short_his, p.volume_short_today], [2, 1]);
  h.setQuote("DCE.m2609", { last: 3000, ask: 3001, bid: 3000 });
  h.insert({
    order_id: "rest",
    exchange_id: "DCE",
    instrument_id: "m2609",
    offset: "CLOSE",
    volume: 3,
    limit_price: 2990,
  });
  p = position(h, "DCE.m2609");
  assertEquals([p.volume_short_frozen_his, p.volume_short_frozen_today], [2, 1]);
  h.take();
  h.insert({ order_id: "more", exchange_id: "DCE", instrument_id: "m2609", offset: "CLOSE", volume: 1 });
  rejected(h, "more", 416, "下单,已被服务器拒绝,原因:平仓手数超过持仓量", "平仓手数不足");
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "rest" });
  h.insert({
    order_id: "one",
    exchange_id: "DCE",
    instrument_id: "m2609",
    offset: "CLOSE",
    volume: 2,
    limit_price: 3001,
  });
  assertEquals(h.order("one").last_msg, "全部成交");
  p = position(h, "DCE.m2609");
  assertEquals([p.volume_short_his, p.volume_short_today, p.volume_short], [0, 1, 1]);
  assertEquals([p.pos_short_his, p.pos_short_today], [0, 1]);
  assertEquals([p.volume_short_frozen_his, p.volume_short_frozen_today], [0, 0]);
});

Deno.test("arithmetic: open 3, revalue, close 2 with commission and close profit to the cent", () => {
  const h = harness();
  h.setQuote("DCE.m2609", { last: 3009, ask: 3010, bid: 3009 });
  const m = { exchange_id: "DCE", instrument_id: "m2609" };
  h.insert({ order_id: "open", ...m, volume: 3, limit_price: 3010 });
  let a = account(h);
  assertEquals(a.commission, 4.53);
  assertEquals(a.float_profit, -30); // (3009 - 3010) * 3 * 10
  assertEquals(a.position_profit, -30);
  assertEquals(a.margin, 9000);
  assertEquals(a.balance, 999965.47);
  assertEquals(a.available, 990965.47);
  h.setQuote("DCE.m2609", { last: 3025, ask: 3026, bid: 3025 });
  h.engine.onQuote("DCE.m2609");
  a = account(h);
  assertEquals(a.float_profit, 450);
  assertEquals(a.balance, 1000445.47);
  h.insert({ order_id: "close", ...m, direction: "SELL", offset: "CLOSE", volume: 2, limit_price: 3025 });
  assertEquals(h.engine.snapshot("demo").trades["close|2"].commission, 3.02);
  a = account(h);
  assertEquals(a.close_profit, 300); // (3025 - 3010) * 2 * 10
  assertEquals(a.commission, 7.55);
  assertEquals(a.position_profit, 150);
  assertEquals(a.float_profit, 150);
  assertEquals(a.margin, 3000);
  assertEquals(a.static_balance, 1_000_000);
  assertEquals(a.pre_balance, 1_000_000);
  assertEquals(a.balance, 1000442.45); // 1e6 + 300 - 7.55 + 150
  assertEquals(a.available, 997442.45);
  assertAlmostEquals(a.risk_ratio, 3000 / 1000442.45, 1e-15);
  const p = position(h, "DCE.m2609");
  assertEquals(p.volume_long, 1);
  assertEquals(p.open_cost_long, 30100);
  assertEquals(p.open_price_long, 3010);
  assertEquals(p.position_cost_long, 30100);
  assertEquals(p.position_price_long, 3010);
  assertEquals(p.float_profit_long, 150);
  assertEquals(p.margin_long, 3000);
  assertEquals(p.last_price, 3025);
});

Deno.test("arithmetic: a quote that changes nothing emits nothing; no position → no event", () => {
  const h = harness();
  h.setQuote("DCE.m2609", { last: 3009, ask: 3010, bid: 3009 });
  h.engine.onQuote("DCE.m2609");
  assertEquals(h.take(), []);
  h.insert({ order_id: "open", exchange_id: "DCE", instrument_id: "m2609", limit_price: 3010 });
  h.take();
  h.engine.onQuote("DCE.m2609");
  assertEquals(h.take(), []);
});

Deno.test("account margin is the bigger side per product (long 2 + short 1 → 2 lots of margin)", () => {
  const h = harness();
  openFilled(h, "l", "DCE.m2609", "BUY", 2, 3000);
  openFilled(h, "s", "DCE.m2605", "SELL", 1, 3000);
  assertEquals(position(h, "DCE.m2609").margin, 6000);
  assertEquals(position(h, "DCE.m2605").margin, 3000);
  assertEquals(account(h).margin, 6000);
  openFilled(h, "s2", "DCE.m2609", "SELL", 2, 3000);
  assertEquals(position(h, "DCE.m2609").margin, 12000);
  assertEquals(account(h).margin, 9000); // short side 3 lots of m > long side 2 lots
});

// ---- settlement ----

Deno.test("settle: cancels GFD orders, rolls today into his at last price, re-bases the account", () => {
  const h = harness();
  openFilled(h, "o1", "SHFE.rb2605", "BUY", 2, 3500);
  h.setQuote("SHFE.rb2605", { last: 3510, ask: 3511, bid: 3510 });
  h.engine.onQuote("SHFE.rb2605");
  h.insert({ order_id: "rest", limit_price: 3400 });
  assertEquals(account(h).balance, 1000195); // 1e6 - 5 + 200
  h.take();
  h.clock.now = T0 + 10 * 3600_000;
  h.clock.day = "20251225";
  h.engine.settle();
  const ev = h.take();
  const ps = patches(ev);
  assertEquals(ps.length, 1);
  assertEquals(notifies(ev), []);
  const patch = ps[0];
  assertEquals(patch.trading_day, "20251225");
  assertEquals(patch.session, { user_id: "demo", trading_day: "20251225" });
  assertEquals(patch.orders!.rest.status, "FINISHED");
  assertEquals(patch.orders!.rest.last_msg, "交易日结束，自动撤销当日有效的委托单（GFD）");
  const p = patch.positions!["SHFE.rb2605"];
  assertEquals([p.volume_long_his, p.volume_long_today, p.pos_long_his, p.pos_long_today], [2, 0, 2, 0]);
  assertEquals(p.volume_long_yd, 2);
  assertEquals(p.position_price_long, 3510);
  assertEquals(p.position_cost_long, 70200);
  assertEquals(p.position_profit_long, 0);
  assertEquals(p.open_price_long, 3500);
  assertEquals(p.float_profit_long, 200);
  const a = patch.accounts!.CNY;
  assertEquals(a.pre_balance, 1000195);
  assertEquals(a.static_balance, 1000195);
  assertEquals(a.close_profit, 0);
  assertEquals(a.commission, 0);
  assertEquals(a.frozen_margin, 0);
  assertEquals(a.position_profit, 0);
  assertEquals(a.balance, 1000195);
  assertEquals(a.available, 1000195 - 8000);
  const s = h.engine.snapshot("demo");
  assertEquals(s.trading_day, "20251225");
  assertEquals(s.orders, {});
  assertEquals(s.trades, {});
  // next day: the price moves, position profit is vs 3510
  h.setQuote("SHFE.rb2605", { last: 3520, ask: 3521, bid: 3520 });
  h.engine.onQuote("SHFE.rb2605");
  assertEquals(position(h, "SHFE.rb2605").position_profit_long, 200);
  assertEquals(position(h, "SHFE.rb2605").float_profit_long, 400);
  assertEquals(account(h).balance, 1000395);
});

// ---- persistence ----

Deno.test("exportState/fromState: JSON round trip keeps the tree and the frozen bookkeeping", () => {
  const h = harness();
  openFilled(h, "o1", "DCE.m2609", "BUY", 3, 3000);
  h.setQuote("DCE.m2609", { last: 3000, ask: 3001, bid: 3000 });
  h.insert({
    order_id: "c",
    exchange_id: "DCE",
    instrument_id: "m2609",
    direction: "SELL",
    offset: "CLOSE",
    volume: 2,
    limit_price: 3100,
  });
  h.insert({ order_id: "op", exchange_id: "DCE", instrument_id: "m2609", limit_price: 2900 });
  const json = JSON.parse(JSON.stringify(h.engine.exportState()));
  const restored = SimEngine.fromState(h.deps, json);
  assertEquals(restored.snapshot("demo"), h.engine.snapshot("demo"));
  assertEquals(restored.checkLogin("demo", "pw"), { ok: true });
  restored.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "c" });
  restored.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "op" });
  const s = restored.snapshot("demo");
  assertEquals(s.positions["DCE.m2609"].volume_long_frozen, 0);
  assertEquals(s.accounts.CNY.frozen_margin, 0);
  // the original is untouched
  assertEquals(h.engine.snapshot("demo").positions["DCE.m2609"].volume_long_frozen, 2);
  assertThrows(() => SimEngine.fromState(h.deps, { version: 99 }));
  const grown = SimEngine.fromState(h.deps, json, {
    accounts: [{ user: "demo", password: "pw", balance: 1 }, { user: "new", password: "x", balance: 5000 }],
  });
  assertEquals(grown.snapshot("demo"), h.engine.snapshot("demo"));
  assertEquals(grown.snapshot("new").accounts.CNY.balance, 5000);
});

Deno.test("insert: order ids that are Object.prototype names are safe", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "constructor", limit_price: 3490 });
  assertEquals(h.order("constructor").status, "ALIVE");
  h.insert({ order_id: "__proto__", limit_price: 3490 });
  assertEquals(notifies(h.take()).at(-1), [407, "WARNING", "下单, 已被服务器拒绝,原因:单号重复"]);
  h.engine.cancelOrder("demo", { aid: "cancel_order", user_id: "demo", order_id: "toString" });
  assertEquals(notifies(h.take()), [[420, "WARNING", "要撤销的单不存在"]]);
});

Deno.test("insert: empty order_id gets a server id from the exchange clock", () => {
  const h = harness();
  h.setQuote("SHFE.rb2605", { last: 3500, ask: 3501, bid: 3500 });
  h.insert({ order_id: "", limit_price: 3490 });
  h.insert({ order_id: "", limit_price: 3490 });
  const ids = Object.keys(h.engine.snapshot("demo").orders).sort();
  assertEquals(ids, [String(T0), String(T0 + 1)]);
});
