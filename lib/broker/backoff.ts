/**
 * Reconnect pacing of the broker connection: jittered exponential backoff, capped, never giving up.
 *
 * The base delay of attempt `n` (0-based, counted since the last {@linkcode Backoff.reset}) is
 * `min(max_ms, initial_ms · 2ⁿ)`. Jitter spreads reconnects of many processes apart:
 * - `"equal"` (default): `base/2 + random · base/2`, so a refused login never retries sooner than half the
 *   base delay (no hammering);
 * - `"full"`: `random · base` (AWS "full jitter"; may be close to 0).
 *
 * @module
 */

/** How the random part is applied. */
export type JitterKind = "full" | "equal";

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** First base delay, ms (> 0). */
  initialMs: number;
  /** Cap of the base delay, ms (≥ initialMs). */
  maxMs: number;
  /** Default `"equal"`. */
  jitter?: JitterKind;
  /** Uniform random in [0, 1); default `Math.random` (inject for tests). */
  random?: () => number;
}

/** Jittered exponential backoff that never gives up; {@linkcode Backoff.reset} after a success. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #jitter: JitterKind;
  readonly #random: () => number;
  #attempt = 0;

  /** Validate the options; throws RangeError on nonsense (non-positive or inverted bounds). */
  constructor(options: BackoffOptions) {
    if (!(options.initialMs > 0) || !Number.isFinite(options.initialMs)) {
      throw new RangeError(`backoff initialMs must be > 0, got ${options.initialMs}`);
    }
    if (!(options.maxMs >= options.initialMs) || !Number.isFinite(options.maxMs)) {
      throw new RangeError(`backoff maxMs must be ≥ initialMs (${options.initialMs}), got ${options.maxMs}`);
    }
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#jitter = options.jitter ?? "equal";
    this.#random = options.random ?? Math.random;
  }

  /** Attempts taken since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Base delay (before jitter) of the next attempt. */
  baseDelay(): number {
    // 2^n overflows to Infinity for large n; min() keeps it at the cap.
    return Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 1000));
  }

  /** The delay before the next attempt, in whole ms; advances the attempt counter. */
  next(): number {
    const base = this.baseDelay();
    this.#attempt++;
    let r = this.#random();
    if (!(r >= 0)) r = 0;
    if (r >= 1) r = 1 - Number.EPSILON;
    const delay = this.#jitter === "full" ? r * base : base / 2 + r * (base / 2);
    return Math.round(delay);
  }

  /** Start again from `initialMs` (after reaching ready). */
  reset(): void {
    this.#attempt = 0;
  }
}
