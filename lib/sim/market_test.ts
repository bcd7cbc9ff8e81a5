import { assert, assertEquals, assertNotEquals, assertThrows } from "../../tests/assert.ts";
import type { Quote } from "../diff/types.ts";
import { buildCatalogue, catalogueInSession, DEFAULT_SIM_CLOCK_MS } from "./catalogue.ts";
import { SimMarket, type SimMarketOptions } from "./market.ts";

const CATALOGUE = buildCatalogue(DEFAULT_SIM_CLOCK_MS);

function bj(iso: string): number {
  return Date.parse(`${iso}+08:00`);
}

function market(overrides: Partial<SimMarketOptions> = {}): { m: SimMarket; clock: { now: number } } {
  const clock = { now: DEFAULT_SIM_CLOCK_MS };
  const m = new SimMarket(CATALOGUE, {
    seed: 7,
    nowMs: () => clock.now,
    inSession: () => true,
    ...overrides,
  });
  return { m, clock };
}

/** price is an integer number of ticks and printed with at most `decs` decimals. */
function assertOnTick(price: unknown, tick: number, decs: number, what: string): void {
  assert(typeof price === "number", `${what} is not a number: ${price}`);
  const ticks = price / tick;
  assert(Math.abs(ticks - Math.round(ticks)) < 1e-9, `${what}=${price} is not on tick ${tick}`);
  const frac = String(price).split(".")[1] ?? "";
  assert(frac.length <= decs, `${what}=${price} has float drift`);
}

Deno.test("quote: initial values from the reference price, limits rounded inward, one-tick book", () => {
  const { m } = market();
  assertEquals(m.quote("SHFE.xx9999"), undefined);
  const rb = m.quote("SHFE.rb2605")!;
  assertEquals(rb.instrument_id, "SHFE.rb2605");
  assertEquals(rb.datetime, "2025-12-24 10:00:00.000000");
  assertEquals([rb.last_price, rb.pre_settlement, rb.pre_close, rb.open], [3075, 3075, 3075, 3075]);
  // 3075 × 1.05 = 3228.75 → 3228; 3075 × 0.95 = 2921.25 → 2922 (inward).
  assertEquals([rb.upper_limit, rb.lower_limit], [3228, 2922]);
  assertEquals([rb.bid_price1, rb.ask_price1], [3075, 3076]);
  assertEquals([rb.bid_price5, rb.ask_price5], [3071, 3080]);
  for (let level = 6; level <= 10; level++) {
    for (const f of ["ask_price", "ask_volume", "bid_price", "bid_volume"]) {
      assertEquals(rb[`${f}${level}`], null);
    }
  }
  assertEquals([rb.close, rb.settlement, rb.volume, rb.amount], ["-", "-", 0, 0]);
  // au: 762 with ratio 0.12 and tick 0.02 reproduces the 2025 sandbox limits exactly.
  const au = m.quote("SHFE.au2606")!;
  assertEquals([au.upper_limit, au.lower_limit, au.bid_price1, au.ask_price1], [853.44, 670.56, 762, 762.02]);
  // Every §4 field is present.
  for (
    const f of [
      "highest",
      "lowest",
      "average",
      "open_interest",
      "pre_open_interest",
      "ask_volume1",
      "bid_volume1",
    ]
  ) assert(f in rb, f);
  // quote() returns a copy.
  rb.last_price = 1;
  assertEquals(m.quote("SHFE.rb2605")!.last_price, 3075);
});

Deno.test("setQuote: exact control, nothing recomputed, change emitted", () => {
  const { m } = market();
  const seen: [string, Partial<Quote>][] = [];
  const off = m.subscribe((s, c) => seen.push([s, { ...c }]));
  m.setQuote("DCE.m2605", {
    ask_price1: 2801,
    bid_price1: 2799,
    last_price: 2800.5,
    datetime: "2025-12-24 10:00:01.000000",
  });
  const q = m.quote("DCE.m2605")!;
  assertEquals([q.ask_price1, q.bid_price1, q.last_price, q.datetime], [
    2801,
    2799,
    2800.5,
    "2025-12-24 10:00:01.000000",
  ]);
  assertEquals(q.upper_limit, m.quote("DCE.m2609")!.upper_limit, "limits untouched");
  assertEquals(seen, [["DCE.m2605", {
    ask_price1: 2801,
    bid_price1: 2799,
    last_price: 2800.5,
    datetime: "2025-12-24 10:00:01.000000",
  }]]);
  off();
  m.setQuote("DCE.m2605", { upper_limit: 2805 });
  assertEquals(seen.length, 1, "unsubscribed");
  assertEquals(m.quote("DCE.m2605")!.upper_limit, 2805);
  assertThrows(() => m.setQuote("DCE.m9999", { last_price: 1 }));
});

