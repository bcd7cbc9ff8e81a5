/**
 * Pre-trade rules: everything the send gate checks before an insert or a cancel leaves, as pure
 * functions plus three small stateful limiters (token buckets, cancel counter, burst monitor) that take
 * the time as an argument.
 *
 * Insert rules, in the order {@linkcode checkAll} runs them (the first refusal wins):
 *
 * | # | rule | codes |
 * |---|---|---|
 * | 1 | `checkRequestAge` | STALE_REQUEST |
 * | 2 | `checkInstrument` | UNKNOWN_SYMBOL, EXPIRED, NOT_FUTURE |
 * | 3 | `checkOrderType` | MARKET_NOT_ALLOWED, FOK_NOT_ALLOWED, FAK_NOT_ALLOWED |
 * | 4 | `checkVolume` | VOLUME_RANGE, MARKET_NOT_ALLOWED |
 * | 5 | `checkSession` | OUTSIDE_SESSION |
 * | 6 | `checkPrice` | PRICE_TICK, NO_QUOTE, PRICE_LIMIT |
 * | 7 | `checkDeskLimits` | MAX_ORDER_VOLUME, MAX_ORDER_NOTIONAL, MAX_POSITION (NO_QUOTE: market order, no price) |
 * | 8 | `RateLimiter.tryInsert` | INSERT_RATE |
 *
 * Why this order: a stale request is refused before anything is looked up (its content no longer
 * matters); then what the contract is, then what the exchange accepts regardless of time and market
 * (order type, then volume, whose market-volume-0 case is the same refusal), then whether it trades now
 * (outside a session quotes are stale or absent, so "closed" is the useful answer), then the price against
 * the market, then our own limits, and last the rate limiter, the only rule with a side effect (it spends
 * a token), so refused orders never use up the budget.
 *
 * Cancel rules ({@linkcode checkCancel}): `CancelCounter.check` (CANCEL_LIMIT, warning from `warnAt`), then
 * `RateLimiter.tryCancel` (CANCEL_RATE).
 *
 * @module
 */

import type { Decision, OrderContext } from "./types.ts";
import { checkInstrument, checkOrderType, checkPrice, checkVolume } from "./exchange_rules.ts";
import { checkRequestAge, checkSession } from "./session_rules.ts";
import { checkDeskLimits, type DeskLimits, resolveLimits, type RiskLimitsConfig } from "./desk_limits.ts";
import { RateLimiter, type RateLimiterOptions } from "./rate_limits.ts";
import { BurstMonitor, type BurstStats, CancelCounter, type CancelCounterState } from "./supervision.ts";

export * from "./types.ts";
export * from "./exchange_rules.ts";
export * from "./session_rules.ts";
export * from "./desk_limits.ts";
export * from "./rate_limits.ts";
export * from "./supervision.ts";

/** The names of the insert rules in the order {@linkcode checkAll} runs them. */
export const INSERT_RULE_ORDER = [
  "request_age",
  "instrument",
  "order_type",
  "volume",
  "session",
  "price",
  "desk_limits",
  "insert_rate",
] as const;

/** What {@linkcode checkAll} needs besides the order's context. */
export interface CheckAllDeps {
  /** The desk limits of the order's symbol (see `resolveLimits`). */
  limits: DeskLimits;
  /** `risk.max_request_age_ms` (0 = off). */
  maxRequestAgeMs: number;
  /** Spends one insert token when every other rule passed; absent = no rate limit. */
  rateLimiter?: RateLimiter;
  /** Adds a warning when this insert would make its second a burst second; absent = none. */
  burstMonitor?: BurstMonitor;
}

/**
 * Run the insert rules in {@linkcode INSERT_RULE_ORDER} and return the first refusal, or a pass carrying
 * every warning and, for a LIMIT order, `limit_price`: the price exactly on the tick grid that
 * `checkPrice` accepted, which the rules after it judge and which is what must be sent. The only side
 * effect: one insert token is spent when everything passed (give it back with
 * `RateLimiter.refundInsert` when the order is not sent after all). Recording the insert in the burst
 * monitor is the caller's job once it was actually sent.
 */
export function checkAll(ctx: OrderContext, deps: CheckAllDeps): Decision {
  const warnings: string[] = [];
  let judged = ctx;
  let limitPrice: number | undefined;
  const steps: (() => Decision)[] = [
    () => checkRequestAge(judged, { maxAgeMs: deps.maxRequestAgeMs }),
    () => checkInstrument(judged),
    () => checkOrderType(judged),
    () => checkVolume(judged),
    () => checkSession(judged),
    () => checkPrice(judged),
    () => checkDeskLimits(judged, deps.limits),
    () => deps.rateLimiter ? deps.rateLimiter.tryInsert(judged.nowMs) : { ok: true },
  ];
  for (const step of steps) {
    const d = step();
    if (!d.ok) return d;
    if (d.warnings) warnings.push(...d.warnings);
    if (d.limit_price !== undefined) {
      limitPrice = d.limit_price;
      judged = { ...judged, request: { ...judged.request, limit_price: limitPrice } };
    }
  }
  const burst = deps.burstMonitor?.warning(ctx.nowMs);
  if (burst !== undefined) warnings.push(burst);
  return {
    ok: true,
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(limitPrice !== undefined ? { limit_price: limitPrice } : {}),
  };
}

