import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import type { TradingTime } from "./types.ts";
import {
  beijingParts,
  beijingToMs,
  clockToSeconds,
  formatQuoteDatetime,
  isInSession,
  nextSessionStart,
  parseQuoteDatetime,
  sessionBounds,
  sessionIntervals,
  tradingDayOf,
} from "./trading_time.ts";

/** Beijing wall clock → epoch ms, written independently of the module: ISO with an explicit +08:00. */
function bj(iso: string): number {
  return Date.parse(`${iso}+08:00`);
}

const DAY = [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"], ["13:30:00", "15:00:00"]] as [
  string,
  string,
][];
const CU: TradingTime = { day: DAY, night: [["21:00:00", "25:00:00"]] };
const AU: TradingTime = { day: DAY, night: [["21:00:00", "26:30:00"]] };
const RB: TradingTime = { day: DAY, night: [["21:00:00", "23:00:00"]] };
const JD: TradingTime = { day: DAY, night: [] };
const IF: TradingTime = { day: [["09:30:00", "11:30:00"], ["13:00:00", "15:00:00"]], night: [] };

Deno.test("beijingParts: UTC+8 date, time, weekday and seconds of day", () => {
  // 2025-12-24T02:00:00Z is 10:00 in Beijing, a Wednesday.
  assertEquals(beijingParts(Date.UTC(2025, 11, 24, 2, 0, 0)), {
    date: "2025-12-24",
    time: "10:00:00",
    weekday: 3,
    secondsOfDay: 36000,
  });
  // 2025-12-26T17:30:00Z is Saturday 01:30 in Beijing.
  const p = beijingParts(Date.UTC(2025, 11, 26, 17, 30, 0, 250));
  assertEquals([p.date, p.time, p.weekday, p.secondsOfDay], ["2025-12-27", "01:30:00", 6, 5400.25]);
  // Beijing midnight is 16:00 UTC the previous day.
  assertEquals(beijingParts(Date.UTC(2025, 11, 31, 16, 0, 0)).date, "2026-01-01");
  assertEquals(beijingParts(Date.UTC(2025, 11, 31, 15, 59, 59)).time, "23:59:59");
  assertEquals(beijingToMs({ year: 2025, month: 12, day: 24 }, 36000), Date.UTC(2025, 11, 24, 2));
  assertEquals(
    beijingToMs({ year: 2025, month: 12, day: 26 }, clockToSeconds("25:00:00")),
    bj("2025-12-27T01:00:00"),
  );
});

Deno.test("formatQuoteDatetime / parseQuoteDatetime round-trip with microseconds", () => {
  const ms = bj("2025-12-24T10:00:00.500");
  assertEquals(formatQuoteDatetime(ms), "2025-12-24 10:00:00.500000");
  assertEquals(parseQuoteDatetime("2025-12-24 10:00:00.500000"), ms);
  assertEquals(parseQuoteDatetime("2025-12-24 10:00:00"), bj("2025-12-24T10:00:00"));
  assertEquals(parseQuoteDatetime("2025-12-24 10:00:00.5"), ms);
  for (
    const s of ["2025-05-19 14:59:59.999501", "2020-04-09 14:39:15.660000", "2025-05-15 14:59:59.000001"]
  ) {
    assertEquals(formatQuoteDatetime(parseQuoteDatetime(s)), s);
  }
  assertEquals(formatQuoteDatetime(bj("2025-12-31T23:59:59.999")), "2025-12-31 23:59:59.999000");
  assertThrows(() => parseQuoteDatetime("2025/12/24 10:00:00"));
  assertThrows(() => parseQuoteDatetime("-"));
});

Deno.test("clockToSeconds accepts hours past 24", () => {
  assertEquals(clockToSeconds("09:00:00"), 32400);
  assertEquals(clockToSeconds("26:30:00"), 95400);
  assertThrows(() => clockToSeconds("9:00"));
});

Deno.test("isInSession: day sessions, half-open boundaries", () => {
  assert(isInSession(RB, bj("2025-12-24T09:00:00")), "exact start is inside");
  assert(isInSession(RB, bj("2025-12-24T10:14:59.999")));
  assert(!isInSession(RB, bj("2025-12-24T10:15:00")), "exact end is outside");
  assert(!isInSession(RB, bj("2025-12-24T10:20:00")), "morning break");
  assert(isInSession(RB, bj("2025-12-24T10:30:00")));
  assert(!isInSession(RB, bj("2025-12-24T12:00:00")));
  assert(isInSession(RB, bj("2025-12-24T14:59:59")));
  assert(!isInSession(RB, bj("2025-12-24T15:00:00")));
  assert(!isInSession(RB, bj("2025-12-24T08:59:59.999")));
  assert(isInSession(IF, bj("2025-12-24T09:30:00")));
  assert(!isInSession(IF, bj("2025-12-24T09:29:59")));
  assert(isInSession(IF, bj("2025-12-24T13:00:00")));
  // Weekends have no day session.
  assert(!isInSession(RB, bj("2025-12-27T10:00:00")), "Saturday");
  assert(!isInSession(RB, bj("2025-12-28T10:00:00")), "Sunday");
  assert(isInSession(RB, bj("2025-12-29T10:00:00")), "Monday");
});

