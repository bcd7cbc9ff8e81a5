/**
 * An ordered, retrying writer: broker updates keep arriving while PostgreSQL is down, and must reach it
 * later, in order, each exactly once.
 *
 * - {@link Outbox.push} appends an item; one flusher at a time takes the queued items from the head (up to
 *   `maxBatch`) and calls `write(batch)`.
 * - On success the batch leaves the queue; the next batch starts at once.
 * - On failure the batch stays at the head and the same batch is written again after a capped exponential
 *   backoff (`initialDelayMs`, doubling, at most `maxDelayMs`). Items are never reordered, never dropped,
 *   and an item is never written again once a write containing it succeeded.
 * - A write that fails after its data was committed (acknowledgement lost) is retried: `write` must be
 *   replay-safe for that case (`OrderStore.applyUpdates` and `recordTrades` are).
 * - A write that fails forever (a permanent error) blocks the queue: {@link Outbox.lastError} and
 *   {@link Outbox.failures} expose it for health checks and alarms; nothing is skipped.
 *
 * Timers are injectable for tests.
 *
 * @module
 */

/** The timer functions the outbox uses (default: the global ones). */
export interface OutboxTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What {@link OutboxOptions.onError} is told about a failed write. */
export interface OutboxFailure {
  /** Consecutive failed attempts of this batch, 1 for the first. */
  attempt: number;
  batchSize: number;
  /** Items queued, including the batch. */
  queued: number;
  /** Milliseconds until the retry. */
  delayMs: number;
}

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Most items per write; default 500. */
  maxBatch?: number;
  /** First retry delay; default 100 ms. */
  initialDelayMs?: number;
  /** Longest retry delay; default 5000 ms. */
  maxDelayMs?: number;
  timer?: OutboxTimer;
  /** Called after each failed write (e.g. to log it). Exceptions it throws are ignored. */
  onError?: (error: Error, failure: OutboxFailure) => void;
}

/** Options of {@link Outbox.stop}. */
export interface OutboxStopOptions {
  /** How long to keep writing (and retrying) what is queued before giving up; default 0. */
  drainMs?: number;
}

const GLOBAL_TIMER: OutboxTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The retry delay after `attempt` consecutive failures: initial × 2^(attempt−1), capped. */
export function backoffDelay(
  attempt: number,
  options: { initialDelayMs: number; maxDelayMs: number },
): number {
  const exp = Math.min(attempt - 1, 30);
  return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exp);
}

/** An ordered, retrying, never-dropping writer (see the module doc). */
export class Outbox<T> {
  readonly #write: (batch: T[]) => Promise<void>;
  readonly #maxBatch: number;
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timer: OutboxTimer;
  readonly #onError?: (error: Error, failure: OutboxFailure) => void;

  #queue: T[] = [];
  /** Length of the batch being written or waiting for its retry (0 = none). */
  #batchLength = 0;
  #writing: Promise<void> | null = null;
  #retryHandle: unknown = null;
  #scheduled = false;
  #failures = 0;
  #lastError: Error | null = null;
  #stopped = false;
  #halted = false;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Items ever pushed, and ever written: the watermarks {@linkcode Outbox.written} waits on. */
  #pushedCount = 0;
  #writtenCount = 0;
  #writtenWaiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  /** An outbox writing batches with `write`. */
  constructor(write: (batch: T[]) => Promise<void>, options: OutboxOptions = {}) {
    this.#write = write;
    this.#maxBatch = Math.max(1, Math.trunc(options.maxBatch ?? 500));
    this.#initialDelayMs = Math.max(0, options.initialDelayMs ?? 100);
    this.#maxDelayMs = Math.max(this.#initialDelayMs, options.maxDelayMs ?? 5000);
    this.#timer = options.timer ?? GLOBAL_TIMER;
    this.#onError = options.onError;
  }

