/**
 * Market data of the local simulated exchange: one DIFF quote (`quotes/<symbol>`, §4 of diff-protocol.md)
 * per catalogue symbol, moved by a seeded random walk, plus exact control for tests.
 *
 * Model:
 * - A quote is created lazily (first `quote`, `setQuote` or `activate`) from the symbols-file entry:
 *   `last_price` (the product's reference price) rounded to the tick is the price, `pre_settlement` and
 *   `pre_close`; the limits are `pre_settlement × (1 ± limitRatioOf(info))` rounded inward to ticks.
 * - The book is one tick wide: `bid_price1 = last_price`, `ask_price1 = last_price + tick`, levels 2–5 one
 *   tick apart outward, levels 6–10 `null` (as the recorded md feeds send beyond their depth); a level
 *   outside the limits is `null`. Volumes are random (1–50).
 * - `step()` moves each active symbol that is in session by a random −k…+k ticks (default k = 2), clamped so
 *   that the whole one-tick book stays inside the limits, trades a random 1–10 lots at the new price and
 *   updates `datetime`, `volume`, `amount`, `average`, `highest`, `lowest`, `open_interest` and the book.
 * - All prices are computed from integer tick counts, so there is no float drift.
 * - Each symbol has its own PRNG seeded from `(seed, symbol)`: the same seed and the same sequence of calls
 *   give the same quotes, and one symbol's path does not depend on which other symbols are active.
 *
 * @module
 */

import type { InstrumentInfo, MaybeNumber, Quote, SymbolsFile } from "../diff/types.ts";
import { formatQuoteDatetime } from "../diff/trading_time.ts";
import { limitRatioOf } from "./catalogue.ts";
import { createRandom, hashSeed, type Random } from "./random.ts";

/** Options of {@linkcode SimMarket}. */
export interface SimMarketOptions {
  /** PRNG seed. */
  seed: number;
  /** The sim clock (epoch ms); stamps `datetime` and gates `step()`. */
  nowMs: () => number;
  /** Whether `symbol` trades at `ms` (e.g. `catalogueInSession(catalogue)`). */
  inSession: (symbol: string, ms: number) => boolean;
  /** Largest random-walk move per step, in ticks (default 2). */
  maxStepTicks?: number;
  /** Book levels with prices, 1–10 (default 5); deeper levels are `null`. */
  depth?: number;
}

/** Receives the changed fields of one quote (never the whole quote unless everything changed). */
export type QuoteListener = (symbol: string, changed: Readonly<Partial<Quote>>) => void;

/** Number of book levels a DIFF quote carries. */
export const QUOTE_LEVELS = 10;
const LIMIT_EPSILON = 1e-6;

/** Book fields of a quote: levels 1–10, level 1 always present (possibly `null`). */
type Book =
  & Pick<Quote, "ask_price1" | "ask_volume1" | "bid_price1" | "bid_volume1">
  & Record<string, MaybeNumber>;

interface SymbolState {
  info: InstrumentInfo;
  tick: number;
  decs: number;
  multiplier: number;
  rng: Random;
  quote: Quote;
}

