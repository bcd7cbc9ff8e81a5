import { assert, assertEquals, assertMatch } from "../../../tests/assert.ts";
import { BurstMonitor, CancelCounter } from "./supervision.ts";
import type { Decision } from "./types.ts";
import { bj } from "./test_fixtures.ts";

function recordN(c: CancelCounter, symbol: string, day: string, n: number): void {
  for (let i = 0; i < n; i++) c.record(symbol, day);
}

function warnings(d: Decision): string[] {
  assert(d.ok, "expected a pass");
  return d.warnings ?? [];
}

// ------------------------------------------------------------------------------------------------------
// CancelCounter
// ------------------------------------------------------------------------------------------------------

Deno.test("CancelCounter: silent below warnAt, warns from cancel 400, refuses after 480", () => {
  const c = new CancelCounter();
  assertEquals([c.warnAt, c.limit], [400, 480]);
  const rb = "SHFE.rb2605";
  const day = "20251224";
  assertEquals(c.check(rb, day), { ok: true });
  recordN(c, rb, day, 398);
  assertEquals(c.check(rb, day), { ok: true }); // the next is cancel 399
  assertEquals(c.record(rb, day), 399);
  const w = warnings(c.check(rb, day)); // the next is cancel 400
  assertEquals(w, [
    "SHFE.rb2605: this is cancel 400 on trading day 20251224 (warning from cancel_warn_per_contract 400; " +
    "refused after 480; exchanges flag 500)",
  ]);
  recordN(c, rb, day, 80); // 479 sent
  assertEquals(c.count(rb, day), 479);
  assertMatch(warnings(c.check(rb, day))[0], /this is cancel 480 /); // the 480th may go
  c.record(rb, day);
  const d = c.check(rb, day);
  assert(!d.ok);
  assertEquals(d.refusal, {
    code: "CANCEL_LIMIT",
    field: "$",
    message: "SHFE.rb2605: 480 cancels already sent on trading day 20251224, the limit is " +
      "cancel_limit_per_contract 480 (exchanges flag 500)",
  });
});

Deno.test("CancelCounter: per contract and per trading day; older days are dropped", () => {
  const c = new CancelCounter({ warnAt: 2, limit: 3 });
  recordN(c, "SHFE.rb2605", "20251224", 3);
  assert(!c.check("SHFE.rb2605", "20251224").ok);
  assertEquals(c.check("SHFE.rb2606", "20251224"), { ok: true }); // another contract
  assertEquals(c.check("SHFE.rb2605", "20251225"), { ok: true }); // the next trading day
  c.record("SHFE.rb2606", "20251225");
  assertEquals(c.count("SHFE.rb2605", "20251224"), 0); // dropped once the 25th began
  assertEquals(c.exportState(), { "20251225": { "SHFE.rb2606": 1 } });
});

Deno.test("CancelCounter: exportState/importState round-trip", () => {
  const a = new CancelCounter({ warnAt: 2, limit: 3 });
  recordN(a, "SHFE.rb2605", "20251224", 3);
  recordN(a, "DCE.m2605", "20251224", 1);
  const state = a.exportState();
  assertEquals(state, { "20251224": { "SHFE.rb2605": 3, "DCE.m2605": 1 } });
  const b = new CancelCounter({ warnAt: 2, limit: 3 });
  b.importState(JSON.parse(JSON.stringify(state)));
  assert(!b.check("SHFE.rb2605", "20251224").ok);
  assertEquals(warnings(b.check("DCE.m2605", "20251224")).length, 1);
  b.importState({ "20251224": { "X.y1": -3, "X.y2": 1.5 } as Record<string, number> });
  assertEquals(b.exportState(), { "20251224": {} });
});

Deno.test("CancelCounter.merge: the larger count per day and contract wins, nothing counted twice", () => {
  const c = new CancelCounter({ warnAt: 2, limit: 3 });
  recordN(c, "SHFE.rb2605", "20251224", 1);
  c.merge({ "20251224": { "SHFE.rb2605": 2, "DCE.m2605": 3 }, "20251223": { "SHFE.rb2605": 9 } });
  assertEquals(c.count("SHFE.rb2605", "20251224"), 2);
  assertEquals(c.count("DCE.m2605", "20251224"), 3);
  assertEquals(c.count("SHFE.rb2605", "20251223"), 9);
  assert(!c.check("DCE.m2605", "20251224").ok);
  // Merging the same counts again, or lower ones, changes nothing; bad entries are skipped.
  c.merge({ "20251224": { "SHFE.rb2605": 2, "DCE.m2605": 1, "X.y1": -1, "X.y2": 0.5 } });
  assertEquals(c.exportState()["20251224"], { "SHFE.rb2605": 2, "DCE.m2605": 3 });
  // The counter keeps counting from the merged count.
  assertEquals(c.record("SHFE.rb2605", "20251224"), 3);
  assert(!c.check("SHFE.rb2605", "20251224").ok);
});

