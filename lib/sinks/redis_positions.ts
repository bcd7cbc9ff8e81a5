/**
 * Writes the live view's positions and account to Redis under the contract's keys (contract §3):
 *
 * | key | value |
 * | --- | --- |
 * | `TQ_Position_PortfolioId_{portfolio_id}_Symbol_{symbol}` | net lots (long − short) as a number string, `"0"` when flat |
 * | `TQ_Position_Breakdown_PortfolioId_{portfolio_id}_Symbol_{symbol}` | JSON `{pos_long, pos_short, pos_long_today, pos_long_his, pos_short_today, pos_short_his, updated_at}` |
 * | `TQ_Account_PortfolioId_{portfolio_id}` | JSON `{balance, available, margin, risk_ratio, position_profit, float_profit, updated_at}` |
 * | `TQ_Position_Meta_PortfolioId_{portfolio_id}` (ours) | JSON `{updated_at, written_at, stale, phase, ready, trading_day, snapshot_seq, symbols}` |
 *
 * Every key is written with `SET … EX ttl` (default 3600 s). The meta key is named so that it does NOT
 * match the readers' scan pattern `TQ_Position_PortfolioId_{id}_Symbol_*`.
 *
 * `updated_at` is the moment up to which the value is known to match the broker
 * ({@link LiveView.confirmedAt}): the write time while the broker is ready, the moment it stopped being
 * ready otherwise. Keys keep being refreshed while the broker is down (an expired position key reads as
 * flat, which is worse than a stale one); the meta key then says `stale: true`.
 *
 * Behaviour:
 * - Nothing is written before the broker's first complete snapshot (no zeros at start-up). The first
 *   write is a full one, and it also zeroes position keys of this portfolio left by an earlier run for
 *   symbols the snapshot no longer has (found with `SCAN`); those stay `"0"` for the session.
 * - Changes are coalesced: everything that changed before the next macrotask goes out in ONE
 *   `MULTI`/`EXEC`, with the values current at that moment; one batch is in flight at a time.
 * - A full rewrite happens after every broker snapshot, every `refreshIntervalMs` (default 60 s, well inside
 *   the TTL), and on every Redis `ready` (connect and reconnect).
 * - A failed write (or a change while Redis is down) marks the writer dirty; the next successful
 *   (full) write clears it. Nothing is queued while Redis is down: the current state is written when it
 *   is back.
 *
 * @module
 */
import type { RedisConfig } from "../config.ts";
import type { AccountView, PositionView } from "../broker/types.ts";
import { getLogger } from "../log.ts";
import { flatPosition, type LiveChange, type LiveView } from "../stream/live_view.ts";
import { closeRedisClient, createRedisClient, type Redis, type RedisClientOptions } from "./redis_client.ts";

/** Net position key (seed). */
export function positionKey(portfolioId: string, symbol: string): string {
  return `TQ_Position_PortfolioId_${portfolioId}_Symbol_${symbol}`;
}

/** Position breakdown key. */
export function breakdownKey(portfolioId: string, symbol: string): string {
  return `TQ_Position_Breakdown_PortfolioId_${portfolioId}_Symbol_${symbol}`;
}

/** Account key. */
export function accountKey(portfolioId: string): string {
  return `TQ_Account_PortfolioId_${portfolioId}`;
}

/** Freshness metadata key (ours; outside the readers' `TQ_Position_PortfolioId_*_Symbol_*` pattern). */
export function metaKey(portfolioId: string): string {
  return `TQ_Position_Meta_PortfolioId_${portfolioId}`;
}

/** Value of the net position key: long − short as a number string. */
export function positionValue(p: PositionView): string {
  return String(p.net);
}

/** Value of the breakdown key. */
export function breakdownValue(p: PositionView, updatedAt: string): string {
  return JSON.stringify({
    pos_long: p.long,
    pos_short: p.short,
    pos_long_today: p.long_today,
    pos_long_his: p.long_his,
    pos_short_today: p.short_today,
    pos_short_his: p.short_his,
    updated_at: updatedAt,
  });
}

/** Value of the account key. */
export function accountValue(a: AccountView, updatedAt: string): string {
  return JSON.stringify({
    balance: a.balance,
    available: a.available,
    margin: a.margin,
    risk_ratio: a.risk_ratio,
    position_profit: a.position_profit,
    float_profit: a.float_profit,
    updated_at: updatedAt,
  });
}

