import { getLogger } from "@logtape/logtape";
import { insertRequest } from "../../tests/helpers/orders.ts";
import { assert, assertEquals } from "../../tests/assert.ts";
import { order, position, snapshot } from "../../tests/helpers/fake_broker.ts";
import type { AccountSnapshot, InstrumentView, PositionView, QuoteView } from "../broker/types.ts";
import {
  type FlattenDeps,
  KillSwitch,
  type KillSwitchChange,
  killSwitchCheck,
  type KillSwitchEntry,
  KillSwitchState,
  marketablePrice,
  parseControlMessage,
  parseKillSwitchChange,
  planFlatten,
  runFlatten,
} from "./kill_switch.ts";
import type { InsertRequest } from "./types.ts";
import type { GateRefusal } from "./send_gate.ts";

const RB = "SHFE.rb2605";

function entry(symbol: string, mode: KillSwitchEntry["mode"], reason = "r", set_by = "ops"): KillSwitchEntry {
  return { symbol, mode, reason, set_by, updated_at: "2025-12-24T02:00:00.000000Z" };
}

/** The refusal of a check's answer, or null for a pass. */
function refusalOf(v: GateRefusal | { warnings: string[] } | null): GateRefusal | null {
  return v !== null && "code" in v ? v : null;
}

function req(fields: Partial<InsertRequest> = {}): InsertRequest {
  return insertRequest("o1", { symbol: RB, ...fields });
}

Deno.test("KillSwitchState: the stricter of portfolio and symbol is in force", () => {
  const s = new KillSwitchState();
  assertEquals(s.effective(RB).mode, "OFF");
  s.apply(entry(RB, "REDUCE_ONLY"));
  assertEquals([s.effective(RB).mode, s.effective(RB).scope], ["REDUCE_ONLY", RB]);
  assertEquals(s.effective("DCE.m2605").mode, "OFF");
  s.apply(entry("", "HALT"));
  assertEquals([s.effective(RB).mode, s.effective(RB).scope], ["HALT", "portfolio"]);
  assertEquals(s.effective("DCE.m2605").mode, "HALT");
  // A symbol's OFF does not loosen the portfolio's mode; a stricter symbol mode wins.
  s.apply(entry(RB, "OFF"));
  assertEquals(s.effective(RB).mode, "HALT");
  s.apply(entry(RB, "FLATTEN"));
  assertEquals([s.effective(RB).mode, s.effective(RB).scope], ["FLATTEN", RB]);
  assertEquals(s.flattenScopes(), [RB]);
  assertEquals(s.portfolio().mode, "HALT");
  assertEquals(s.entries().map((e) => e.symbol), ["", RB]);
});

Deno.test("killSwitchCheck: HALT and FLATTEN refuse every new order; FLATTEN lets its own orders through", () => {
  const s = new KillSwitchState([entry("", "HALT", "desk review", "alice")]);
  const check = killSwitchCheck(s, { position: () => undefined, working: () => [] });
  const refusal = check(req(), { pending: [] });
  assertEquals(refusal, {
    code: "KILL_SWITCH",
    field: "$",
    message: "kill switch HALT portfolio-wide (reason: desk review; set by alice): no new orders",
  });
  // A close is refused too under HALT.
  assertEquals(
    refusalOf(check(req({ direction: "SELL", offset: "CLOSE" }), { pending: [] }))?.code,
    "KILL_SWITCH",
  );
  s.apply(entry("", "OFF"));
  assertEquals(check(req(), { pending: [] }), null);
  s.apply(entry(RB, "FLATTEN", "breach", "bob"));
  assertEquals(
    refusalOf(check(req(), { pending: [] }))?.message.startsWith("kill switch FLATTEN on SHFE.rb2605"),
    true,
  );
  s.exempt("flatten-7-SHFE.rb2605-L1");
  assertEquals(check(req({ order_id: "flatten-7-SHFE.rb2605-L1" }), { pending: [] }), null);
  assertEquals(check(req({ order_id: "flatten-7-SHFE.rb2605-L1~closetoday" }), { pending: [] }), null);
  assertEquals(
    refusalOf(check(req({ order_id: "flatten-7-SHFE.rb2605-L2" }), { pending: [] }))?.code,
    "KILL_SWITCH",
  );
  assertEquals(check(req({ symbol: "DCE.m2605" }), { pending: [] }), null);
  // Once HALT replaces FLATTEN, the exemption no longer helps.
  s.apply(entry(RB, "HALT"));
  assertEquals(
    refusalOf(check(req({ order_id: "flatten-7-SHFE.rb2605-L1" }), { pending: [] }))?.code,
    "KILL_SWITCH",
  );
});

