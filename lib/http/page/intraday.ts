/**
 * The intraday series behind the live page's chart (`GET /intraday`): balance and net position per
 * symbol, sampled from the live view whenever the account or a position changes (at most one point per
 * `minIntervalMs`; a change within it replaces the last point, so the latest value is always there).
 * The series restarts when the trading day changes and keeps at most `maxPoints` (older halves are
 * thinned by dropping every other point, so the whole day stays visible).
 *
 * @module
 */
import type { LiveView } from "../../stream/live_view.ts";

/** One sample. */
export interface IntradayPoint {
  /** Epoch ms (local clock). */
  t: number;
  balance: number;
  /** Net lots per symbol. */
  nets: Record<string, number>;
}

/** Options of {@link IntradaySeries}. */
export interface IntradaySeriesOptions {
  /** Default 1000 ms. */
  minIntervalMs?: number;
  /** Default 5000. */
  maxPoints?: number;
  now?: () => number;
}

/** Samples a {@link LiveView} into an intraday series. */
export class IntradaySeries {
  #view: LiveView;
  #points: IntradayPoint[] = [];
  #day = "";
  #off: () => void;
  #min: number;
  #max: number;
  #now: () => number;

  /** Start sampling `view`. */
  constructor(view: LiveView, options: IntradaySeriesOptions = {}) {
    this.#view = view;
    this.#min = options.minIntervalMs ?? 1000;
    this.#max = Math.max(10, options.maxPoints ?? 5000);
    this.#now = options.now ?? Date.now;
    this.#off = view.subscribe((change) => {
      if (change.type === "account" || change.type === "position" || change.type === "snapshot") {
        this.sample();
      }
    });
  }

  /** Take a sample now (no-op before the view has an account). */
  sample(): void {
    const account = this.#view.account();
    if (!account) return;
    const day = this.#view.tradingDay;
    if (day !== this.#day) {
      this.#day = day;
      this.#points = [];
    }
    const nets: Record<string, number> = {};
    for (const p of this.#view.positions()) nets[p.symbol] = p.net;
    const point = { t: this.#now(), balance: account.balance, nets };
    const last = this.#points[this.#points.length - 1];
    // within the interval the last point is replaced, except the day's first point when the values moved
    // (so the chart starts at the opening value)
    const same = last !== undefined && last.balance === point.balance &&
      JSON.stringify(last.nets) === JSON.stringify(point.nets);
    if (last && point.t - last.t < this.#min && (this.#points.length > 1 || same)) {
      this.#points[this.#points.length - 1] = point;
    } else {
      this.#points.push(point);
    }
    if (this.#points.length > this.#max) {
      const half = Math.floor(this.#points.length / 2);
      const thinned = this.#points.slice(0, half).filter((_, i) => i % 2 === 0);
      this.#points = [...thinned, ...this.#points.slice(half)];
    }
  }

  /** The trading day and its points (copies). */
  snapshot(): { trading_day: string; points: IntradayPoint[] } {
    return { trading_day: this.#day, points: this.#points.map((p) => ({ ...p, nets: { ...p.nets } })) };
  }

  /** Stop sampling. */
  close(): void {
    this.#off();
  }
}