/** Options of {@link RedisPositionWriter}. */
export interface RedisPositionWriterOptions {
  portfolioId: string;
  /** Connection settings (ignored when `client` is given). */
  redis?: RedisConfig;
  /** Use this client instead of creating one; the writer then does not close it. */
  client?: Redis;
  clientOptions?: RedisClientOptions;
  /** Default 3600. */
  ttlSeconds?: number;
  /** Full rewrite period (default 60 000 ms). */
  refreshIntervalMs?: number;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

/** What /health shows of the writer. */
export interface RedisWriterStatus {
  enabled: true;
  /** False when Redis is down or the writer is dirty. */
  ok: boolean;
  connected: boolean;
  /** ISO time of the last successful write, null before. */
  last_write_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  /** Redis may not hold the current state (a write failed or was skipped); a full rewrite is due. */
  dirty: boolean;
  /** False until the broker's first complete snapshot (nothing is written before). */
  has_snapshot: boolean;
  /** Batches written / failed since start. */
  batches: number;
  failures: number;
}

const log = getLogger("sinks.redis");

/** Keeps Redis in step with a {@link LiveView}. */
export class RedisPositionWriter {
  #view: LiveView;
  #client: Redis;
  #ownsClient: boolean;
  #portfolioId: string;
  #ttl: number;
  #refreshMs: number;
  #now: () => number;

  #pendingSymbols = new Set<string>();
  #pendingAccount = false;
  #pendingFull = false;
  #scheduled = false;
  #inFlight: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #offView: (() => void) | null = null;
  #started = false;
  #stopped = false;

  #dirty = false;
  #lastWriteAt: number | null = null;
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #lastLogged: string | null = null;
  #batches = 0;
  #failures = 0;
  #orphansChecked = false;
  /** Symbols of an earlier run found in Redis but not in the view: kept at "0" for the session. */
  #orphans = new Set<string>();
  #onReady = () => {
    log.info("redis ready; rewriting the full state");
    this.#lastLogged = null;
    this.#pendingFull = true;
    this.#schedule();
  };
  #onError = (err: Error) => {
    const msg = err?.message ?? String(err);
    if (msg !== this.#lastLogged) log.warn("redis error: {error}", { error: msg });
    this.#lastLogged = msg;
    this.#noteError(msg);
  };

  /** A writer for `view` (call {@link start}). */
  constructor(view: LiveView, options: RedisPositionWriterOptions) {
    if (!options.client && !options.redis) throw new Error("RedisPositionWriter needs `redis` or `client`");
    this.#view = view;
    this.#portfolioId = options.portfolioId;
    this.#ttl = options.ttlSeconds ?? 3600;
    this.#refreshMs = options.refreshIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#ownsClient = !options.client;
    this.#client = options.client ?? createRedisClient(options.redis!, options.clientOptions);
  }

  /** The client in use. */
  get client(): Redis {
    return this.#client;
  }

  /** Follow the view, start the refresh timer and connect. Does not wait for Redis (an outage is survived). */
  start(): Promise<void> {
    if (this.#started) return Promise.resolve();
    this.#started = true;
    this.#client.on("ready", this.#onReady);
    this.#client.on("error", this.#onError);
    this.#offView = this.#view.subscribe((c) => this.#onChange(c));
    this.#refreshTimer = setInterval(() => {
      this.#pendingFull = true;
      this.#schedule();
    }, this.#refreshMs);
    if (this.#client.status === "wait") {
      this.#client.connect().catch((err) => this.#noteError(errorText(err))); // ioredis keeps retrying
    } else if (this.#client.status === "ready") {
      this.#onReady();
    }
    return Promise.resolve();
  }

