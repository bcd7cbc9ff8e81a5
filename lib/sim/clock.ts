/**
 * The sim exchange's clock: exchange time as epoch milliseconds, starting at a configured moment and
 * advancing in real time, or following the wall clock. Tests set or advance it exactly.
 *
 * @module
 */

/** A settable exchange clock. */
export interface SimClock {
  /** Exchange time now, epoch ms. */
  nowMs(): number;
  /** Jump to an exact moment; time keeps advancing from there unless frozen. */
  set(ms: number): void;
  /** Move forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void;
  /** Stop (true) or resume (false) the passage of real time. */
  freeze(frozen: boolean): void;
}

/** Options of {@linkcode createSimClock}. */
export interface SimClockOptions {
  /** Monotonic time source in ms (default `performance.now`), injectable for tests. */
  monotonicMs?: () => number;
  /** Wall-clock source in epoch ms (default `Date.now`), used for `"wall"`. */
  wallMs?: () => number;
  /** Start frozen (time does not pass until `freeze(false)`). */
  frozen?: boolean;
}

/**
 * Create a clock from the config value `sim.clock`: an ISO-8601 moment (exchange time at start, then
 * advancing in real time) or `"wall"` (the machine's clock).
 */
export function createSimClock(start: string, options: SimClockOptions = {}): SimClock {
  const mono = options.monotonicMs ?? (() => performance.now());
  const wall = options.wallMs ?? (() => Date.now());
  const initial = start === "wall" ? wall() : parseClockStart(start);
  let base = initial;
  let since = mono();
  let frozen = options.frozen ?? false;
  const now = () => frozen ? base : base + (mono() - since);
  return {
    nowMs: now,
    set(ms: number) {
      base = ms;
      since = mono();
    },
    advance(ms: number) {
      base = now() + ms;
      since = mono();
    },
    freeze(value: boolean) {
      base = now();
      since = mono();
      frozen = value;
    },
  };
}

/** Parse an ISO-8601 start moment; throws with the offending text when it is not one. */
export function parseClockStart(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new Error(`sim.clock: not an ISO-8601 time or "wall": ${text}`);
  return ms;
}