Deno.test("step: moves only active symbols, emits only changed fields, keeps the book one tick wide", () => {
  const { m, clock } = market();
  const events: [string, Partial<Quote>][] = [];
  m.subscribe((s, c) => events.push([s, c]));
  assertEquals(m.step(), [], "nothing active");
  m.activate(["SHFE.rb2605", "SHFE.nope"]);
  assertEquals(m.activeSymbols(), ["SHFE.rb2605"]);
  let volume = 0;
  let amount = 0;
  let last = m.quote("SHFE.rb2605")!.last_price as number;
  for (let i = 0; i < 200; i++) {
    clock.now += 500;
    const prev = m.quote("SHFE.rb2605")!;
    assertEquals(m.step(), ["SHFE.rb2605"]);
    const [symbol, changed] = events[events.length - 1];
    assertEquals(symbol, "SHFE.rb2605");
    assert(!("pre_settlement" in changed) && !("upper_limit" in changed) && !("instrument_id" in changed));
    const q = m.quote("SHFE.rb2605")!;
    // Only changed fields are emitted and they match the quote.
    for (const [k, v] of Object.entries(changed)) {
      assertEquals(q[k], v);
      assertNotEquals(prev[k], v, `${k} emitted but unchanged`);
    }
    for (const k of Object.keys(q)) if (!(k in changed)) assertEquals(q[k], prev[k]);
    assertEquals(
      q.datetime,
      new Date(clock.now + 8 * 3600_000).toISOString().replace("T", " ").replace("Z", "000"),
    );
    assertEquals(q.bid_price1, q.last_price);
    assertEquals((q.ask_price1 as number) - (q.bid_price1 as number), 1);
    const move = (q.last_price as number) - last;
    assert(Math.abs(move) <= 2, `moved ${move} ticks`);
    // Cumulative volume and amount: amount grows by lots × price × multiplier (10).
    const lots = (q.volume as number) - volume;
    assert(lots >= 1 && lots <= 10, `lots ${lots}`);
    amount += lots * (q.last_price as number) * 10;
    assertEquals(q.amount, amount);
    assertEquals(q.average, Number((amount / ((q.volume as number) * 10)).toFixed(3)));
    volume = q.volume as number;
    last = q.last_price as number;
    assert((q.highest as number) >= last && (q.lowest as number) <= last);
  }
  // The untouched symbol did not move.
  assertEquals(m.quote("SHFE.rb2606")!.volume, 0);
  m.deactivate(["SHFE.rb2605"]);
  assertEquals(m.step(), []);
});

Deno.test("step: clamps inside the limits (book included) and nulls levels beyond them", () => {
  const { m } = market({ maxStepTicks: 3 });
  m.activate(["SHFE.rb2605"]);
  m.setQuote("SHFE.rb2605", { last_price: 3075, upper_limit: 3077, lower_limit: 3073 });
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) {
    m.step();
    const q = m.quote("SHFE.rb2605")!;
    const last = q.last_price as number;
    seen.add(last);
    assert(last >= 3073 && last <= 3076, `last ${last}`);
    assertEquals(q.bid_price1, last);
    assertEquals(q.ask_price1, last + 1);
    for (let level = 1; level <= 10; level++) {
      const ask = q[`ask_price${level}`];
      const bid = q[`bid_price${level}`];
      if (ask !== null) assert((ask as number) <= 3077, `ask${level} ${ask}`);
      if (bid !== null) assert((bid as number) >= 3073, `bid${level} ${bid}`);
      assertEquals(q[`ask_volume${level}`] === null, ask === null);
    }
    if (last === 3076) assertEquals([q.ask_price2, q.ask_volume2], [null, null]);
  }
  assertEquals([...seen].sort(), [3073, 3074, 3075, 3076], "both clamps reached");
  const q = m.quote("SHFE.rb2605")!;
  assertEquals([q.upper_limit, q.lower_limit], [3077, 3073], "limits unchanged by steps");
});

