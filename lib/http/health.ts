/**
 * The health report behind `GET /health` (contract §5).
 *
 * ```json
 * {"status":"ok"|"degraded","can_trade":true,
 *  "components":{"tq":{…},"redis":{…}|{"enabled":false},"database":…,"rabbitmq":…}}
 * ```
 * - HTTP 503 when the service cannot trade: the broker is not ready, or a component that trading needs
 *   (`blocks_trading: true`, e.g. the database where intents are recorded) is not ok.
 * - `status` is `ok` when the broker is ready and every enabled component is ok, `degraded` otherwise
 *   (Redis down: 200 degraded: orders still flow, positions in Redis are stale).
 * - `market` (when a market source is given): `open` when an instrument we hold, have orders in or follow
 *   is in a trading session at exchange time, `closed` when none is (nights, weekends: a connected but
 *   quiet broker is then normal and raises nothing), `unknown` with no instrument known. While `open`, a
 *   ready broker silent for more than `quietAlarmS` (300 s) sets `market_detail.quiet_alarm` and the
 *   report is `degraded` (200: orders can still be tried).
 * - Every component but `tq` comes from a function passed in, so sinks plug in later; one that is not
 *   given reports `{"enabled": false}`; one that throws reports `{"ok": false, "error": …}`.
 * - {@link ReachabilityProbe} and {@link databaseHealth}: the database is probed with a cheap query at
 *   most once per `ttlMs` (a short timeout, the answer cached), never once per request; unreachable blocks
 *   trading (intents are recorded before anything is sent), failing order writes only degrade.
 *
 * @module
 */
import type { BrokerState } from "../broker/types.ts";
import type { TradingTime } from "../diff/types.ts";
import { isInSession, nextSessionStart } from "../diff/trading_time.ts";
import { withTimeout } from "../timeout.ts";

/** What a component reports: disabled, or its own fields with an `ok` verdict. */
export type ComponentHealth =
  | { enabled: false }
  | ({ ok: boolean; blocks_trading?: boolean } & Record<string, unknown>);

/** Produces a component's report (called on every /health request). */
export type HealthComponentFn = () => ComponentHealth | Promise<ComponentHealth>;

/** The broker part of the report. */
export interface TqHealth {
  ok: boolean;
  state: BrokerState["phase"];
  since: string | null;
  last_data_at: string | null;
  trading_day: string;
  ready: boolean;
  reconnects: number;
  attempts: number;
  alarm: boolean;
  last_error: { code: number | null; message: string; at: string | null } | null;
}

/** The whole report. */
export interface HealthReport {
  status: "ok" | "degraded";
  can_trade: boolean;
  /** Present when a market source is given: whether any instrument we hold or follow is in session. */
  market?: MarketReport["market"];
  market_detail?: MarketReport;
  components: Record<string, unknown>;
}

/** What the market part of the report says. */
export interface MarketReport {
  /** `open`: at least one instrument in session; `closed`: none; `unknown`: no instrument known. */
  market: "open" | "closed" | "unknown";
  /** Exchange time used (ISO, UTC). */
  exchange_time: string;
  /**
   * Exchange time minus this host's clock, ms (≈ 0 live; large with the sim's own clock): add it to a
   * local timestamp (the intraday series' `t`) to show it at exchange time.
   */
  exchange_offset_ms: number;
  /** Instruments in session now. */
  in_session: string[];
  /** Earliest next session start among the instruments (ISO), null when unknown. */
  next_open: string | null;
  /** Seconds since the last frame from the broker (null before any). */
  broker_quiet_s: number | null;
  /**
   * True when the market is open, the broker is ready and nothing arrived for `quietAlarmS`: the feed may
   * be stuck (the report is then `degraded`). Outside sessions a quiet broker is normal and never alarms.
   */
  quiet_alarm: boolean;
}

/** Where {@link marketReport} reads instruments and exchange time. */
export interface MarketSource {
  /** Symbols we hold, have orders in, or follow. */
  symbols: () => string[];
  /** Trading sessions of a symbol (from the contract-info file), undefined when unknown. */
  tradingTime: (symbol: string) => TradingTime | undefined;
  /** Exchange time now, epoch ms (latest quote datetime plus time elapsed since; wall clock without). */
  exchangeNow: () => number;
  /** Seconds of silence from an open market's broker before `quiet_alarm` (default 300). */
  quietAlarmS?: number;
}

