/**
 * Exchange-time helpers for China futures: Beijing time (UTC+8, no daylight saving), DIFF quote datetimes,
 * trading sessions (`trading_time` of the symbols file, with night sessions past midnight written
 * `"25:00:00"`/`"26:30:00"`) and trading days. Pure functions on epoch milliseconds.
 *
 * Calendar model (used by every function here): sessions run on weekdays Monday–Friday only. A night
 * session belongs to the evening of a weekday and continues past midnight into the next calendar morning,
 * so Saturday 00:30 is inside Friday's `21:00:00–25:00:00` session and Monday 00:30 is inside nothing.
 * There is **no holiday calendar**: exchange holidays (Spring Festival, National Day, …) and the rule that
 * there is no night session before a holiday are not modelled.
 *
 * @module
 */

import type { SessionList, TradingTime } from "./types.ts";

/** Beijing is UTC+8 all year. */
export const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 86_400_000;
const DAY_S = 86_400;
/** Evening times from this second of day belong to the next trading day (TqSim settles at 18:00). */
export const TRADING_DAY_CUTOFF_SECONDS = 18 * 3600;

/** Calendar parts of an instant in Beijing time. */
export interface BeijingParts {
  /** `"YYYY-MM-DD"`. */
  date: string;
  /** `"HH:MM:SS"`. */
  time: string;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Seconds since Beijing midnight, with the fraction of the millisecond part (0 ≤ x < 86400). */
  secondsOfDay: number;
}