function decimalsOf(x: number): number {
  const s = String(x);
  if (s.includes("e-")) return Number(s.split("e-")[1]);
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

function numberOf(v: MaybeNumber | string | undefined): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

/** The simulated market: quotes for the symbols of one catalogue. */
export class SimMarket {
  readonly #catalogue: SymbolsFile;
  readonly #seed: number;
  readonly #nowMs: () => number;
  readonly #inSession: (symbol: string, ms: number) => boolean;
  readonly #maxStep: number;
  readonly #depth: number;
  readonly #states = new Map<string, SymbolState>();
  readonly #active = new Set<string>();
  readonly #listeners = new Set<QuoteListener>();

  /** A market over `catalogue`; nothing is active until {@linkcode SimMarket.activate}. */
  constructor(catalogue: SymbolsFile, options: SimMarketOptions) {
    this.#catalogue = catalogue;
    this.#seed = options.seed >>> 0;
    this.#nowMs = options.nowMs;
    this.#inSession = options.inSession;
    this.#maxStep = options.maxStepTicks ?? 2;
    this.#depth = options.depth ?? 5;
    if (!Number.isInteger(this.#maxStep) || this.#maxStep < 0) {
      throw new RangeError("maxStepTicks: integer ≥ 0");
    }
    if (!Number.isInteger(this.#depth) || this.#depth < 1 || this.#depth > QUOTE_LEVELS) {
      throw new RangeError("depth: integer 1–10");
    }
  }

  /** Whether the catalogue knows `symbol`. */
  has(symbol: string): boolean {
    return Object.hasOwn(this.#catalogue, symbol);
  }

  /** A copy of the full quote of `symbol`, or `undefined` for symbols not in the catalogue. */
  quote(symbol: string): Quote | undefined {
    const state = this.#state(symbol);
    return state ? { ...state.quote } : undefined;
  }

  /**
   * Overwrite quote fields exactly as given (nothing is recomputed or rounded) and emit them as one
   * change. Fields set to `undefined` are ignored. Throws for symbols not in the catalogue. A later
   * `step()` continues from these values (price from `last_price`, clamping from the limits).
   */
  setQuote(symbol: string, fields: Partial<Quote>): void {
    const state = this.#state(symbol);
    if (!state) throw new Error(`SimMarket.setQuote: unknown symbol ${symbol}`);
    const changed: Partial<Quote> = {};
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      state.quote[key] = value;
      changed[key] = value;
    }
    this.#emit(symbol, changed);
  }

  /** Add symbols to the set that `step()` moves. Symbols not in the catalogue are ignored. */
  activate(symbols: readonly string[]): void {
    for (const s of symbols) if (this.#state(s)) this.#active.add(s);
  }

  /** Remove symbols from the active set (their quotes stay as they are). */
  deactivate(symbols: readonly string[]): void {
    for (const s of symbols) this.#active.delete(s);
  }

  /** The active symbols, in activation order. */
  activeSymbols(): string[] {
    return [...this.#active];
  }

  /**
   * One random-walk step for every active symbol that is in session at `nowMs()`; emits each symbol's
   * changed fields. Returns the symbols that changed.
   */
  step(): string[] {
    const now = this.#nowMs();
    const moved: string[] = [];
    for (const symbol of this.#active) {
      if (!this.#inSession(symbol, now)) continue;
      const state = this.#states.get(symbol)!;
      const next = this.#walk(state, now);
      const changed: Partial<Quote> = {};
      for (const [key, value] of Object.entries(next)) {
        if (state.quote[key] !== value) changed[key] = value;
      }
      Object.assign(state.quote, changed);
      if (Object.keys(changed).length > 0) {
        moved.push(symbol);
        this.#emit(symbol, changed);
      }
    }
    return moved;
  }

  /** Listen to quote changes (only the changed fields); returns the unsubscribe function. */
  subscribe(listener: QuoteListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(symbol: string, changed: Partial<Quote>): void {
    const frozen = Object.freeze({ ...changed });
    for (const listener of [...this.#listeners]) listener(symbol, frozen);
  }

  #state(symbol: string): SymbolState | undefined {
    const existing = this.#states.get(symbol);
    if (existing) return existing;
    if (!this.has(symbol)) return undefined;
    const info = this.#catalogue[symbol];
    const tick = info.price_tick;
    const state: SymbolState = {
      info,
      tick,
      decs: Math.max(info.price_decs ?? 0, decimalsOf(tick)),
      multiplier: info.volume_multiple,
      rng: createRandom(hashSeed(this.#seed, symbol)),
      quote: {} as Quote,
    };
    state.quote = this.#initialQuote(state);
    this.#states.set(symbol, state);
    return state;
  }

  #price(state: SymbolState, ticks: number): number {
    return Number((ticks * state.tick).toFixed(state.decs));
  }

  #initialQuote(state: SymbolState): Quote {
    const { info, tick } = state;
    const ref = typeof info.last_price === "number" && info.last_price > 0 ? info.last_price : tick * 1000;
    const refT = Math.max(1, Math.round(ref / tick));
    const ratio = limitRatioOf(info);
    const upperT = Math.floor(refT * (1 + ratio) + LIMIT_EPSILON);
    const lowerT = Math.max(1, Math.ceil(refT * (1 - ratio) - LIMIT_EPSILON));
    const lastT = clamp(refT, lowerT, Math.max(lowerT, upperT - 1));
    const price = this.#price(state, lastT);
    const pre = this.#price(state, refT);
    const oi = typeof info.open_interest === "number" ? info.open_interest : 0;
    return {
      instrument_id: info.instrument_id,
      datetime: formatQuoteDatetime(this.#nowMs()),
      ...this.#book(state, lastT, lowerT, upperT),
      last_price: price,
      highest: price,
      lowest: price,
      open: price,
      close: "-",
      average: price,
      volume: 0,
      amount: 0,
      open_interest: oi,
      settlement: "-",
      upper_limit: this.#price(state, upperT),
      lower_limit: this.#price(state, lowerT),
      pre_open_interest: oi,
      pre_settlement: pre,
      pre_close: pre,
    };
  }

  /** Book levels 1–10 around a one-tick spread: bid1 = last, ask1 = last + 1 tick. */
  #book(state: SymbolState, lastT: number, lowerT: number, upperT: number): Book {
    const book: Record<string, MaybeNumber> = {};
    for (let level = 1; level <= QUOTE_LEVELS; level++) {
      const askT = lastT + level;
      const bidT = lastT - (level - 1);
      const askOk = level <= this.#depth && askT <= upperT;
      const bidOk = level <= this.#depth && bidT >= lowerT;
      book[`ask_price${level}`] = askOk ? this.#price(state, askT) : null;
      book[`ask_volume${level}`] = askOk ? state.rng.int(1, 50) : null;
      book[`bid_price${level}`] = bidOk ? this.#price(state, bidT) : null;
      book[`bid_volume${level}`] = bidOk ? state.rng.int(1, 50) : null;
    }
    return book as Book;
  }

  /** The fields of the next quote after one random-walk step (the caller diffs them). */
  #walk(state: SymbolState, now: number): Partial<Quote> {
    const q = state.quote;
    const tick = state.tick;
    const toTicks = (v: number) => Math.round(v / tick);
    const upper = numberOf(q.upper_limit);
    const lower = numberOf(q.lower_limit);
    const upperT = upper === undefined ? Number.MAX_SAFE_INTEGER : Math.floor(upper / tick + LIMIT_EPSILON);
    const lowerT = lower === undefined ? 1 : Math.max(1, Math.ceil(lower / tick - LIMIT_EPSILON));
    const fromT = toTicks(numberOf(q.last_price) ?? numberOf(q.pre_settlement) ?? lowerT * tick);
    const lastT = clamp(
      fromT + state.rng.int(-this.#maxStep, this.#maxStep),
      lowerT,
      Math.max(lowerT, upperT - 1),
    );
    const price = this.#price(state, lastT);
    const lots = state.rng.int(1, 10);
    const volume = (numberOf(q.volume) ?? 0) + lots;
    const amount = Number(((numberOf(q.amount) ?? 0) + lots * price * state.multiplier).toFixed(2));
    const oi = Math.max(0, (numberOf(q.open_interest) ?? 0) + state.rng.int(-lots, lots));
    const highest = numberOf(q.highest);
    const lowest = numberOf(q.lowest);
    return {
      datetime: formatQuoteDatetime(now),
      ...this.#book(state, lastT, lowerT, upperT),
      last_price: price,
      highest: highest === undefined || price > highest ? price : highest,
      lowest: lowest === undefined || price < lowest ? price : lowest,
      open: numberOf(q.open) ?? price,
      volume,
      amount,
      average: Number((amount / (volume * state.multiplier)).toFixed(3)),
      open_interest: oi,
    };
  }
}
