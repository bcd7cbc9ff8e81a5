/**
 * Shared helpers of the broker integration tests: a sim exchange, a `tq:` config, an event recorder.
 *
 * @module
 */
import { configSchema, type TqConfig } from "../../lib/config.ts";
import { type Sim, startSim } from "../../lib/sim/mod.ts";
import type { Broker, BrokerEvent } from "../../lib/broker/types.ts";
import { controlSim } from "../helpers/external_sim.ts";

/** Options of {@linkcode withSim}. */
export interface SimEnvOptions {
  accounts?: { user: string; password: string; balance: number }[];
  brokers?: string[];
  /** Brokers that ask for a settlement confirmation (CTP-like); default none. */
  settlementBrokers?: string[];
}

/** Run `fn` against a fresh sim (frozen clock, no automatic ticks); closes it afterwards. */
export async function withSim(fn: (sim: Sim) => Promise<void>, options: SimEnvOptions = {}): Promise<void> {
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 5,
    tickMs: 0,
    frozenClock: true,
    accounts: options.accounts ?? [{ user: "demo", password: "demo", balance: 10_000_000 }],
    brokers: options.brokers,
    settlementBrokers: options.settlementBrokers,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

/** A validated `tq:` section with fast reconnects (initial 50 ms, cap 400 ms). */
export function tqConfig(tq: Record<string, unknown> = {}): TqConfig {
  return configSchema.parse({
    tq: { portfolio_id: "demo", reconnect: { initial_ms: 50, max_ms: 400, alarm_after_s: 60 }, ...tq },
  }).tq;
}

/** Call the sim's control API; throws on a non-2xx answer. */
export const control = controlSim;

/** Put a one-tick book on a symbol with wide limits. */
export function book(sim: Sim, symbol: string, bid: number, ask: number): Promise<Record<string, unknown>> {
  return control(sim, "/sim/quote", {
    symbol,
    bid_price1: bid,
    ask_price1: ask,
    bid_volume1: 10,
    ask_volume1: 10,
    last_price: bid,
    upper_limit: 4000,
    lower_limit: 3000,
  });
}

/** Records every event of a broker and waits for conditions on them. */
export class Recorder {
  readonly events: BrokerEvent[] = [];
  readonly #off: () => void;
  #waiters: (() => void)[] = [];

  /** Start recording. */
  constructor(broker: Broker) {
    this.#off = broker.subscribe((e) => {
      this.events.push(structuredClone(e));
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Events of one type. */
  of<T extends BrokerEvent["type"]>(type: T): Extract<BrokerEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<BrokerEvent, { type: T }>[];
  }

  /** Index to start {@linkcode Recorder.wait} from (events after this moment). */
  mark(): number {
    return this.events.length;
  }

  /** Resolve with the first event at index ≥ `from` that matches, or reject after `timeoutMs`. */
  wait<T extends BrokerEvent["type"]>(
    type: T,
    pred: (e: Extract<BrokerEvent, { type: T }>) => boolean,
    what: string,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Extract<BrokerEvent, { type: T }>> {
    const from = options.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.events.length; i++) {
          const e = this.events[i];
          if (e.type === type && pred(e as Extract<BrokerEvent, { type: T }>)) {
            done();
            resolve(e as Extract<BrokerEvent, { type: T }>);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, options.timeoutMs ?? 5000);
      const done = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
      };
      this.#waiters.push(check);
      check();
    });
  }

  /** Stop recording. */
  close(): void {
    this.#off();
  }
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
