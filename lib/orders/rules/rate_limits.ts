/**
 * Flow control: token buckets that keep our insert and cancel rates under the counter's per-second
 * budgets (CTP error 116, lessons §16.5), with separate budgets for inserts and cancels as CTP has.
 *
 * Time is always passed in (epoch ms, local clock), so the buckets are deterministic under test.
 *
 * @module
 */

import { type Decision, fmtNum, PASS, refuse } from "./types.ts";

/** Options of {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (> 0 to refill at all). */
  ratePerSecond: number;
  /** Capacity: the most tokens that can be taken at once after a quiet spell (≥ 1). */
  burst: number;
}

/**
 * A token bucket: starts full with `burst` tokens, refills continuously at `ratePerSecond` up to `burst`,
 * and each action takes one token. A clock that steps back refills nothing (and does not move the
 * bucket's notion of "last seen" backwards).
 */
export class TokenBucket {
  /** Refill rate, tokens per second. */
  readonly ratePerSecond: number;
  /** Capacity. */
  readonly burst: number;
  #tokens: number;
  #last: number | undefined;

  /** A full bucket. */
  constructor(options: TokenBucketOptions) {
    if (!(options.burst >= 1)) throw new RangeError(`burst must be ≥ 1, got ${options.burst}`);
    if (!(options.ratePerSecond >= 0)) {
      throw new RangeError(`ratePerSecond must be ≥ 0, got ${options.ratePerSecond}`);
    }
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.#tokens = options.burst;
  }

  #refill(nowMs: number): void {
    if (this.#last === undefined) {
      this.#last = nowMs;
      return;
    }
    if (nowMs <= this.#last) return;
    this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#last) * this.ratePerSecond) / 1000);
    this.#last = nowMs;
  }

  /** Tokens available at `nowMs` (fractional while refilling). */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** Take one token if there is one; false (and nothing taken) otherwise. */
  tryTake(nowMs: number): boolean {
    this.#refill(nowMs);
    // A hair of tolerance so that e.g. 10 refills of 0.1 token count as one token.
    if (this.#tokens < 1 - 1e-9) return false;
    this.#tokens = Math.max(0, this.#tokens - 1);
    return true;
  }

  /**
   * Give back one token taken by {@linkcode TokenBucket.tryTake} for an action that did not happen after
   * all (never above `burst`).
   */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  /** Milliseconds from `nowMs` until a token is available (0 when one is now; Infinity at rate 0). */
  msUntilToken(nowMs: number): number {
    this.#refill(nowMs);
    if (this.#tokens >= 1 - 1e-9) return 0;
    if (this.ratePerSecond <= 0) return Infinity;
    return Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond);
  }
}

/** Options of {@linkcode RateLimiter} (the `risk:` keys of the same names). */
export interface RateLimiterOptions {
  insert_rate_per_s: number;
  insert_burst: number;
  cancel_rate_per_s: number;
  cancel_burst: number;
}

/** Separate insert and cancel budgets (a `risk:` config section fits the options). */
export class RateLimiter {
  /** The insert bucket. */
  readonly insert: TokenBucket;
  /** The cancel bucket. */
  readonly cancel: TokenBucket;

  /** Two full buckets. */
  constructor(options: RateLimiterOptions) {
    this.insert = new TokenBucket({ ratePerSecond: options.insert_rate_per_s, burst: options.insert_burst });
    this.cancel = new TokenBucket({ ratePerSecond: options.cancel_rate_per_s, burst: options.cancel_burst });
  }

  /** Spend an insert token, or INSERT_RATE (field `$`) when the budget is used up. */
  tryInsert(nowMs: number): Decision {
    return take(this.insert, nowMs, "INSERT_RATE", "insert");
  }

  /** Give back an insert token spent for an order that is not sent after all (duplicate, conflict …). */
  refundInsert(): void {
    this.insert.refund();
  }

  /** Spend a cancel token, or CANCEL_RATE (field `$`) when the budget is used up. */
  tryCancel(nowMs: number): Decision {
    return take(this.cancel, nowMs, "CANCEL_RATE", "cancel");
  }
}

function take(
  bucket: TokenBucket,
  nowMs: number,
  code: "INSERT_RATE" | "CANCEL_RATE",
  what: string,
): Decision {
  if (bucket.tryTake(nowMs)) return PASS;
  return refuse(
    code,
    "$",
    `${what} rate limit reached: ${fmtNum(bucket.ratePerSecond)}/s with burst ${bucket.burst} ` +
      `(next ${what} possible in ${bucket.msUntilToken(nowMs)} ms)`,
  );
}