Deno.test("step: prices stay on the tick without float drift (0.02, 0.005, 0.2, 0.5)", () => {
  const { m } = market({ maxStepTicks: 5 });
  const symbols = ["SHFE.au2606", "CFFEX.T2603", "CFFEX.IF2601", "DCE.i2605", "INE.sc2602"];
  m.activate(symbols);
  for (let i = 0; i < 500; i++) m.step();
  for (const s of symbols) {
    const info = CATALOGUE[s];
    const q = m.quote(s)!;
    assert((q.volume as number) > 0, s);
    for (
      const f of ["last_price", "highest", "lowest", "open", "upper_limit", "lower_limit", "pre_settlement"]
    ) {
      assertOnTick(q[f], info.price_tick, info.price_decs, `${s} ${f}`);
    }
    for (let level = 1; level <= 5; level++) {
      assertOnTick(q[`ask_price${level}`], info.price_tick, info.price_decs, `${s} ask${level}`);
      assertOnTick(q[`bid_price${level}`], info.price_tick, info.price_decs, `${s} bid${level}`);
    }
    assertEquals(
      Math.round(((q.ask_price1 as number) - (q.bid_price1 as number)) / info.price_tick),
      1,
      `${s} spread`,
    );
  }
});

Deno.test("step: gated by the session predicate and the clock", () => {
  const clock = { now: bj("2025-12-24T10:20:00") }; // morning break
  const m = new SimMarket(CATALOGUE, {
    seed: 1,
    nowMs: () => clock.now,
    inSession: catalogueInSession(CATALOGUE),
  });
  const calls: [string, number][] = [];
  m.activate(["SHFE.cu2602", "SHFE.rb2605"]);
  assertEquals(m.step(), []);
  const before = m.quote("SHFE.cu2602");
  clock.now = bj("2025-12-24T10:30:00");
  assertEquals(m.step(), ["SHFE.cu2602", "SHFE.rb2605"]);
  assertNotEquals(m.quote("SHFE.cu2602"), before);
  clock.now = bj("2025-12-27T00:30:00"); // Saturday: cu's Friday night session, rb closed
  assertEquals(m.step(), ["SHFE.cu2602"]);
  assertEquals(m.quote("SHFE.cu2602")!.datetime, "2025-12-27 00:30:00.000000");
  clock.now = bj("2025-12-29T00:30:00"); // Monday morning: closed
  assertEquals(m.step(), []);
  // The predicate receives the symbol and the clock.
  const spy = new SimMarket(CATALOGUE, {
    seed: 1,
    nowMs: () => 123,
    inSession: (s, ms) => (calls.push([s, ms]), false),
  });
  spy.activate(["DCE.m2605"]);
  spy.step();
  assertEquals(calls, [["DCE.m2605", 123]]);
});

Deno.test("determinism: same seed and calls → same quotes; another seed differs; independent of other symbols", () => {
  function run(seed: number, symbols: string[]): Quote[] {
    const { m, clock } = market({ seed });
    m.activate(symbols);
    for (let i = 0; i < 100; i++) {
      clock.now += 250;
      if (i === 50) m.setQuote("SHFE.rb2605", { last_price: 3100 });
      m.step();
    }
    return symbols.map((s) => m.quote(s)!);
  }
  const a = run(42, ["SHFE.rb2605", "DCE.m2605"]);
  assertEquals(run(42, ["SHFE.rb2605", "DCE.m2605"]), a);
  assertNotEquals(run(43, ["SHFE.rb2605", "DCE.m2605"]), a);
  assertEquals(run(42, ["SHFE.rb2605"])[0], a[0], "rb's path does not depend on m being active");
  assertEquals(run(42, ["CZCE.SR605", "SHFE.rb2605"])[1], a[0], "nor on activation order");
});

Deno.test("constructor validates options", () => {
  assertThrows(() => market({ maxStepTicks: -1 }));
  assertThrows(() => market({ depth: 11 }));
  const { m } = market({ depth: 1 });
  const q = m.quote("SHFE.rb2605")!;
  assertEquals([q.ask_price1, q.ask_price2, q.bid_price2], [3076, null, null]);
});