Deno.test("killSwitchCheck: REDUCE_ONLY allows only orders that shrink |net| without flipping, counting working orders", () => {
  const s = new KillSwitchState([entry(RB, "REDUCE_ONLY")]);
  let pos: PositionView | undefined = position(RB, { long_today: 1, long_his: 2 }); // net +3
  let working = [order("w1", { direction: "SELL", offset: "CLOSE", volume_left: 1 })];
  const check = killSwitchCheck(s, { position: () => pos, working: () => working });
  const verdict = (r: Partial<InsertRequest>) => {
    const v = check(req(r), { pending: [] });
    return v === null ? "pass" : "warnings" in v ? "pass" : `${v.code}/${v.field}`;
  };
  assertEquals(verdict({ direction: "SELL", offset: "OPEN" }), "KILL_SWITCH/offset");
  assertEquals(verdict({ direction: "BUY", offset: "OPEN" }), "KILL_SWITCH/offset");
  // before = 3 − 1 (working SELL) = 2: SELL 2 → 0 passes (boundary), SELL 3 → −1 flips.
  assertEquals(verdict({ direction: "SELL", offset: "CLOSE", volume: 2 }), "pass");
  assertEquals(verdict({ direction: "SELL", offset: "CLOSETODAY", volume: 3 }), "KILL_SWITCH/volume");
  // A BUY close would grow a long position.
  assertEquals(verdict({ direction: "BUY", offset: "CLOSE", volume: 1 }), "KILL_SWITCH/volume");
  // Short 2: BUY 2 closes to 0.
  pos = position(RB, { short_his: 2 });
  working = [];
  assertEquals(verdict({ direction: "BUY", offset: "CLOSE", volume: 2 }), "pass");
  assertEquals(verdict({ direction: "BUY", offset: "CLOSE", volume: 3 }), "KILL_SWITCH/volume");
  // Flat: nothing reduces.
  pos = undefined;
  assertEquals(verdict({ direction: "SELL", offset: "CLOSE", volume: 1 }), "KILL_SWITCH/volume");
  const message = check(req({ direction: "SELL", offset: "CLOSE" }), { pending: [] });
  assert(message && "message" in message);
  assertEquals(
    message.message,
    "kill switch REDUCE_ONLY on SHFE.rb2605 (reason: r; set by ops): only orders that reduce a position: " +
      "SELL 1 would take the net position of SHFE.rb2605 from 0 (net 0, working SELL 0) to -1",
  );
});

function quote(symbol: string, fields: Partial<QuoteView>): QuoteView {
  return {
    symbol,
    datetime_ms: NaN,
    last_price: null,
    bid_price1: null,
    ask_price1: null,
    upper_limit: null,
    lower_limit: null,
    received_at: 0,
    ...fields,
  };
}

function instrument(symbol: string, tick: number, maxVolume = 500): InstrumentView {
  return {
    symbol,
    exchange_id: symbol.split(".")[0],
    instrument_id: symbol.split(".")[1],
    product_id: "x",
    class: "FUTURE",
    price_tick: tick,
    volume_multiple: 10,
    max_limit_order_volume: maxVolume,
    max_market_order_volume: 0,
    min_limit_order_volume: 1,
    min_market_order_volume: 0,
    expired: false,
    expire_datetime_ms: 0,
    trading_time: { day: [], night: [] },
  };
}

Deno.test("marketablePrice: the band bound on tick, else the opposite best price", () => {
  const q = quote(RB, { upper_limit: 4000.07, lower_limit: 2999.93, bid_price1: 3500, ask_price1: 3501 });
  assertEquals(marketablePrice("BUY", q, 0.02), 4000.06);
  assertEquals(marketablePrice("SELL", q, 0.02), 2999.94);
  assertEquals(marketablePrice("BUY", quote(RB, { ask_price1: 3501 }), 1), 3501);
  assertEquals(marketablePrice("SELL", quote(RB, { bid_price1: 3500 }), 1), 3500);
  assertEquals(marketablePrice("SELL", quote(RB, { ask_price1: 3501 }), 1), null);
  assertEquals(marketablePrice("SELL", undefined, 1), null);
});