Deno.test("isInSession: night sessions, including past midnight", () => {
  // rb: 21:00–23:00.
  assert(isInSession(RB, bj("2025-12-24T21:00:00")));
  assert(isInSession(RB, bj("2025-12-24T22:59:59.999")));
  assert(!isInSession(RB, bj("2025-12-24T23:00:00")));
  assert(!isInSession(RB, bj("2025-12-24T20:59:59")));
  // cu: 21:00–25:00 (01:00 next morning).
  assert(isInSession(CU, bj("2025-12-24T23:59:59")));
  assert(isInSession(CU, bj("2025-12-25T00:00:00")));
  assert(isInSession(CU, bj("2025-12-25T00:59:59.999")));
  assert(!isInSession(CU, bj("2025-12-25T01:00:00")));
  // au: 21:00–26:30 (02:30 next morning).
  assert(isInSession(AU, bj("2025-12-25T02:29:59")));
  assert(!isInSession(AU, bj("2025-12-25T02:30:00")));
  assert(!isInSession(CU, bj("2025-12-25T02:00:00")));
  // Friday night continues into Saturday morning.
  assert(isInSession(CU, bj("2025-12-26T21:00:00")), "Friday evening");
  assert(isInSession(CU, bj("2025-12-27T00:30:00")), "Saturday 00:30 is Friday's night session");
  assert(isInSession(AU, bj("2025-12-27T02:00:00")));
  assert(!isInSession(CU, bj("2025-12-27T21:00:00")), "no Saturday night session");
  assert(!isInSession(CU, bj("2025-12-28T21:30:00")), "no Sunday night session");
  assert(!isInSession(CU, bj("2025-12-29T00:30:00")), "Monday 00:30 follows Sunday: closed");
  assert(isInSession(CU, bj("2025-12-30T00:30:00")), "Tuesday 00:30 follows Monday's night");
  // jd has no night session.
  assert(!isInSession(JD, bj("2025-12-24T21:30:00")));
  assert(isInSession(JD, bj("2025-12-24T09:30:00")));
  // A trading_time without a night key (as in the symbols file for jd) is accepted.
  assert(!isInSession({ day: DAY } as unknown as TradingTime, bj("2025-12-24T21:30:00")));
});

Deno.test("sessionBounds and nextSessionStart", () => {
  assertEquals(sessionBounds(CU, bj("2025-12-27T00:30:00")), {
    startMs: bj("2025-12-26T21:00:00"),
    endMs: bj("2025-12-27T01:00:00"),
  });
  assertEquals(sessionBounds(RB, bj("2025-12-24T10:20:00")), undefined);
  assertEquals(nextSessionStart(RB, bj("2025-12-24T10:20:00")), bj("2025-12-24T10:30:00"));
  assertEquals(nextSessionStart(RB, bj("2025-12-24T10:30:00")), bj("2025-12-24T13:30:00"), "strictly after");
  assertEquals(nextSessionStart(RB, bj("2025-12-24T15:00:00")), bj("2025-12-24T21:00:00"));
  assertEquals(nextSessionStart(JD, bj("2025-12-26T15:00:00")), bj("2025-12-29T09:00:00"), "Fri → Mon");
  assertEquals(nextSessionStart(CU, bj("2025-12-27T00:30:00")), bj("2025-12-29T09:00:00"));
  assertEquals(nextSessionStart({ day: [], night: [] }, bj("2025-12-24T10:00:00")), undefined);
  // A full week of cu: 5 × (3 day + 1 night) sessions.
  const week = sessionIntervals(CU, {
    startMs: bj("2025-12-29T00:00:00"),
    endMs: bj("2026-01-05T00:00:00"),
  });
  assertEquals(week.length, 20);
  assertEquals(week[week.length - 1], {
    startMs: bj("2026-01-02T21:00:00"),
    endMs: bj("2026-01-03T01:00:00"),
  });
});

Deno.test("tradingDayOf: day, evening, after midnight, weekend", () => {
  assertEquals(tradingDayOf(bj("2025-12-24T10:00:00")), "20251224", "Wednesday day session");
  assertEquals(tradingDayOf(bj("2025-12-24T17:59:59")), "20251224");
  assertEquals(tradingDayOf(bj("2025-12-24T18:00:00")), "20251225", "evening → next weekday");
  assertEquals(tradingDayOf(bj("2025-12-24T21:30:00")), "20251225");
  assertEquals(tradingDayOf(bj("2025-12-25T01:30:00")), "20251225", "after midnight Thu → Thu");
  assertEquals(tradingDayOf(bj("2025-12-26T21:30:00")), "20251229", "Friday night → Monday");
  assertEquals(tradingDayOf(bj("2025-12-27T00:30:00")), "20251229", "Saturday 00:30 → Monday");
  assertEquals(tradingDayOf(bj("2025-12-27T12:00:00")), "20251229", "Saturday → Monday");
  assertEquals(tradingDayOf(bj("2025-12-28T20:00:00")), "20251229", "Sunday evening → Monday");
  assertEquals(tradingDayOf(bj("2025-12-29T00:30:00")), "20251229", "Monday early morning → Monday");
  assertEquals(tradingDayOf(bj("2025-12-31T21:00:00")), "20260101", "year rollover (no holidays)");
});