/** A half-open session interval `[startMs, endMs)` in epoch milliseconds. */
export interface SessionInterval {
  startMs: number;
  endMs: number;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Epoch ms of Beijing midnight of the Beijing calendar day that contains `ms`. */
function beijingMidnight(ms: number): number {
  return Math.floor((ms + BEIJING_OFFSET_MS) / DAY_MS) * DAY_MS - BEIJING_OFFSET_MS;
}

/** Calendar date, clock time, weekday and seconds of day of `ms` in Beijing time. */
export function beijingParts(ms: number): BeijingParts {
  const d = new Date(ms + BEIJING_OFFSET_MS);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return { date, time, weekday: d.getUTCDay(), secondsOfDay: (ms - beijingMidnight(ms)) / 1000 };
}

/** A Beijing calendar day; `month` is 1-based. */
export interface CalendarDay {
  year: number;
  month: number;
  day: number;
}

/**
 * Epoch ms of `seconds` after Beijing midnight of `date`. `seconds` may exceed 86400 (night sessions) and
 * out-of-range days (0, 32, …) roll over like `Date.UTC`.
 */
export function beijingToMs(date: CalendarDay, seconds = 0): number {
  return Date.UTC(date.year, date.month - 1, date.day) - BEIJING_OFFSET_MS + seconds * 1000;
}

/**
 * Format `ms` as a DIFF quote datetime in Beijing time with microseconds,
 * e.g. `"2025-12-24 10:00:00.500000"`. Fractional milliseconds are kept to the microsecond.
 */
export function formatQuoteDatetime(ms: number): string {
  const micros = Math.round(ms * 1000);
  const wholeMs = Math.floor(micros / 1_000_000) * 1000;
  const frac = micros - wholeMs * 1000;
  const p = beijingParts(wholeMs);
  return `${p.date} ${p.time}.${pad(frac, 6)}`;
}

const QUOTE_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/**
 * Parse a DIFF quote datetime (Beijing time, `"YYYY-MM-DD HH:MM:SS[.ffffff]"`, 1–9 fraction digits) to
 * epoch ms. Microseconds survive as a fractional millisecond (`formatQuoteDatetime` inverts it exactly);
 * digits beyond microseconds are dropped. Throws `SyntaxError` on anything else.
 */
export function parseQuoteDatetime(s: string): number {
  const m = QUOTE_DATETIME.exec(s);
  if (!m) throw new SyntaxError(`not a quote datetime: ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, se, frac = ""] = m;
  const base = beijingToMs(
    { year: Number(y), month: Number(mo), day: Number(d) },
    Number(h) * 3600 + Number(mi) * 60 + Number(se),
  );
  const micros = Number(frac.padEnd(6, "0").slice(0, 6));
  return base + micros / 1000;
}

/**
 * Seconds of a `trading_time` clock string, `"HH:MM:SS"` with hours possibly ≥ 24 (`"26:30:00"` → 95400).
 * Throws `SyntaxError` on malformed input.
 */
export function clockToSeconds(clock: string): number {
  const m = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(clock);
  if (!m) throw new SyntaxError(`not a session clock: ${JSON.stringify(clock)}`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

function allSessions(tt: TradingTime): SessionList {
  return [...(tt.day ?? []), ...(tt.night ?? [])];
}

function isWeekday(weekday: number): boolean {
  return weekday >= 1 && weekday <= 5;
}

/**
 * Every session interval that overlaps `range` (`[startMs, endMs)`), in start order. Sessions are anchored on the
 * weekdays Monday–Friday (night sessions on the weekday evening, ending the next calendar morning when
 * written past 24:00). No holidays.
 */
export function sessionIntervals(tt: TradingTime, range: SessionInterval): SessionInterval[] {
  const { startMs: fromMs, endMs: toMs } = range;
  const sessions = allSessions(tt).map(([s, e]) => [clockToSeconds(s), clockToSeconds(e)] as const);
  const maxEnd = Math.max(DAY_S, ...sessions.map(([, e]) => e));
  const out: SessionInterval[] = [];
  // Start far enough back to catch a night session that started on an earlier day.
  let day = beijingMidnight(fromMs) - Math.ceil(maxEnd / DAY_S) * DAY_MS;
  for (; day < toMs; day += DAY_MS) {
    if (!isWeekday(new Date(day + BEIJING_OFFSET_MS).getUTCDay())) continue;
    for (const [s, e] of sessions) {
      const startMs = day + s * 1000;
      const endMs = day + e * 1000;
      if (endMs > fromMs && startMs < toMs && endMs > startMs) out.push({ startMs, endMs });
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** The session `[startMs, endMs)` containing `ms`, or `undefined` outside every session. */
export function sessionBounds(tt: TradingTime, ms: number): SessionInterval | undefined {
  return sessionIntervals(tt, { startMs: ms, endMs: ms + 1 }).find((i) => i.startMs <= ms && ms < i.endMs);
}

/**
 * Whether `ms` is inside a session of `tt` (half-open: the exact start is inside, the exact end is
 * outside). Weekdays only, no holiday calendar (see the module doc).
 */
export function isInSession(tt: TradingTime, ms: number): boolean {
  return sessionBounds(tt, ms) !== undefined;
}

/**
 * The first session start strictly after `ms` (so from inside a session it is the next session, not the
 * current one). Looks up to 14 days ahead; `undefined` if `tt` has no sessions.
 */
export function nextSessionStart(tt: TradingTime, ms: number): number | undefined {
  return sessionIntervals(tt, { startMs: ms, endMs: ms + 14 * DAY_MS }).find((i) => i.startMs > ms)?.startMs;
}

function addDaysToDate(date: string, days: number): { ymd: string; weekday: number } {
  const [y, m, d] = date.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return {
    ymd: `${pad(t.getUTCFullYear(), 4)}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}`,
    weekday: t.getUTCDay(),
  };
}

/**
 * The trading day (`"YYYYMMDD"`) that `ms` belongs to: times before 18:00 on a weekday belong to that
 * date; from 18:00 (evening and night sessions) they belong to the next weekday (Friday evening → Monday);
 * Saturday and Sunday (including the Saturday-morning tail of Friday's night session) roll to Monday.
 * No holiday calendar.
 */
export function tradingDayOf(ms: number): string {
  const p = beijingParts(ms);
  let offset = p.secondsOfDay >= TRADING_DAY_CUTOFF_SECONDS ? 1 : 0;
  let day = addDaysToDate(p.date, offset);
  while (!isWeekday(day.weekday)) day = addDaysToDate(p.date, ++offset);
  return day.ymd;
}