  /** Queues an item. Throws after {@link Outbox.stop} was called. */
  push(item: T): void {
    if (this.#stopped) throw new Error("Outbox: stopped, item refused");
    this.#queue.push(item);
    this.#pushedCount++;
    this.#schedule();
  }

  /**
   * Resolves once every item pushed before this call is written (later pushes are not waited for), so a
   * caller can acknowledge something only after its record is in the database. Rejects if the outbox is
   * stopped first with one of those items unwritten.
   */
  written(): Promise<void> {
    const target = this.#pushedCount;
    if (this.#writtenCount >= target) return Promise.resolve();
    if (this.#halted) return Promise.reject(this.#haltedError());
    return new Promise((resolve, reject) => this.#writtenWaiters.push({ target, resolve, reject }));
  }

  /** Items not yet written (including a batch being written or waiting for its retry). */
  size(): number {
    return this.#queue.length;
  }

  /** The error of the current failing streak; null once a write succeeded (or before any failed). */
  lastError(): Error | null {
    return this.#lastError;
  }

  /** Consecutive failed writes of the batch at the head (0 when healthy). */
  failures(): number {
    return this.#failures;
  }

  /**
   * Resolves when the queue is empty (at once when it already is). Rejects if the outbox is stopped with
   * items still queued.
   */
  flushed(): Promise<void> {
    if (this.#queue.length === 0 && this.#writing === null) return Promise.resolve();
    if (this.#halted) return Promise.reject(this.#haltedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Refuses new items, keeps writing what is queued for up to `drainMs`, then stops retrying (a write in
   * progress is awaited) and returns the items that were not written, in order, so the caller can log or
   * keep them. Nothing is dropped silently.
   */
  async stop(options: OutboxStopOptions = {}): Promise<T[]> {
    this.#stopped = true;
    const drainMs = Math.max(0, options.drainMs ?? 0);
    if (this.#queue.length > 0 && drainMs > 0) {
      let handle: unknown = null;
      const deadline = new Promise<void>((resolve) => {
        handle = this.#timer.setTimeout(resolve, drainMs);
      });
      await Promise.race([this.flushed().catch(() => {}), deadline]);
      this.#timer.clearTimeout(handle);
    }
    this.#halted = true;
    if (this.#retryHandle !== null) {
      this.#timer.clearTimeout(this.#retryHandle);
      this.#retryHandle = null;
    }
    if (this.#writing) await this.#writing;
    const remaining = [...this.#queue];
    const err = this.#haltedError();
    for (const w of this.#waiters.splice(0)) {
      if (remaining.length > 0) w.reject(err);
      else w.resolve();
    }
    for (const w of this.#writtenWaiters.splice(0)) w.reject(err);
    return remaining;
  }

  #haltedError(): Error {
    return new Error(`Outbox: stopped with ${this.#queue.length} item(s) unwritten`);
  }

  #schedule(): void {
    if (this.#halted || this.#scheduled || this.#writing !== null || this.#retryHandle !== null) return;
    this.#scheduled = true;
    // A microtask: items pushed in the same synchronous run go into one batch.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    if (this.#halted || this.#writing !== null) return;
    if (this.#queue.length === 0) {
      for (const w of this.#waiters.splice(0)) w.resolve();
      return;
    }
    if (this.#batchLength === 0) this.#batchLength = Math.min(this.#queue.length, this.#maxBatch);
    const batch = this.#queue.slice(0, this.#batchLength);
    this.#writing = this.#attempt(batch);
  }

  async #attempt(batch: T[]): Promise<void> {
    let error: Error | null = null;
    let pending: Promise<void>;
    try {
      pending = this.#write(batch);
    } catch (err) {
      pending = Promise.reject(err);
    }
    // Always awaited, so `#writing` is set by `#run` before it is cleared here (even on a synchronous throw).
    try {
      await pending;
    } catch (err) {
      error = asError(err);
    }
    this.#writing = null;
    if (error === null) {
      // Only pushes append to the queue, so its head is exactly this batch.
      this.#queue.splice(0, batch.length);
      this.#batchLength = 0;
      this.#writtenCount += batch.length;
      if (this.#writtenWaiters.length > 0) {
        const done = this.#writtenWaiters.filter((w) => w.target <= this.#writtenCount);
        this.#writtenWaiters = this.#writtenWaiters.filter((w) => w.target > this.#writtenCount);
        for (const w of done) w.resolve();
      }
      this.#failures = 0;
      this.#lastError = null;
      if (!this.#halted) this.#run();
      return;
    }
    this.#failures++;
    this.#lastError = error;
    const delayMs = backoffDelay(this.#failures, {
      initialDelayMs: this.#initialDelayMs,
      maxDelayMs: this.#maxDelayMs,
    });
    try {
      this.#onError?.(error, {
        attempt: this.#failures,
        batchSize: batch.length,
        queued: this.#queue.length,
        delayMs,
      });
    } catch {
      // The outbox must keep going whatever the listener does.
    }
    if (this.#halted) return;
    this.#retryHandle = this.#timer.setTimeout(() => {
      this.#retryHandle = null;
      this.#run();
    }, delayMs);
  }
}