// ------------------------------------------------------------------------------------------------------
// BurstMonitor
// ------------------------------------------------------------------------------------------------------

Deno.test("BurstMonitor: a second with ≥ 10 inserts + cancels counts once", () => {
  const m = new BurstMonitor();
  const t = bj("2025-12-24 10:00:00");
  for (let i = 0; i < 9; i++) m.record(t + i * 100);
  assertEquals(m.stats(), {
    trading_day: "20251224",
    bursts_today: 0,
    max_per_second_today: 9,
    actions_today: 9,
    trigger_reached: false,
  });
  assertEquals(m.record(t + 999), 10);
  assertEquals(m.stats().bursts_today, 1);
  for (let i = 0; i < 5; i++) m.record(t + 999);
  assertEquals(m.stats().bursts_today, 1); // still one second
  assertEquals(m.stats().max_per_second_today, 15);
  // Calendar seconds: 5 at the end of one second and 5 at the start of the next are no burst.
  const u = bj("2025-12-24 10:00:10");
  for (let i = 0; i < 5; i++) m.record(u - 1 - i);
  for (let i = 0; i < 5; i++) m.record(u + i);
  assertEquals(m.stats().bursts_today, 1);
  // Another full second.
  for (let i = 0; i < 10; i++) m.record(u + 5_000 + i);
  assertEquals(m.stats().bursts_today, 2);
  assertEquals(m.stats().actions_today, 35);
});

Deno.test("BurstMonitor: the reporting trigger after 10 burst seconds in a trading day", () => {
  const m = new BurstMonitor();
  const t = bj("2025-12-24 10:00:00");
  for (let s = 0; s < 9; s++) for (let i = 0; i < 10; i++) m.record(t + s * 1000 + i);
  assertEquals(m.stats().trigger_reached, false);
  for (let i = 0; i < 10; i++) m.record(t + 60_000 + i);
  assertEquals(m.stats().bursts_today, 10);
  assertEquals(m.stats().trigger_reached, true);
});

Deno.test("BurstMonitor: a new trading day (18:00) starts at zero", () => {
  const m = new BurstMonitor();
  const t = bj("2025-12-24 14:59:00");
  for (let i = 0; i < 12; i++) m.record(t);
  assertEquals(m.stats().bursts_today, 1);
  // The night session belongs to the next trading day.
  m.record(bj("2025-12-24 21:00:00"));
  assertEquals(m.stats(), {
    trading_day: "20251225",
    bursts_today: 0,
    max_per_second_today: 1,
    actions_today: 1,
    trigger_reached: false,
  });
  // stats(ms) rolls over too; Friday night belongs to Monday.
  assertEquals(m.stats(bj("2025-12-26 21:00:00")).trading_day, "20251229");
  assertEquals(m.stats().actions_today, 0);
  // An older timestamp never rolls the day back.
  m.record(bj("2025-12-24 10:00:00"));
  assertEquals(m.stats().trading_day, "20251229");
});

Deno.test("BurstMonitor: warning before the 10th action of a second; state round-trip", () => {
  const m = new BurstMonitor();
  const t = bj("2025-12-24 10:00:00.200");
  for (let i = 0; i < 8; i++) m.record(t);
  assertEquals(m.warning(t), undefined); // would be the 9th
  m.record(t);
  assertMatch(m.warning(t + 500)!, /^10 inserts \+ cancels in one second \(≥ 10 counts toward/);
  assertEquals(m.warning(t + 1000), undefined); // the next second is empty
  const copy = new BurstMonitor();
  copy.importState(JSON.parse(JSON.stringify(m.exportState())));
  assertEquals(copy.record(t + 700), 10);
  assertEquals(copy.stats().bursts_today, 1);
  assertEquals(copy.stats().actions_today, 10);
});
