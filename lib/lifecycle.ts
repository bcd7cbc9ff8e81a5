/**
 * Start/stop order of the service's components.
 *
 * Components start in the order they were added and stop in reverse. Each stop is bounded by its time limit:
 * a stop that hangs or throws is logged and skipped, and the rest still stop. With a stop budget the whole
 * stop is bounded too (a container's grace period before SIGKILL): each stop's limit is cut so that every
 * component after it keeps a minimum share. A start that fails stops
 * what had already started (in reverse) and rethrows. {@link runUntilSignal} runs a lifecycle until
 * SIGINT/SIGTERM and turns the outcome into an exit code.
 *
 * @module
 */
import { getLogger } from "./log.ts";

/** Default bound on one component's `stop()`. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** Default time a stop budget keeps for each component still to stop. */
export const DEFAULT_MIN_STOP_MS = 500;

/** Something with a start and a stop. */
export interface Component {
  /** Name used in logs and reports. */
  name: string;
  /** Bring the component up; resolve when it is ready. */
  start(): Promise<void>;
  /** Release everything; must be safe to call after a failed or partial start of this component. */
  stop(): Promise<void>;
  /** Bound on `stop()` in milliseconds (default {@link DEFAULT_STOP_TIMEOUT_MS}). */
  stopTimeoutMs?: number;
  /**
   * What a stop budget keeps for this stop while the components before it stop (default the lifecycle's
   * `minStopMs`; never more than its own limit): e.g. the time to drain writes and close the database.
   */
  minStopMs?: number;
}

/** One component whose stop did not finish cleanly. */
export interface StopFailure {
  /** The component's name. */
  name: string;
  /** `timeout`: still running after its limit; `error`: it threw. */
  reason: "timeout" | "error";
  /** The error thrown, for `error`. */
  error?: unknown;
}

/** Outcome of {@link Lifecycle.stop}. */
export interface StopReport {
  /** True when every stop finished in time without an error. */
  ok: boolean;
  /** Components stopped, in stop order (including failed ones). */
  stopped: string[];
  /** The stops that failed or timed out. */
  failures: StopFailure[];
}

/** Options of {@link Lifecycle}. */
export interface LifecycleOptions {
  /** Bound on a stop for components that set none. Default {@link DEFAULT_STOP_TIMEOUT_MS}. */
  defaultStopTimeoutMs?: number;
  /**
   * Bound on the whole {@link Lifecycle.stop}, in milliseconds (default: none, each stop has only its own
   * limit). A stop's limit is cut to what is left of the budget minus `minStopMs` for each component after it.
   */
  stopBudgetMs?: number;
  /**
   * What the budget keeps for each component still to stop, unless it sets its own `minStopMs`. Default
   * {@link DEFAULT_MIN_STOP_MS}.
   */
  minStopMs?: number;
}

/** A time option: a finite number ≥ 0, or an error naming it. */
function checkMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`lifecycle: ${name} must be a finite number of milliseconds >= 0, got ${value}`);
  }
  return value;
}

const TIMED_OUT = Symbol("timed out");

async function bounded(promise: Promise<void>, ms: number): Promise<void | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ordered start and reverse, time-bounded stop of components. */
export class Lifecycle {
  #components: Component[] = [];
  #started: Component[] = [];
  #defaultStopTimeoutMs: number;
  #stopBudgetMs: number | null;
  #minStopMs: number;
  #log = getLogger("lifecycle");
  #starting = false;

