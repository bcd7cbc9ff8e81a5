/**
 * The local DIFF exchange (`run_mode: sim`, `main.ts sim`): a market-data and trade server on loopback that
 * the npm `tqsdk` client cannot tell from shinnytech's servers. This module assembles its parts: the clock,
 * the instrument catalogue, the market (quotes by a seeded random walk), the trading engine (accounts,
 * orders, TqSim matching) and the HTTP/WebSocket server with its `/sim/` control API.
 *
 * It shares only the DIFF protocol types (`lib/diff/`) with the connector.
 *
 * @module
 */

import type { SymbolsFile } from "../diff/types.ts";
import { isInSession, tradingDayOf } from "../diff/trading_time.ts";
import { buildCatalogue } from "./catalogue.ts";
import { createSimClock, type SimClock } from "./clock.ts";
import { type EngineDeps, type SimAccountConfig, SimEngine } from "./engine.ts";
import { SimMarket } from "./market.ts";
import { type SimServer, startSimServer } from "./server.ts";

/** Broker names the sim serves by default: the sandbox's name and a plain one. */
export const DEFAULT_SIM_BROKERS: readonly string[] = ["快期模拟", "sim"];

/** Options of {@linkcode startSim} (the `sim:` config section plus test knobs). */
export interface SimOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** ISO-8601 exchange time at start, or `"wall"`. */
  clock: string;
  /** Seed of the price random walk. */
  seed: number;
  accounts: SimAccountConfig[];
  /** Broker names served (default {@linkcode DEFAULT_SIM_BROKERS}). */
  brokers?: string[];
  /**
   * Brokers among `brokers` that ask for a settlement confirmation like a CTP gateway (statement notify 325,
   * orders refused with CTP error 42 until `confirm_settlement`); default none.
   */
  settlementBrokers?: string[];
  /** Milliseconds between market steps; 0 = no automatic steps (tests drive quotes). Default 500. */
  tickMs?: number;
  /** Start with the clock frozen (tests). */
  frozenClock?: boolean;
  /**
   * Contract table to serve and trade instead of the built-in one ({@linkcode buildCatalogue} at the
   * start time), e.g. the contract info of a recorded session (replay tests).
   */
  catalogue?: SymbolsFile;
  /** Log hook for unusual events. */
  onLog?: (level: "info" | "warning", message: string, props?: Record<string, unknown>) => void;
}

/** A running sim exchange. */
export interface Sim {
  readonly server: SimServer;
  readonly clock: SimClock;
  readonly market: SimMarket;
  readonly catalogue: SymbolsFile;
  /** The current engine (replaced by a restart with state kept). */
  engine(): SimEngine;
  /** `http://host:port`. */
  readonly baseUrl: string;
  /** `ws://host:port/trade`. */
  readonly tradeUrl: string;
  /** `ws://host:port/t/md/front/mobile`. */
  readonly mdUrl: string;
  close(): Promise<void>;
}

/** Start the sim exchange and resolve once it listens. */
export async function startSim(options: SimOptions): Promise<Sim> {
  const clock = createSimClock(options.clock, { frozen: options.frozenClock });
  const catalogue = options.catalogue ?? buildCatalogue(clock.nowMs());
  const inSession = (symbol: string, ms: number) => {
    const info = catalogue[symbol];
    return info !== undefined && isInSession(info.trading_time, ms);
  };
  const market = new SimMarket(catalogue, { seed: options.seed, nowMs: () => clock.nowMs(), inSession });
  const deps: EngineDeps = {
    instrument: (symbol) => catalogue[symbol],
    quote: (symbol) => market.quote(symbol),
    nowMs: () => clock.nowMs(),
    inSession,
    tradingDay: (ms) => tradingDayOf(ms),
  };
  let engine = new SimEngine(deps, { accounts: options.accounts });
  let engineDay = tradingDayOf(clock.nowMs());
  const unsubscribeQuotes = market.subscribe((symbol) => engine.onQuote(symbol));

  const settleIfDayEnded = () => {
    const day = tradingDayOf(clock.nowMs());
    if (day !== engineDay) {
      engine.settle();
      engineDay = day;
    }
  };

  const step = () => {
    settleIfDayEnded();
    market.step();
  };

  const server: SimServer = await startSimServer({
    engine: () => engine,
    market,
    catalogue,
    clock,
    tradingDay: (ms) => tradingDayOf(ms),
    control: {
      settle() {
        engine.settle();
        engineDay = tradingDayOf(clock.nowMs());
      },
      async restart(downMs: number) {
        server.setAccepting(false);
        server.dropConnections("all");
        const state = engine.exportState();
        engine = SimEngine.fromState(deps, JSON.parse(JSON.stringify(state)));
        server.rebindEngine();
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        server.setAccepting(true);
      },
      step,
    },
  }, {
    host: options.host,
    port: options.port,
    brokerNames: options.brokers ?? [...DEFAULT_SIM_BROKERS],
    settlementBrokers: options.settlementBrokers,
    onLog: options.onLog,
  });

  const tickMs = options.tickMs ?? 500;
  const timer = tickMs > 0 ? setInterval(step, tickMs) : undefined;
  const base = server.baseUrl;
  const wsBase = base.replace(/^http/, "ws");
  return {
    server,
    clock,
    market,
    catalogue,
    engine: () => engine,
    baseUrl: base,
    tradeUrl: `${wsBase}/trade`,
    mdUrl: `${wsBase}/t/md/front/mobile`,
    async close() {
      if (timer !== undefined) clearInterval(timer);
      unsubscribeQuotes();
      await server.close();
    },
  };
}
