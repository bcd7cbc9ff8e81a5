import { assert, assertEquals, assertMatch } from "../../../tests/assert.ts";
import {
  checkRequestAge,
  checkSession,
  exchangeClock,
  exchangeTimeMs,
  formatBeijing,
} from "./session_rules.ts";
import type { Decision, OrderContext } from "./types.ts";
import { bj, context, instrument, quote, request } from "./test_fixtures.ts";

function ok(d: Decision): void {
  assert(d.ok, d.ok ? "" : `expected a pass, got ${d.refusal.code}: ${d.refusal.message}`);
}

function refused(d: Decision): { code: string; field: string; message: string } {
  assert(!d.ok, "expected a refusal");
  return d.refusal;
}

/** A context for `symbol` whose quote says exchange time `datetime` (received right now). */
function at(symbol: string, datetime: string): OrderContext {
  return context(request(symbol), bj(datetime));
}

// ------------------------------------------------------------------------------------------------------
// exchangeTimeMs
// ------------------------------------------------------------------------------------------------------

Deno.test("exchangeTimeMs: quote datetime + local elapsed since it arrived", () => {
  const ins = instrument("SHFE.rb2605");
  const q = quote(ins, bj("2025-12-24 10:00:00.500"), { received_at: 1_000_000 });
  assertEquals(exchangeTimeMs(q, 1_000_000), bj("2025-12-24 10:00:00.500"));
  assertEquals(exchangeTimeMs(q, 1_002_750), bj("2025-12-24 10:00:03.250"));
  assertEquals(exchangeClock(q, 1_002_750).source, "quote");
  // The local clock stepped back: the quote's own time is the estimate.
  assertEquals(exchangeTimeMs(q, 999_000), bj("2025-12-24 10:00:00.500"));
});

Deno.test("exchangeTimeMs: NaN-safe, falls back to the local clock", () => {
  const ins = instrument("SHFE.rb2605");
  assertEquals(exchangeTimeMs(undefined, 123_456), 123_456);
  assertEquals(exchangeClock(undefined, 123_456), { ms: 123_456, source: "local" });
  assertEquals(exchangeTimeMs(quote(ins, NaN), 123_456), 123_456);
  assertEquals(exchangeTimeMs(quote(ins, 5_000, { received_at: NaN }), 123_456), 123_456);
  assert(Number.isNaN(exchangeTimeMs(undefined, NaN)));
  assertEquals(formatBeijing(bj("2025-12-27 01:30:00")), "2025-12-27 01:30:00");
});

// ------------------------------------------------------------------------------------------------------
// checkSession
// ------------------------------------------------------------------------------------------------------

Deno.test("checkSession: day sessions with their breaks, start inclusive, end exclusive", () => {
  ok(checkSession(at("SHFE.rb2605", "2025-12-24 09:00:00")));
  ok(checkSession(at("SHFE.rb2605", "2025-12-24 10:14:59.999")));
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-24 10:15:00"))).code, "OUTSIDE_SESSION");
  ok(checkSession(at("SHFE.rb2605", "2025-12-24 10:30:00")));
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-24 12:00:00"))).code, "OUTSIDE_SESSION");
  ok(checkSession(at("SHFE.rb2605", "2025-12-24 14:59:59")));
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-24 15:00:00"))).code, "OUTSIDE_SESSION");
  // The pre-open auction is not in trading_time.
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-24 08:59:00"))).code, "OUTSIDE_SESSION");
  // CFFEX: treasury futures open at 09:15, index futures at 09:30.
  ok(checkSession(at("CFFEX.T2603", "2025-12-24 09:15:00")));
  assertEquals(refused(checkSession(at("CFFEX.IF2601", "2025-12-24 09:15:00"))).code, "OUTSIDE_SESSION");
  ok(checkSession(at("CFFEX.IF2601", "2025-12-24 09:30:00")));
});