  /** Stop: write what is pending (if Redis is up), stop the timer, close the client if the writer made it. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#offView?.();
    clearInterval(this.#refreshTimer);
    await this.flushed();
    this.#client.off("ready", this.#onReady);
    this.#client.off("error", this.#onError);
    if (this.#ownsClient) {
      this.#client.on("error", () => {}); // errors while closing are of no interest
      await closeRedisClient(this.#client);
    }
  }

  /** Resolve once nothing is scheduled or in flight. */
  flushed(): Promise<void> {
    if (!this.#scheduled && this.#inFlight === null) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Request a full rewrite now (coalesced like any change). */
  refresh(): void {
    this.#pendingFull = true;
    this.#schedule();
  }

  /** For /health. */
  status(): RedisWriterStatus {
    const connected = this.#client.status === "ready";
    return {
      enabled: true,
      ok: connected && !this.#dirty,
      connected,
      last_write_at: iso(this.#lastWriteAt),
      last_error: this.#lastError,
      last_error_at: iso(this.#lastErrorAt),
      dirty: this.#dirty,
      has_snapshot: this.#view.hasSnapshot,
      batches: this.#batches,
      failures: this.#failures,
    };
  }

  #onChange(change: LiveChange): void {
    if (!this.#view.hasSnapshot) return; // no writes before the first complete snapshot
    switch (change.type) {
      case "position":
        this.#pendingSymbols.add(change.position.symbol);
        break;
      case "account":
        this.#pendingAccount = true;
        break;
      case "snapshot":
        this.#pendingFull = true;
        break;
      case "status":
        break; // the meta key goes with the next batch
      default:
        return;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== null) return;
    // A microtask: after every event of the frame being handled (the broker emits them in one synchronous
    // run), and before the order store's batch of the same frame is built, so the position is on its way
    // to Redis first. Frames that arrive while a write is in flight go together in the next one.
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#inFlight = this.#flush().finally(() => {
        this.#inFlight = null;
        if (this.#pendingFull || this.#pendingAccount || this.#pendingSymbols.size > 0) this.#schedule();
        else this.#settle();
      });
    });
  }

  #settle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  async #flush(): Promise<void> {
    if (!this.#view.hasSnapshot) {
      this.#clearPending();
      return;
    }
    const full = this.#pendingFull || this.#dirty;
    const symbols = full ? null : [...this.#pendingSymbols];
    const withAccount = full || this.#pendingAccount;
    this.#clearPending();
    if (this.#client.status !== "ready") {
      this.#dirty = true; // rewritten in full on `ready`
      this.#noteError(`not written: redis not connected (${this.#client.status})`);
      return;
    }
    try {
      if (full && !this.#orphansChecked) await this.#findOrphans();
      const now = this.#now();
      const asOf = new Date(this.#view.confirmedAt(now) || now).toISOString();
      const multi = this.#client.multi();
      const ex = this.#ttl;
      let positions: PositionView[];
      if (symbols === null) {
        positions = this.#view.positions();
        const held = new Set(positions.map((p) => p.symbol));
        for (const s of this.#orphans) if (!held.has(s)) positions.push(flatPosition(s));
      } else {
        positions = symbols.map((s) => this.#view.position(s) ?? flatPosition(s));
      }
      for (const p of positions) {
        multi.set(positionKey(this.#portfolioId, p.symbol), positionValue(p), "EX", ex);
        multi.set(breakdownKey(this.#portfolioId, p.symbol), breakdownValue(p, asOf), "EX", ex);
      }
      const account = this.#view.account();
      if (withAccount && account) {
        multi.set(accountKey(this.#portfolioId), accountValue(account, asOf), "EX", ex);
      }
      multi.set(metaKey(this.#portfolioId), this.#metaValue(asOf, now), "EX", ex);
      const results = await multi.exec();
      if (results === null) throw new Error("MULTI aborted");
      for (const [err] of results) if (err) throw err;
      this.#batches++;
      this.#lastWriteAt = now;
      if (full) this.#dirty = false;
    } catch (err) {
      this.#failures++;
      this.#dirty = true;
      this.#noteError(errorText(err));
      log.warn("redis write failed (full rewrite on reconnect): {error}", { error: errorText(err) });
    }
  }

  /** Position keys of this portfolio in Redis whose symbol the view does not hold (an earlier run's). */
  async #findOrphans(): Promise<void> {
    const prefix = positionKey(this.#portfolioId, "");
    const pattern = `${escapeGlob(prefix)}*`;
    let cursor = "0";
    do {
      const [next, keys] = await this.#client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      for (const key of keys) {
        const symbol = key.slice(prefix.length);
        if (symbol === "" || symbol.includes("_Symbol_")) continue; // another portfolio's id with "_Symbol_"
        if (this.#view.position(symbol) === undefined) this.#orphans.add(symbol);
      }
    } while (cursor !== "0");
    if (this.#orphans.size > 0) {
      log.info("zeroing {count} position keys of an earlier run", { count: this.#orphans.size });
    }
    this.#orphansChecked = true;
  }

  #metaValue(asOf: string, now: number): string {
    const state = this.#view.state();
    return JSON.stringify({
      updated_at: asOf,
      written_at: new Date(now).toISOString(),
      stale: !state.ready,
      phase: state.phase,
      ready: state.ready,
      trading_day: this.#view.tradingDay,
      snapshot_seq: this.#view.snapshotSeq,
      symbols: this.#view.symbols().length,
    });
  }

  #clearPending(): void {
    this.#pendingFull = false;
    this.#pendingAccount = false;
    this.#pendingSymbols.clear();
  }

  #noteError(message: string): void {
    this.#lastError = message;
    this.#lastErrorAt = this.#now();
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Escape Redis glob metacharacters. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