Deno.test("planFlatten: closing orders per side and chunk, in scope, deterministic ids; unpriced positions skipped", () => {
  const positions = {
    [RB]: position(RB, { long_today: 3, long_his: 4, short_his: 1 }, { long_frozen_his: 1 }),
    "DCE.m2605": position("DCE.m2605", { short_today: 2 }),
    "CZCE.SR605": position("CZCE.SR605", { long_today: 1 }),
    "SHFE.cu2605": position("SHFE.cu2605", {}),
  };
  const quotes: Record<string, QuoteView> = {
    [RB]: quote(RB, { upper_limit: 4000, lower_limit: 3000 }),
    "DCE.m2605": quote("DCE.m2605", { ask_price1: 2801 }),
  };
  const plan = planFlatten({
    portfolioId: "demo",
    seq: 42,
    scope: "",
    positions,
    quote: (s) => quotes[s],
    instrument: (s) => instrument(s, 1, s === RB ? 4 : 500),
  });
  assertEquals(
    plan.orders.map((o) => [o.order_id, o.direction, o.offset, o.volume, o.limit_price, o.time_condition]),
    [
      ["flatten-42-DCE.m2605-S1", "BUY", "CLOSE", 2, 2801, "GFD"],
      // 3 + (4 − 1 frozen) = 6 long lots in chunks of 4
      ["flatten-42-SHFE.rb2605-L1", "SELL", "CLOSE", 4, 3000, "GFD"],
      ["flatten-42-SHFE.rb2605-L2", "SELL", "CLOSE", 2, 3000, "GFD"],
      ["flatten-42-SHFE.rb2605-S1", "BUY", "CLOSE", 1, 4000, "GFD"],
    ],
  );
  assertEquals(plan.skipped, [{
    symbol: "CZCE.SR605",
    side: "long",
    lots: 1,
    reason: "no quote or price limits to price the close",
  }]);
  const one = planFlatten({
    portfolioId: "demo",
    seq: 43,
    scope: RB,
    positions,
    quote: (s) => quotes[s],
    instrument: (s) => instrument(s, 1),
    maxOrderVolume: () => 5,
  });
  assertEquals(one.orders.map((o) => [o.order_id, o.volume]), [
    ["flatten-43-SHFE.rb2605-L1", 5],
    ["flatten-43-SHFE.rb2605-L2", 1],
    ["flatten-43-SHFE.rb2605-S1", 1],
  ]);
});

Deno.test("runFlatten: cancels our working orders in scope, waits for them, then submits the closes exempted", async () => {
  const state = new KillSwitchState([entry("", "FLATTEN")]);
  let snap: AccountSnapshot = snapshot({
    positions: [position(RB, { long_today: 2 })],
    orders: [
      order("ours-1", { direction: "SELL", offset: "CLOSETODAY" }),
      order("ext-1"),
      order("ours-2", { symbol: "DCE.m2605" }),
    ],
  });
  const calls: string[] = [];
  const deps: FlattenDeps = {
    snapshot: () => snap,
    quote: () => quote(RB, { upper_limit: 4000, lower_limit: 3000 }),
    instrument: (s) => instrument(s, 1),
    awaitQuote: (s) => {
      calls.push(`quote ${s}`);
      return Promise.resolve();
    },
    ours: (id) => id.startsWith("ours-") ? `client-${id}` : null,
    cancel: (id) => {
      calls.push(`cancel ${id}`);
      // the order finishes a little later
      setTimeout(() => {
        const orders = {
          ...snap.orders,
          "ours-1": { ...snap.orders["ours-1"], status: "FINISHED" as const },
        };
        snap = { ...snap, orders };
      }, 30);
      return Promise.resolve({ kind: "sent" });
    },
    submit: (request, source) => {
      const check = killSwitchCheck(state, { position: () => undefined, working: () => [] });
      calls.push(
        `submit ${request.order_id} ${source} ${
          check(request, { pending: [] }) === null ? "pass" : "refused"
        }`,
      );
      return Promise.resolve({ kind: "accepted" });
    },
    pollMs: 5,
  };
  const report = await runFlatten(
    state,
    { portfolioId: "demo", seq: 9, scope: RB, source: "rabbitmq" },
    deps,
  );
  assertEquals(calls, [
    "cancel client-ours-1",
    `quote ${RB}`,
    "submit flatten-9-SHFE.rb2605-L1 rabbitmq pass",
  ]);
  assertEquals(report.still_working, []);
  assertEquals(report.orders, [{ order_id: "flatten-9-SHFE.rb2605-L1", outcome: "accepted" }]);
});