/** What a cancel rule looks at. */
export interface CancelContext {
  /** Symbol of the order to cancel. */
  symbol: string;
  /** Current trading day, `YYYYMMDD` (the broker session's, or `tradingDayOf` of exchange time). */
  tradingDay: string;
  /** Local clock, epoch ms. */
  nowMs: number;
}

/** What {@linkcode checkCancel} needs. */
export interface CheckCancelDeps {
  cancelCounter?: CancelCounter;
  rateLimiter?: RateLimiter;
  burstMonitor?: BurstMonitor;
}

/**
 * Cancel rules: the per-contract daily cancel count (CANCEL_LIMIT, or a warning), then the cancel rate
 * (CANCEL_RATE; spends a token only when the count passed). Records nothing else: call
 * `CancelCounter.record` and `BurstMonitor.record` once the cancel was sent.
 */
export function checkCancel(ctx: CancelContext, deps: CheckCancelDeps): Decision {
  const warnings: string[] = [];
  for (
    const step of [
      () => deps.cancelCounter?.check(ctx.symbol, ctx.tradingDay),
      () => deps.rateLimiter?.tryCancel(ctx.nowMs),
    ]
  ) {
    const d = step();
    if (d === undefined) continue;
    if (!d.ok) return d;
    if (d.warnings) warnings.push(...d.warnings);
  }
  const burst = deps.burstMonitor?.warning(ctx.nowMs);
  if (burst !== undefined) warnings.push(burst);
  return warnings.length > 0 ? { ok: true, warnings } : { ok: true };
}

/** The `risk:` configuration the rules use (`Config["risk"]` fits it). */
export interface RiskRulesConfig extends RiskLimitsConfig, RateLimiterOptions {
  max_request_age_ms: number;
  cancel_warn_per_contract: number;
  cancel_limit_per_contract: number;
}

/**
 * The rules of one service, built from its `risk:` configuration: one rate limiter, one cancel counter and
 * one burst monitor shared by every order. The send gate asks {@linkcode PreTradeRules.checkInsert} /
 * {@linkcode PreTradeRules.checkCancel} and, after a successful send, calls
 * {@linkcode PreTradeRules.recordInsert} / {@linkcode PreTradeRules.recordCancel}.
 */
export class PreTradeRules {
  /** The configuration the rules were built from. */
  readonly config: RiskRulesConfig;
  /** Insert and cancel budgets. */
  readonly rateLimiter: RateLimiter;
  /** Cancels per contract per trading day. */
  readonly cancelCounter: CancelCounter;
  /** Seconds with ≥ 10 inserts + cancels. */
  readonly burstMonitor: BurstMonitor;

  /** Fresh limiters (full buckets, zero counts). */
  constructor(config: RiskRulesConfig) {
    this.config = config;
    this.rateLimiter = new RateLimiter(config);
    this.cancelCounter = new CancelCounter({
      warnAt: config.cancel_warn_per_contract,
      limit: config.cancel_limit_per_contract,
    });
    this.burstMonitor = new BurstMonitor();
  }

  /** The desk limits of `symbol` (product id from the instrument when given). */
  limitsFor(symbol: string, productId?: string): DeskLimits {
    return resolveLimits(this.config, symbol, { productId });
  }

  /** {@linkcode checkAll} with this service's limits and limiters. */
  checkInsert(ctx: OrderContext): Decision {
    return checkAll(ctx, {
      limits: this.limitsFor(ctx.request.symbol, ctx.instrument?.product_id),
      maxRequestAgeMs: this.config.max_request_age_ms,
      rateLimiter: this.rateLimiter,
      burstMonitor: this.burstMonitor,
    });
  }

  /** {@linkcode checkCancel} with this service's limiters. */
  checkCancel(ctx: CancelContext): Decision {
    return checkCancel(ctx, {
      cancelCounter: this.cancelCounter,
      rateLimiter: this.rateLimiter,
      burstMonitor: this.burstMonitor,
    });
  }

  /**
   * An insert that {@linkcode PreTradeRules.checkInsert} passed will not be sent (a duplicate or conflicting
   * order id, a database failure, a refused sibling of a split close, a connection lost before the send):
   * give its insert token back.
   */
  refundInsert(): void {
    this.rateLimiter.refundInsert();
  }

  /**
   * Take in the cancels counted by an earlier run (`loadCancelCounts` of `lib/store/pg/cancel_counts.ts`),
   * so a restart on the same trading day refuses at the same count. Call it before cancels are taken;
   * calling it again (a takeover) never counts a cancel twice (see `CancelCounter.merge`).
   */
  restoreCancelCounts(state: CancelCounterState): void {
    this.cancelCounter.merge(state);
  }

  /** An insert was sent at `nowMs`. */
  recordInsert(nowMs: number): void {
    this.burstMonitor.record(nowMs);
  }

  /** A cancel of an order of `symbol` was sent at `nowMs` on `tradingDay`; returns that contract's count. */
  recordCancel(ctx: CancelContext): number {
    this.burstMonitor.record(ctx.nowMs);
    return this.cancelCounter.record(ctx.symbol, ctx.tradingDay);
  }

  /** Burst statistics for `/health` and metrics. */
  burstStats(nowMs?: number): BurstStats {
    return this.burstMonitor.stats(nowMs);
  }
}