/** The market part of the report. */
export function marketReport(
  source: MarketSource,
  state: BrokerState,
  now: number = Date.now(),
): MarketReport {
  const exchangeNow = source.exchangeNow();
  const inSession: string[] = [];
  let known = 0;
  let next: number | undefined;
  for (const symbol of [...new Set(source.symbols())].sort()) {
    const tt = source.tradingTime(symbol);
    if (!tt) continue;
    known++;
    if (isInSession(tt, exchangeNow)) inSession.push(symbol);
    const n = nextSessionStart(tt, exchangeNow);
    if (n !== undefined && (next === undefined || n < next)) next = n;
  }
  const market = known === 0 ? "unknown" : inSession.length > 0 ? "open" : "closed";
  const quiet = state.last_data_at > 0 ? Math.max(0, Math.round((now - state.last_data_at) / 1000)) : null;
  return {
    market,
    exchange_time: new Date(exchangeNow).toISOString(),
    exchange_offset_ms: Math.round(exchangeNow - now),
    in_session: inSession,
    next_open: next === undefined ? null : new Date(next).toISOString(),
    broker_quiet_s: quiet,
    quiet_alarm: market === "open" && state.ready && quiet !== null && quiet > (source.quietAlarmS ?? 300),
  };
}

/** Exchange time from quotes: the newest `datetime_ms + (now − received_at)`; `now` when there is none. */
export function exchangeTimeFromQuotes(
  quotes: readonly { datetime_ms: number; received_at: number }[],
  now: number = Date.now(),
): number {
  let best: number | undefined;
  for (const q of quotes) {
    if (!Number.isFinite(q.datetime_ms) || q.datetime_ms <= 0) continue;
    const t = q.datetime_ms + Math.max(0, now - q.received_at);
    if (best === undefined || t > best) best = t;
  }
  return best ?? now;
}

/** Components always listed (`{"enabled": false}` when not provided). */
export const STANDARD_COMPONENTS = ["redis", "database", "rabbitmq"] as const;

/** The `tq` component from the broker state. */
export function tqHealth(state: BrokerState): TqHealth {
  return {
    ok: state.ready,
    state: state.phase,
    since: isoOrNull(state.since),
    last_data_at: isoOrNull(state.last_data_at),
    trading_day: state.trading_day,
    ready: state.ready,
    reconnects: state.reconnects,
    attempts: state.attempts,
    alarm: state.alarm,
    last_error: state.last_error
      ? { code: state.last_error.code, message: state.last_error.message, at: isoOrNull(state.last_error.at) }
      : null,
  };
}

