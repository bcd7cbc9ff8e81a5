/**
 * Counters for the exchanges' supervision of trading behaviour (lessons §16.6, §16.7):
 *
 * - {@linkcode CancelCounter}: cancels per contract per trading day. The exchanges flag an account at
 *   500 cancels on one contract in one day ("abnormal trading"), and CTP does not stop it, so we warn
 *   early and refuse below that number.
 * - {@linkcode BurstMonitor}: seconds with ≥ 10 inserts + cancels. Under the 2025 programmatic-trading rules
 *   an account with ≥ 10 such seconds in a trading day must be reported. This only counts (for `/health`
 *   and metrics); it refuses nothing.
 *
 * What they see is what this service sends: cancels and orders placed from other terminals on the same
 * account are not counted, and neither are the automatic cancels of FAK/FOK remainders (which the
 * exchanges exempt anyway). Both are in-memory with `exportState`/`importState`; the cancel counts survive a
 * restart by being rebuilt from PostgreSQL at start ({@linkcode CancelCounter.merge} of
 * `lib/store/pg/cancel_counts.ts`'s `loadCancelCounts`: the cancels recorded in `order_event`).
 *
 * @module
 */

import { tradingDayOf } from "../../diff/trading_time.ts";
import { type Decision, PASS, pass, refuse } from "./types.ts";

/** Options of {@linkcode CancelCounter}. */
export interface CancelCounterOptions {
  /** The cancel that brings the count to this number, and every later one, carries a warning (400). */
  warnAt?: number;
  /** At most this many cancels per contract per trading day; the next one is refused (480). */
  limit?: number;
}

/** Persistable state of a {@linkcode CancelCounter}: trading day (`YYYYMMDD`) → symbol → cancels sent. */
export type CancelCounterState = Record<string, Record<string, number>>;

/** The exchanges' abnormal-cancel threshold per contract per day (all four main exchanges). */
export const EXCHANGE_CANCEL_THRESHOLD = 500;

/** Cancels per contract per trading day, with a warning level and a hard limit below the exchanges' 500. */
export class CancelCounter {
  /** Warning level. */
  readonly warnAt: number;
  /** Hard limit. */
  readonly limit: number;
  #days = new Map<string, Map<string, number>>();

  /** An empty counter (defaults: warn at 400, limit 480). */
  constructor(options: CancelCounterOptions = {}) {
    this.warnAt = options.warnAt ?? 400;
    this.limit = options.limit ?? 480;
  }

  /** Cancels recorded for `symbol` on `tradingDay`. */
  count(symbol: string, tradingDay: string): number {
    return this.#days.get(tradingDay)?.get(symbol) ?? 0;
  }