Deno.test("checkSession: 01:30 after midnight: SHFE.au (night to 02:30) accepted, SHFE.rb (to 23:00) refused", () => {
  const au = instrument("SHFE.au2606");
  assertEquals(au.trading_time.night, [["21:00:00", "26:30:00"]]);
  assertEquals(instrument("SHFE.rb2605").trading_time.night, [["21:00:00", "23:00:00"]]);
  // Thursday 01:30, in Wednesday's night session.
  ok(checkSession(at("SHFE.au2606", "2025-12-25 01:30:00")));
  const rb = refused(checkSession(at("SHFE.rb2605", "2025-12-25 01:30:00")));
  assertEquals(rb.code, "OUTSIDE_SESSION");
  assertEquals(rb.field, "symbol");
  assertEquals(
    rb.message,
    "SHFE.rb2605 is not trading at exchange time 2025-12-25 01:30:00 (quote time + local elapsed): " +
      "trading_time day 09:00:00–10:15:00, 10:30:00–11:30:00, 13:30:00–15:00:00; night 21:00:00–23:00:00; " +
      "next session starts 2025-12-25 09:00:00",
  );
  // Saturday 01:30, the tail of Friday's night session.
  ok(checkSession(at("SHFE.au2606", "2025-12-27 01:30:00")));
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-27 01:30:00"))).code, "OUTSIDE_SESSION");
  // au's night ends at 02:30 (exclusive).
  ok(checkSession(at("SHFE.au2606", "2025-12-27 02:29:59.999")));
  assertEquals(refused(checkSession(at("SHFE.au2606", "2025-12-27 02:30:00"))).code, "OUTSIDE_SESSION");
  // Sunday and Monday 01:30 follow no weekday evening.
  assertEquals(refused(checkSession(at("SHFE.au2606", "2025-12-28 01:30:00"))).code, "OUTSIDE_SESSION");
  const mon = refused(checkSession(at("SHFE.au2606", "2025-12-29 01:30:00")));
  assertMatch(mon.message, /next session starts 2025-12-29 09:00:00$/);
});

Deno.test("checkSession: night sessions at 21:30: day-only products refused", () => {
  ok(checkSession(at("SHFE.rb2605", "2025-12-24 21:30:00")));
  ok(checkSession(at("CZCE.SR605", "2025-12-24 21:30:00")));
  for (const s of ["DCE.jd2605", "CZCE.AP605", "CFFEX.IF2601", "CFFEX.T2603"]) {
    const d = refused(checkSession(at(s, "2025-12-24 21:30:00")));
    assertEquals([d.code, d.field], ["OUTSIDE_SESSION", "symbol"], s);
  }
  assertMatch(
    refused(checkSession(at("DCE.jd2605", "2025-12-24 21:30:00"))).message,
    /night none; next session starts 2025-12-25 09:00:00$/,
  );
  // Night ends: rb 23:00, SR 23:30, cu 01:00.
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-24 23:00:00"))).code, "OUTSIDE_SESSION");
  ok(checkSession(at("CZCE.SR605", "2025-12-24 23:29:59")));
  assertEquals(refused(checkSession(at("CZCE.SR605", "2025-12-24 23:30:00"))).code, "OUTSIDE_SESSION");
  ok(checkSession(at("SHFE.cu2602", "2025-12-25 00:59:59")));
  assertEquals(refused(checkSession(at("SHFE.cu2602", "2025-12-25 01:00:00"))).code, "OUTSIDE_SESSION");
  // Friday night trades, Saturday and Sunday evenings do not.
  ok(checkSession(at("SHFE.rb2605", "2025-12-26 21:30:00")));
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-27 21:30:00"))).code, "OUTSIDE_SESSION");
  assertEquals(refused(checkSession(at("SHFE.rb2605", "2025-12-28 21:30:00"))).code, "OUTSIDE_SESSION");
});

Deno.test("checkSession: exchange time is the quote's, advanced by local elapsed time", () => {
  const rb = instrument("SHFE.rb2605");
  // Local clock says 10:00 (open), the quote says 15:00:05 (closed): the quote wins.
  const local = bj("2025-12-24 10:00:00");
  const closed = context(request("SHFE.rb2605"), local, {
    quote: quote(rb, bj("2025-12-24 15:00:05"), { received_at: local }),
  });
  assertEquals(refused(checkSession(closed)).code, "OUTSIDE_SESSION");
  // Local clock says 12:00 (lunch), the quote said 10:00:00 one second ago.
  const noon = bj("2025-12-24 12:00:00");
  const open = context(request("SHFE.rb2605"), noon, {
    quote: quote(rb, bj("2025-12-24 10:00:00"), { received_at: noon - 1000 }),
  });
  ok(checkSession(open));
  // The last quote of the night said 22:59:59 and arrived 2 s ago: now it is 23:00:01.
  const t = 50_000_000;
  const late = context(request("SHFE.rb2605"), t, {
    quote: quote(rb, bj("2025-12-24 22:59:59"), { received_at: t - 2000 }),
  });
  assertMatch(refused(checkSession(late)).message, /exchange time 2025-12-24 23:00:01/);
  const justBefore = context(request("SHFE.rb2605"), t, {
    quote: quote(rb, bj("2025-12-24 22:59:59"), { received_at: t - 999 }),
  });
  ok(checkSession(justBefore));
});