  /** An empty lifecycle. */
  constructor(options: LifecycleOptions = {}) {
    this.#defaultStopTimeoutMs = checkMs(
      "defaultStopTimeoutMs",
      options.defaultStopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
    );
    this.#stopBudgetMs = options.stopBudgetMs === undefined
      ? null
      : checkMs("stopBudgetMs", options.stopBudgetMs);
    this.#minStopMs = checkMs("minStopMs", options.minStopMs ?? DEFAULT_MIN_STOP_MS);
  }

  /** Add a component; it starts after those added before it. Returns `this` for chaining. */
  add(component: Component): this {
    if (this.#components.some((c) => c.name === component.name)) {
      throw new Error(`lifecycle: a component named ${component.name} was already added`);
    }
    if (component.stopTimeoutMs !== undefined) {
      checkMs(`${component.name}: stopTimeoutMs`, component.stopTimeoutMs);
    }
    if (component.minStopMs !== undefined) checkMs(`${component.name}: minStopMs`, component.minStopMs);
    this.#components.push(component);
    return this;
  }

  /** Names of the components currently started, in start order. */
  get started(): readonly string[] {
    return this.#started.map((c) => c.name);
  }

  /**
   * Start every component in order. If one fails, stop those already started (in reverse) and rethrow its
   * error. Starting again after a successful start is an error.
   */
  async start(): Promise<void> {
    if (this.#starting || this.#started.length > 0) throw new Error("lifecycle: already started");
    this.#starting = true;
    try {
      for (const c of this.#components) {
        this.#log.info("starting {component}", { component: c.name });
        try {
          await c.start();
        } catch (error) {
          this.#log.error("{component} failed to start: {error}", { component: c.name, error });
          // The failed component may hold part of its resources: stop it too, then the rest in reverse.
          this.#started.push(c);
          await this.stop();
          throw error;
        }
        this.#started.push(c);
      }
    } finally {
      this.#starting = false;
    }
    this.#log.info("started {count} component(s)", { count: this.#started.length });
  }

  /**
   * Stop the started components in reverse order, each bounded by its time limit (and, with a stop budget,
   * by its share of what is left of it). Never throws: failures are logged and reported. Calling it again
   * stops nothing more.
   */
  async stop(): Promise<StopReport> {
    const report: StopReport = { ok: true, stopped: [], failures: [] };
    const deadline = this.#stopBudgetMs === null ? Infinity : performance.now() + this.#stopBudgetMs;
    while (this.#started.length > 0) {
      const c = this.#started.pop()!;
      // What the budget leaves this stop once each component after it has its minimum.
      const reserved = this.#started.reduce((sum, later) => sum + this.#reserve(later), 0);
      const share = deadline - performance.now() - reserved;
      const limit = Math.max(Math.min(this.#limit(c), share), this.#reserve(c));
      this.#log.info("stopping {component}", { component: c.name });
      try {
        const outcome = await bounded(Promise.resolve().then(() => c.stop()), limit);
        if (outcome === TIMED_OUT) {
          this.#log.error("{component} did not stop within {limit_ms} ms; skipped", {
            component: c.name,
            limit_ms: limit,
          });
          report.failures.push({ name: c.name, reason: "timeout" });
        }
      } catch (error) {
        this.#log.error("{component} failed to stop: {error}", { component: c.name, error });
        report.failures.push({ name: c.name, reason: "error", error });
      }
      report.stopped.push(c.name);
    }
    report.ok = report.failures.length === 0;
    return report;
  }

  /** A component's own bound on its stop. */
  #limit(c: Component): number {
    return c.stopTimeoutMs ?? this.#defaultStopTimeoutMs;
  }

  /** What a stop budget keeps for a component: its minimum, never more than its own limit. */
  #reserve(c: Component): number {
    return Math.min(this.#limit(c), c.minStopMs ?? this.#minStopMs);
  }
}

/** Options of {@link runUntilSignal}. */
export interface RunUntilSignalOptions {
  /** Signals that ask for a clean stop. Default SIGINT and SIGTERM. */
  signals?: Deno.Signal[];
  /** Also stop when this aborts (tests, or a component that decides the service must end). */
  abort?: AbortSignal;
  /** A second signal while stopping exits at once with code 130. Default true. */
  exitOnSecondSignal?: boolean;
}

/**
 * Start `lifecycle`, wait for SIGINT/SIGTERM (or `options.abort`), stop it, and resolve with the exit code:
 * 0 when every stop was clean, 1 when any stop failed or timed out. Handlers are installed before starting
 * (a signal during start stops right after it) and removed at the end. A failed start rethrows its error
 * (what had started is already stopped).
 */
export async function runUntilSignal(
  lifecycle: Lifecycle,
  options: RunUntilSignalOptions = {},
): Promise<number> {
  const log = getLogger("lifecycle");
  const signals = options.signals ?? (["SIGINT", "SIGTERM"] as Deno.Signal[]);
  let stopping = false;
  let requested!: (why: string) => void;
  const stopRequested = new Promise<string>((resolve) => requested = resolve);
  const handlers = signals.map((sig) => {
    const handler = () => {
      if (stopping && (options.exitOnSecondSignal ?? true)) {
        log.error("second {signal} while stopping: exiting now", { signal: sig });
        Deno.exit(130);
      }
      requested(sig);
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  const onAbort = () => requested("abort");
  options.abort?.addEventListener("abort", onAbort);
  if (options.abort?.aborted) requested("abort");
  try {
    await lifecycle.start();
    const why = await stopRequested;
    stopping = true;
    log.info("stopping on {reason}", { reason: why });
    const report = await lifecycle.stop();
    if (report.ok) log.info("stopped cleanly");
    else log.error("stopped with {count} failure(s)", { count: report.failures.length });
    return report.ok ? 0 : 1;
  } finally {
    for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
    options.abort?.removeEventListener("abort", onAbort);
  }
}