/** Build the report and its HTTP status (with `options.market`, the market part too). */
export async function buildHealth(
  state: BrokerState,
  components: Record<string, HealthComponentFn> = {},
  options: { market?: MarketSource } = {},
): Promise<{ httpStatus: 200 | 503; report: HealthReport }> {
  const tq = tqHealth(state);
  const out: Record<string, unknown> = { tq };
  let allOk = tq.ok;
  let canTrade = tq.ready;
  const names = [...new Set([...STANDARD_COMPONENTS, ...Object.keys(components)])].filter((n) => n !== "tq");
  const reports = await Promise.all(names.map(async (name): Promise<ComponentHealth> => {
    const fn = components[name];
    if (!fn) return { enabled: false };
    try {
      return await fn();
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }));
  names.forEach((name, i) => {
    const r = reports[i];
    out[name] = r;
    if ("ok" in r) {
      if (!r.ok) {
        allOk = false;
        if (r.blocks_trading) canTrade = false;
      }
    }
  });
  let market: MarketReport | undefined;
  if (options.market) {
    try {
      market = marketReport(options.market, state);
      if (market.quiet_alarm) allOk = false;
    } catch {
      market = undefined; // the market part never breaks the report
    }
  }
  const report: HealthReport = {
    status: allOk && canTrade ? "ok" : "degraded",
    can_trade: canTrade,
    ...(market ? { market: market.market, market_detail: market } : {}),
    components: out,
  };
  return { httpStatus: canTrade ? 200 : 503, report };
}

/** One answer of a {@link ReachabilityProbe}. */
export interface ProbeResult {
  /** The probe answered within the timeout. */
  reachable: boolean;
  /** When the probe was sent (ISO). */
  checked_at: string;
  /** How long it took, ms (the timeout when it timed out). */
  latency_ms: number;
  /** Why it failed; null when reachable. */
  error: string | null;
}

/** Options of {@link ReachabilityProbe}. */
export interface ReachabilityProbeOptions {
  /** An answer is reused for this long (default 3000 ms): at most one probe per period. */
  ttlMs?: number;
  /** A probe not answered within this is a failure (default 1500 ms); its signal is aborted then. */
  timeoutMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

/**
 * A cached reachability check: {@link ReachabilityProbe.check} runs `probe` (e.g. `select 1`) when the last
 * answer is older than `ttlMs`, with a timeout, and otherwise returns the cached answer; concurrent callers
 * share one probe in flight. So `/health` can be polled as often as wanted: the database sees one query
 * per period at most.
 */
export class ReachabilityProbe {
  #probe: (signal: AbortSignal) => Promise<unknown>;
  #ttl: number;
  #timeout: number;
  #now: () => number;
  #last: { at: number; result: ProbeResult } | null = null;
  #inflight: Promise<ProbeResult> | null = null;
  #probes = 0;

  /** A probe running `probe` (which should give up when its signal aborts). */
  constructor(probe: (signal: AbortSignal) => Promise<unknown>, options: ReachabilityProbeOptions = {}) {
    this.#probe = probe;
    this.#ttl = options.ttlMs ?? 3000;
    this.#timeout = options.timeoutMs ?? 1500;
    this.#now = options.now ?? Date.now;
  }

  /** How many probes were sent so far. */
  get probes(): number {
    return this.#probes;
  }

  /** The latest answer without probing (null before the first). */
  get last(): ProbeResult | null {
    return this.#last?.result ?? null;
  }

  /** The cached answer, or a fresh one when it is older than `ttlMs`. Never throws. */
  check(): Promise<ProbeResult> {
    const last = this.#last;
    if (last && this.#now() - last.at < this.#ttl) return Promise.resolve(last.result);
    if (!this.#inflight) {
      this.#inflight = this.#run().finally(() => this.#inflight = null);
    }
    return this.#inflight;
  }

  async #run(): Promise<ProbeResult> {
    this.#probes++;
    const at = this.#now();
    const started = performance.now();
    const controller = new AbortController();
    let error: string | null = null;
    try {
      await withTimeout(this.#probe(controller.signal), this.#timeout, {
        onTimeout: () => controller.abort(),
      });
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const result: ProbeResult = {
      reachable: error === null,
      checked_at: new Date(at).toISOString(),
      latency_ms: Math.round((performance.now() - started) * 10) / 10,
      error,
    };
    this.#last = { at, result };
    return result;
  }
}

/** Where {@link databaseHealth} reads the order writes. */
export interface DatabaseWrites {
  /** Broker updates waiting to be written. */
  backlog: () => number;
  /** The latest order-write error, null while writes succeed. */
  lastError: () => Error | null;
}

/**
 * The `database` component: reachable (from `probe`) and order writes succeeding. Unreachable blocks
 * trading (`blocks_trading`: /health answers 503); reachable with failing writes is `ok: false` only
 * (200 degraded: the writes are retried and kept in order).
 */
export function databaseHealth(probe: ReachabilityProbe, writes: DatabaseWrites): HealthComponentFn {
  return async () => {
    const r = await probe.check();
    const writeError = writes.lastError();
    return {
      enabled: true,
      ok: r.reachable && writeError === null,
      blocks_trading: !r.reachable,
      reachable: r.reachable,
      checked_at: r.checked_at,
      probe_ms: r.latency_ms,
      probe_error: r.error,
      backlog: writes.backlog(),
      last_error: writeError?.message ?? null,
    };
  };
}

function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}
