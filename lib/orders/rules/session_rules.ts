/**
 * Time rules: the exchange-time estimate, "is the instrument trading now" and "is the request fresh".
 *
 * Exchange time is estimated the way TqSim does (diff-protocol §5): the latest quote's exchange
 * `datetime` plus the local time elapsed since that quote arrived. Without a quote (or with one whose
 * datetime is unknown) the local clock stands in for exchange time, and messages say so.
 *
 * Sessions come from the instrument's `trading_time` through `lib/diff/trading_time.ts` (weekdays only, night
 * sessions past midnight such as `21:00:00–26:30:00` belong to the weekday evening they start on, no
 * holiday calendar). Call auctions (08:55–09:00, 20:55–21:00, …) are not inside `trading_time`, so orders
 * during an auction are refused as OUTSIDE_SESSION, like TqSim does.
 *
 * @module
 */

import { beijingParts, isInSession, nextSessionStart } from "../../diff/trading_time.ts";
import type { QuoteView } from "../../broker/types.ts";
import { type Decision, fmtNum, type OrderContext, PASS, refuse } from "./types.ts";

/** An exchange-time estimate and where it came from. */
export interface ExchangeClock {
  /** Estimated exchange time, epoch ms. */
  ms: number;
  /** `quote`: quote datetime + local elapsed; `local`: no usable quote, the local clock. */
  source: "quote" | "local";
}

/**
 * Estimate exchange time: `quote.datetime_ms + (nowMs − quote.received_at)`. Falls back to `nowMs` when
 * there is no quote or its `datetime_ms`/`received_at` is not a finite number. A negative elapsed time
 * (the local clock stepped back) counts as 0: the quote's own time is a lower bound.
 */
export function exchangeClock(quote: QuoteView | undefined, nowMs: number): ExchangeClock {
  if (
    quote === undefined || !Number.isFinite(quote.datetime_ms) || !Number.isFinite(quote.received_at) ||
    !Number.isFinite(nowMs)
  ) {
    return { ms: nowMs, source: "local" };
  }
  return { ms: quote.datetime_ms + Math.max(0, nowMs - quote.received_at), source: "quote" };
}

/**
 * Estimated exchange time, epoch ms: `quote.datetime_ms + (nowMs − quote.received_at)`, or `nowMs` when
 * the quote is missing or its times are unknown (NaN-safe). See {@linkcode exchangeClock}.
 */
export function exchangeTimeMs(quote: QuoteView | undefined, nowMs: number): number {
  return exchangeClock(quote, nowMs).ms;
}

/** `"2025-12-27 01:30:00"` (Beijing) of an epoch ms. */
export function formatBeijing(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const p = beijingParts(ms);
  return `${p.date} ${p.time}`;
}

/** Describe an exchange-time estimate for a message. */
export function describeClock(clock: ExchangeClock): string {
  const at = formatBeijing(clock.ms);
  return clock.source === "quote"
    ? `exchange time ${at} (quote time + local elapsed)`
    : `local time ${at} (no quote yet: the local clock stands in for exchange time)`;
}

function describeSessions(tt: { day: [string, string][]; night: [string, string][] }): string {
  const list = (s: [string, string][]) => s.length === 0 ? "none" : s.map(([a, b]) => `${a}–${b}`).join(", ");
  return `day ${list(tt.day)}; night ${list(tt.night)}`;
}

/**
 * OUTSIDE_SESSION (field `symbol`) unless the estimated exchange time is inside the instrument's
 * `trading_time` (start inclusive, end exclusive). Passes when the instrument is unknown (that is
 * `checkInstrument`'s refusal). An instrument without any session is always refused.
 */
export function checkSession(ctx: OrderContext): Decision {
  const ins = ctx.instrument;
  if (ins === undefined) return PASS;
  const clock = exchangeClock(ctx.quote, ctx.nowMs);
  const tt = ins.trading_time;
  if (tt.day.length === 0 && tt.night.length === 0) {
    return refuse("OUTSIDE_SESSION", "symbol", `${ins.symbol} has no trading sessions in its trading_time`);
  }
  if (!Number.isFinite(clock.ms)) {
    return refuse("OUTSIDE_SESSION", "symbol", `${ins.symbol}: no usable clock (${clock.ms})`);
  }
  if (isInSession(tt, clock.ms)) return PASS;
  const next = nextSessionStart(tt, clock.ms);
  const nextText = next === undefined ? "" : `; next session starts ${formatBeijing(next)}`;
  return refuse(
    "OUTSIDE_SESSION",
    "symbol",
    `${ins.symbol} is not trading at ${describeClock(clock)}: trading_time ${
      describeSessions(tt)
    }${nextText}`,
  );
}

/** Options of {@linkcode checkRequestAge}. */
export interface RequestAgeOptions {
  /** Largest accepted age (and future skew) in ms; 0 turns the check off. */
  maxAgeMs: number;
}

/**
 * STALE_REQUEST (field `timestamp`) when the request's client timestamp is more than `maxAgeMs` before
 * the local clock, or more than `maxAgeMs` after it (clock skew). Exactly `maxAgeMs` passes. A request
 * without a timestamp, or `maxAgeMs` 0, passes. Compared with the local clock: the client's timestamp is
 * wall-clock time, not exchange time.
 */
export function checkRequestAge(ctx: OrderContext, options: RequestAgeOptions): Decision {
  const { maxAgeMs } = options;
  const ts = ctx.request.timestamp_ms;
  if (maxAgeMs <= 0 || ts === null) return PASS;
  if (!Number.isFinite(ts)) {
    return refuse("STALE_REQUEST", "timestamp", `timestamp ${ts} is not a usable time`);
  }
  const age = ctx.nowMs - ts;
  if (age > maxAgeMs) {
    return refuse(
      "STALE_REQUEST",
      "timestamp",
      `request is ${fmtNum(age)} ms old (timestamp ${new Date(ts).toISOString()}), older than ` +
        `max_request_age_ms ${maxAgeMs}`,
    );
  }
  if (-age > maxAgeMs) {
    return refuse(
      "STALE_REQUEST",
      "timestamp",
      `timestamp ${new Date(ts).toISOString()} is ${fmtNum(-age)} ms in the future, more than ` +
        `max_request_age_ms ${maxAgeMs} (clock skew)`,
    );
  }
  return PASS;
}