Deno.test("checkSession: without a quote the local clock stands in, and the message says so", () => {
  ok(checkSession(context(request("SHFE.rb2605"), bj("2025-12-24 10:00:00"), { quote: undefined })));
  const d = refused(
    checkSession(context(request("SHFE.rb2605"), bj("2025-12-24 12:00:00"), { quote: undefined })),
  );
  assertEquals(d.code, "OUTSIDE_SESSION");
  assertMatch(
    d.message,
    /^SHFE\.rb2605 is not trading at local time 2025-12-24 12:00:00 \(no quote yet: the local clock stands in/,
  );
  // A quote without a datetime counts as none.
  const rb = instrument("SHFE.rb2605");
  const nan = context(request("SHFE.rb2605"), bj("2025-12-24 12:00:00"), { quote: quote(rb, NaN) });
  assertMatch(refused(checkSession(nan)).message, /local time/);
});

Deno.test("checkSession: no sessions at all is refused; an unknown instrument passes (checkInstrument's job)", () => {
  const none = { ...instrument("SHFE.rb2605"), trading_time: { day: [], night: [] } };
  const d = refused(
    checkSession(context(request("SHFE.rb2605"), bj("2025-12-24 10:00:00"), { instrument: none })),
  );
  assertEquals(d.message, "SHFE.rb2605 has no trading sessions in its trading_time");
  ok(checkSession(context(request("SHFE.xx9999"), bj("2025-12-24 03:00:00"))));
});

// ------------------------------------------------------------------------------------------------------
// checkRequestAge
// ------------------------------------------------------------------------------------------------------

Deno.test("checkRequestAge: exactly maxAge old passes, 1 ms more is STALE_REQUEST on timestamp", () => {
  const now = bj("2025-12-24 10:00:00");
  const withTs = (ts: number | null) => context(request("SHFE.rb2605", { timestamp_ms: ts }), now);
  ok(checkRequestAge(withTs(now), { maxAgeMs: 5000 }));
  ok(checkRequestAge(withTs(now - 5000), { maxAgeMs: 5000 }));
  const stale = refused(checkRequestAge(withTs(now - 5001), { maxAgeMs: 5000 }));
  assertEquals([stale.code, stale.field], ["STALE_REQUEST", "timestamp"]);
  assertEquals(
    stale.message,
    "request is 5001 ms old (timestamp 2025-12-24T01:59:54.999Z), older than max_request_age_ms 5000",
  );
});

Deno.test("checkRequestAge: a timestamp too far in the future (clock skew) is refused too", () => {
  const now = bj("2025-12-24 10:00:00");
  const withTs = (ts: number) => context(request("SHFE.rb2605", { timestamp_ms: ts }), now);
  ok(checkRequestAge(withTs(now + 5000), { maxAgeMs: 5000 }));
  const future = refused(checkRequestAge(withTs(now + 5001), { maxAgeMs: 5000 }));
  assertEquals([future.code, future.field], ["STALE_REQUEST", "timestamp"]);
  assertMatch(future.message, /5001 ms in the future, more than max_request_age_ms 5000 \(clock skew\)$/);
});

Deno.test("checkRequestAge: no timestamp, or maxAgeMs 0, passes", () => {
  const now = bj("2025-12-24 10:00:00");
  ok(checkRequestAge(context(request("SHFE.rb2605", { timestamp_ms: null }), now), { maxAgeMs: 5000 }));
  const ancient = context(request("SHFE.rb2605", { timestamp_ms: now - 86_400_000 }), now);
  ok(checkRequestAge(ancient, { maxAgeMs: 0 }));
  assertEquals(refused(checkRequestAge(ancient, { maxAgeMs: 1 })).code, "STALE_REQUEST");
});