Deno.test("parseKillSwitchChange and parseControlMessage: fields, defaults and errors", () => {
  assertEquals(parseKillSwitchChange({ mode: "HALT", reason: " lunch " }, "rest"), {
    change: { mode: "HALT", symbol: "", reason: "lunch", set_by: "rest" },
  });
  assertEquals(
    parseKillSwitchChange({ mode: "REDUCE_ONLY", symbol: RB, reason: "x", set_by: "alice" }, "rest"),
    { change: { mode: "REDUCE_ONLY", symbol: RB, reason: "x", set_by: "alice" } },
  );
  const bad = parseKillSwitchChange({ mode: "PANIC", symbol: "rb", reason: "" }, "rest");
  assert("errors" in bad);
  assertEquals(bad.errors.map((e) => e.field).sort(), ["mode", "reason", "symbol"]);
  assertEquals("errors" in parseKillSwitchChange([], "rest"), true);

  // Not a control message: null, so the body goes on as an order request.
  assertEquals(parseControlMessage('{"symbol":"SHFE.rb2605","order_id":"x"}', { portfolioId: "demo" }), null);
  assertEquals(parseControlMessage('{"type":"CANCEL","order_id":"x"}', { portfolioId: "demo" }), null);
  assertEquals(parseControlMessage("not json", { portfolioId: "demo" }), null);
  const bytes = new TextEncoder().encode(
    JSON.stringify({ type: "kill_switch", portfolio_id: "demo", mode: "FLATTEN", reason: "breach" }),
  );
  assertEquals(parseControlMessage(bytes, { portfolioId: "demo" }), {
    kind: "kill_switch",
    change: { mode: "FLATTEN", symbol: "", reason: "breach", set_by: "rabbitmq" },
  });
  const other = parseControlMessage(
    { type: "KILL_SWITCH", portfolio_id: "other", mode: "OFF", reason: "x" },
    { portfolioId: "demo" },
  );
  assertEquals(other?.kind, "invalid");
  assertEquals(other?.kind === "invalid" && other.errors.map((e) => e.field), ["portfolio_id"]);
});

Deno.test("KillSwitch: a change is persisted before it applies; a failed write changes nothing", async () => {
  const saved: KillSwitchChange[] = [];
  let fail = false;
  const ks = new KillSwitch({
    load: () => Promise.resolve([entry(RB, "HALT")]),
    set: (change) => {
      if (fail) return Promise.reject(new Error("db down"));
      saved.push(change);
      return Promise.resolve({ entry: { ...change, updated_at: "t" }, event_id: saved.length });
    },
  }, { portfolioId: "demo", log: getLogger("test") });
  await ks.load();
  assertEquals(ks.state.effective(RB).mode, "HALT");
  const r = await ks.set({ mode: "REDUCE_ONLY", symbol: "", reason: "x", set_by: "a" });
  assertEquals([r.event_id, r.flatten, ks.state.portfolio().mode], [1, null, "REDUCE_ONLY"]);
  fail = true;
  let failed = false;
  try {
    await ks.set({ mode: "OFF", symbol: "", reason: "x", set_by: "a" });
  } catch {
    failed = true;
  }
  assertEquals([failed, ks.state.portfolio().mode], [true, "REDUCE_ONLY"]);
  // FLATTEN without a runner attached: the mode applies (new orders refused), the flatten reports nothing.
  fail = false;
  const f = await ks.set({ mode: "FLATTEN", symbol: RB, reason: "y", set_by: "b" });
  assertEquals((await f.flatten)?.orders, []);
  assertEquals(ks.state.effective(RB).mode, "FLATTEN");
});