  /**
   * Record one cancel sent for `symbol` on `tradingDay`; returns the new count. Days before the newest day
   * recorded are dropped (the exchanges count per trading day).
   */
  record(symbol: string, tradingDay: string): number {
    let day = this.#days.get(tradingDay);
    if (day === undefined) {
      day = new Map();
      this.#days.set(tradingDay, day);
    }
    const n = (day.get(symbol) ?? 0) + 1;
    day.set(symbol, n);
    for (const d of [...this.#days.keys()]) if (d < tradingDay) this.#days.delete(d);
    return n;
  }

  /**
   * Whether one more cancel of `symbol` on `tradingDay` may be sent: refused with CANCEL_LIMIT (field `$`)
   * once `limit` cancels were recorded; passes with a warning when it would be cancel number `warnAt` or
   * later. Records nothing: call {@linkcode CancelCounter.record} when the cancel was actually sent.
   */
  check(symbol: string, tradingDay: string): Decision {
    const n = this.count(symbol, tradingDay);
    if (n >= this.limit) {
      return refuse(
        "CANCEL_LIMIT",
        "$",
        `${symbol}: ${n} cancels already sent on trading day ${tradingDay}, the limit is ` +
          `cancel_limit_per_contract ${this.limit} (exchanges flag ${EXCHANGE_CANCEL_THRESHOLD})`,
      );
    }
    if (n + 1 >= this.warnAt) {
      return pass([
        `${symbol}: this is cancel ${n + 1} on trading day ${tradingDay} (warning from ` +
        `cancel_warn_per_contract ${this.warnAt}; refused after ${this.limit}; exchanges flag ` +
        `${EXCHANGE_CANCEL_THRESHOLD})`,
      ]);
    }
    return PASS;
  }

  /** A plain copy of the counts, for persistence. */
  exportState(): CancelCounterState {
    const out: CancelCounterState = {};
    for (const [d, m] of this.#days) out[d] = Object.fromEntries(m);
    return out;
  }

  /**
   * Take in counts kept elsewhere (the cancels recorded in PostgreSQL by an earlier run on the same trading
   * day): per trading day and symbol the larger of the two counts is kept, so merging the same cancels
   * twice, or counts this counter already holds, never counts anything twice. Bad entries are skipped.
   */
  merge(state: CancelCounterState): void {
    for (const [d, m] of Object.entries(state)) {
      let day = this.#days.get(d);
      for (const [s, n] of Object.entries(m)) {
        if (!Number.isInteger(n) || n <= 0) continue;
        if (day === undefined) {
          day = new Map();
          this.#days.set(d, day);
        }
        if (n > (day.get(s) ?? 0)) day.set(s, n);
      }
    }
  }

  /** Replace the counts with `state` (from {@linkcode CancelCounter.exportState}); bad entries are skipped. */
  importState(state: CancelCounterState): void {
    this.#days.clear();
    for (const [d, m] of Object.entries(state)) {
      const day = new Map<string, number>();
      for (const [s, n] of Object.entries(m)) {
        if (Number.isInteger(n) && n > 0) day.set(s, n);
      }
      this.#days.set(d, day);
    }
  }
}

/** Options of {@linkcode BurstMonitor}. */
export interface BurstMonitorOptions {
  /** Inserts + cancels in one second that make it a burst second (10). */
  perSecond?: number;
  /** Burst seconds in a trading day that trigger the reporting duty (10). */
  perDay?: number;
}

/** What the monitor reports (for `/health` and metrics). */
export interface BurstStats {
  /** Trading day (`YYYYMMDD`) the numbers are for; `""` before the first record. */
  trading_day: string;
  /** Seconds of this trading day with ≥ `perSecond` inserts + cancels. */
  bursts_today: number;
  /** The most inserts + cancels seen in one second this trading day. */
  max_per_second_today: number;
  /** Inserts + cancels recorded this trading day. */
  actions_today: number;
  /** `bursts_today ≥ perDay`: the programmatic-trading reporting trigger was reached. */
  trigger_reached: boolean;
}

/** Persistable state of a {@linkcode BurstMonitor}. */
export interface BurstMonitorState {
  trading_day: string;
  bursts_today: number;
  max_per_second_today: number;
  actions_today: number;
  /** Counts of the most recent seconds (epoch second → count), so a restart mid-second is exact. */
  seconds: Record<string, number>;
}

/** Keep the counts of this many recent seconds (records may arrive slightly out of order). */
const KEEP_SECONDS = 10;

/**
 * Counts inserts + cancels per calendar second (`floor(ms / 1000)` of the time passed in: pass the
 * exchange-time estimate, or the local clock when it is synchronised) and the seconds that reach
 * `perSecond`, per trading day (`tradingDayOf`, 18:00 Beijing starts the next one).
 */
export class BurstMonitor {
  /** Burst threshold per second. */
  readonly perSecond: number;
  /** Reporting trigger in burst seconds per day. */
  readonly perDay: number;
  #day = "";
  #bursts = 0;
  #max = 0;
  #actions = 0;
  #seconds = new Map<number, number>();

  /** An empty monitor (defaults: 10 per second, 10 per day). */
  constructor(options: BurstMonitorOptions = {}) {
    this.perSecond = options.perSecond ?? 10;
    this.perDay = options.perDay ?? 10;
  }

  #roll(ms: number): void {
    const day = tradingDayOf(ms);
    if (day === this.#day) return;
    if (this.#day !== "" && day < this.#day) return; // an old timestamp never rolls back
    this.#day = day;
    this.#bursts = 0;
    this.#max = 0;
    this.#actions = 0;
    this.#seconds.clear();
  }

  /** Record one insert or cancel at `ms`; returns how many actions that second now has. */
  record(ms: number): number {
    this.#roll(ms);
    const sec = Math.floor(ms / 1000);
    const n = (this.#seconds.get(sec) ?? 0) + 1;
    this.#seconds.set(sec, n);
    this.#actions++;
    if (n === this.perSecond) this.#bursts++;
    if (n > this.#max) this.#max = n;
    for (const s of this.#seconds.keys()) if (s < sec - KEEP_SECONDS) this.#seconds.delete(s);
    return n;
  }

  /** Actions already recorded in the second of `ms`. */
  inSecond(ms: number): number {
    return this.#seconds.get(Math.floor(ms / 1000)) ?? 0;
  }

  /**
   * A warning when one more action at `ms` would make its second a burst second (or it already is one),
   * else undefined. Records nothing.
   */
  warning(ms: number): string | undefined {
    const n = this.inSecond(ms) + 1;
    if (n < this.perSecond) return undefined;
    return `${n} inserts + cancels in one second (≥ ${this.perSecond} counts toward the programmatic-trading ` +
      `reporting trigger: ${this.#bursts} such seconds on trading day ${this.#day}, trigger at ${this.perDay})`;
  }

  /** The numbers of the current trading day; with `ms`, a new trading day starts at zero first. */
  stats(ms?: number): BurstStats {
    if (ms !== undefined) this.#roll(ms);
    return {
      trading_day: this.#day,
      bursts_today: this.#bursts,
      max_per_second_today: this.#max,
      actions_today: this.#actions,
      trigger_reached: this.#bursts >= this.perDay,
    };
  }

  /** A plain copy of the state, for persistence. */
  exportState(): BurstMonitorState {
    return {
      trading_day: this.#day,
      bursts_today: this.#bursts,
      max_per_second_today: this.#max,
      actions_today: this.#actions,
      seconds: Object.fromEntries([...this.#seconds].map(([s, n]) => [String(s), n])),
    };
  }

  /** Replace the state with `state` (from {@linkcode BurstMonitor.exportState}). */
  importState(state: BurstMonitorState): void {
    this.#day = state.trading_day;
    this.#bursts = state.bursts_today;
    this.#max = state.max_per_second_today;
    this.#actions = state.actions_today;
    this.#seconds = new Map(Object.entries(state.seconds).map(([s, n]) => [Number(s), n]));
  }
}
