/**
 * The portfolio lease: a PostgreSQL session-level advisory lock that only one instance of the service holds
 * per portfolio. Only the holder consumes order requests and sends orders; another instance stands by,
 * retrying, and takes over when the lock frees (the holder stops, or its database session dies).
 *
 * The lock lives on the single connection of a client of its own (pool of one, never idled out or rotated).
 * A heartbeat reads that session's backend pid: when the query fails or the pid changed, the session that
 * held the lock is gone and PostgreSQL has released the lock with it, so the instance must stop sending at
 * once ({@linkcode PortfolioLease.held} turns false and `onChange` fires) and compete again.
 *
 * A dedicated client and not `sql.reserve()`: npm `postgres` 3.4.9 throws an uncatchable error when a
 * reserved connection's backend dies (porsager/postgres#1208); a pool of one replaces the dead connection.
 *
 * With the embedded database every connection shares one PGlite session, so the lock always succeeds: one
 * process owns the data folder anyway.
 *
 * @module
 */

import type { Database } from "./connect.ts";
import { withTimeout } from "../../timeout.ts";

/** Options of {@linkcode PortfolioLease}. */
export interface LeaseOptions {
  /** How often a standby retries, and the holder checks its session (ms). Default 2000. */
  intervalMs?: number;
  /**
   * Called when the lease is gained (true) or lost (false); `released` is true when it ended because this
   * instance stopped (not lost to another instance or to the database).
   */
  onChange?: (held: boolean, released?: boolean) => void;
  /**
   * How long the holder's heartbeat may go unanswered before the lease counts as lost (ms). Default: the
   * interval, at least 1000.
   */
  heartbeatTimeoutMs?: number;
  /** Called with errors while competing (database down …); the lease keeps retrying. */
  onError?: (error: Error) => void;
}

/** The lock key of a portfolio: 64 bits of SHA-256 over a namespaced name. */
export async function leaseKey(portfolioId: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`tqsdk-broker-connect:lease:${portfolioId}`),
  );
  return new DataView(digest).getBigInt64(0).toString();
}

/** What the service needs of a lease. */
export interface Lease {
  readonly held: boolean;
  readonly since: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The lease of the embedded database: the process that opened the data folder is the only one that can,
 * so it holds the lease from start to stop.
 */
export class ProcessLease implements Lease {
  #since = 0;
  constructor(private readonly options: Pick<LeaseOptions, "onChange"> = {}) {}
  get held(): boolean {
    return this.#since > 0;
  }
  get since(): number {
    return this.#since;
  }
  start(): Promise<void> {
    this.#since = Date.now();
    this.options.onChange?.(true);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    if (this.#since > 0) this.options.onChange?.(false, true);
    this.#since = 0;
    return Promise.resolve();
  }
}

/** Compete for, hold and watch the portfolio lease. */
export class PortfolioLease implements Lease {
  #held = false;
  #since = 0;
  #pid: number | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = true;
  #tick: Promise<void> = Promise.resolve();
  readonly #intervalMs: number;

  /**
   * @param sql a client with ONE connection that is never idled out or rotated (`max: 1`,
   *   `idleTimeoutSeconds: 0`, `maxLifetimeSeconds: null`), used for nothing else.
   */
  constructor(
    private readonly sql: Database,
    readonly portfolioId: string,
    private readonly options: LeaseOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 2000;
  }

  /** Whether this instance holds the lease now. */
  get held(): boolean {
    return this.#held;
  }

  /** Epoch ms the lease was gained (0 when not held). */
  get since(): number {
    return this.#held ? this.#since : 0;
  }

  /** Try once now, then keep competing (standby) or watching (holder) every interval. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#runTick();
    this.#timer = setInterval(() => void this.#runTick(), this.#intervalMs);
  }

  /** Release the lease (if held) and stop competing. The client is the caller's to close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    if (this.#held) {
      try {
        await this.sql`select pg_advisory_unlock_all()`;
      } catch {
        // the session is gone: PostgreSQL released the lock with it
      }
    }
    this.#setHeld(false, true);
  }

  #runTick(): Promise<void> {
    this.#tick = this.#tick.then(() => this.#step()).catch((e) => this.options.onError?.(e as Error));
    return this.#tick;
  }

  async #step(): Promise<void> {
    if (this.#stopped) return;
    if (this.#held) {
      let pid: number | null = null;
      try {
        // A heartbeat that does not answer within the interval (the database unreachable, the network cut)
        // counts as a lost session: the lock may be gone with it, so this instance stops sending now rather
        // than when TCP gives up.
        const [row] = await withTimeout(
          this.sql`select pg_backend_pid() as pid`,
          this.options.heartbeatTimeoutMs ?? Math.max(this.#intervalMs, 1000),
          { what: "lease heartbeat" },
        );
        pid = row.pid as number;
      } catch (e) {
        this.#setHeld(false);
        throw new Error(`lease session lost: ${(e as Error).message}`);
      }
      if (pid !== this.#pid) {
        this.#setHeld(false);
        throw new Error(`lease session lost: backend ${this.#pid} replaced by ${pid}`);
      }
      return;
    }
    const key = await leaseKey(this.portfolioId);
    const [row] = await this.sql`select pg_try_advisory_lock(${key}::bigint) as ok, pg_backend_pid() as pid`;
    if (row.ok === true && !this.#stopped) {
      this.#pid = row.pid as number;
      this.#since = Date.now();
      this.#setHeld(true);
    }
  }

  #setHeld(held: boolean, released = false): void {
    if (this.#held === held) return;
    this.#held = held;
    this.options.onChange?.(held, released);
  }
}
