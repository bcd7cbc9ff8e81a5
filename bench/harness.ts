/**
 * What every benchmark shares: a production-like service on the real servers of this machine (a throwaway
 * PostgreSQL database, Redis db 13, RabbitMQ names of its own, the sim exchange in a process of its own as
 * shinnytech's servers are, `sim_process.ts`), an AMQP publisher, and the probes that timestamp each hop of
 * an order without touching production code:
 *
 * - publish: `performance.now()` just before `channel.publish` (a side map keyed by `order_id`; the
 *   requests carry no `timestamp`, so `risk.max_request_age_ms` plays no part);
 * - sim receive: the sim engine's `insertOrder` is wrapped in the sim's process (start and end time, so the
 *   sim's own per-order cost is known), collected with {@linkcode PathProbe.collectSim};
 * - broker answer: `service.broker.subscribe` (the connector has merged the sim's frame); its trade events
 *   give the order in which a symbol's orders filled;
 * - `order_history`: the service's `OrderStore.recordIntents` / `applyUpdates` wrapped on the instance:
 *   the moment the connector has the COMMIT's answer (as the floor times its inserts: when the await
 *   returns), with nothing added to the database's work;
 * - Redis: `MONITOR` on the local server shows every `SET` of the position key with its value and the
 *   server's own time of it (nothing is reconfigured). The j-th fill of a symbol is in Redis once the key
 *   says ≥ j, at the server's time: a reader in another process could read it from then on, however busy
 *   this process is when the MONITOR line reaches it ({@linkcode monitorTime}).
 *
 * @module
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import postgres from "postgres";
import { type Config, LOG_LEVELS, type LogLevelName, parseConfig } from "../lib/config.ts";
import { buildService, type Service } from "../lib/service.ts";
import type { ServerDatabaseConfig } from "../lib/store/pg/connect.ts";
import { deriveBrokerOrderId } from "../lib/broker/order_ids.ts";
import { positionKey } from "../lib/sinks/redis_positions.ts";
import { setupLogging, shutdownLogging } from "../lib/log.ts";
import { withNoDelayWebSocket } from "./nodelay_ws.ts";
import { FLOOR_USER, type SimProcess, startSimProcess } from "./sim_process.ts";

/** Redis db the benchmarks write to (the tests use 12). */
export const BENCH_REDIS_DB = 13;
/** The local servers. */
export const AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/";
/** Sim clock at start: early in the day session, so a long run stays inside it. */
export const BENCH_SIM_CLOCK = "2025-12-24T09:01:00+08:00";
/** The sim account's balance: far above what thousands of 1-lot orders need. */
export const BENCH_SIM_BALANCE = 100_000_000_000;

/** Names of one bench run (unique: runs never share a queue, a portfolio or keys). */
export interface BenchNames {
  portfolio: string;
  exchange: string;
  queue: string;
}

/** Unique names tagged `tag`. */
export function benchNames(tag: string): BenchNames {
  const id = `${tag}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  return { portfolio: `bench_${id}`, exchange: `tbc_bench_${id}_ex`, queue: `tbc_bench_${id}_q` };
}

/**
 * The log level of the in-process runs: `warning` (the bench measures the order path), or
 * `TBC_BENCH_LOG_LEVEL` (`info` measures the shipped default's cost: the in-process service then logs to its
 * file only, so the console keeps the bench's tables).
 */
export function benchLogLevel(): LogLevelName {
  const level = Deno.env.get("TBC_BENCH_LOG_LEVEL") ?? "warning";
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevelName;
  throw new Error(
    `TBC_BENCH_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not ${JSON.stringify(level)}`,
  );
}

/** Options of {@linkcode benchConfigText}. */
export interface BenchConfigOptions {
  /** Default {@linkcode benchLogLevel}. */
  logLevel?: LogLevelName;
  logFile?: string;
  /** HTTP port (default 0 = any). */
  httpPort?: number;
  /** URL of a sim already running (subprocess runs); empty = in-process sim. */
  simUrl?: string;
  /** RabbitMQ prefetch (default 64, the shipped default). */
  prefetch?: number;
}

/**
 * The YAML of a production-like configuration: PostgreSQL server, Redis, RabbitMQ, the shipped defaults
 * everywhere except what the bench needs to place thousands of orders quickly (a large sim balance, risk
 * rates and position limits far above the bench's load).
 */
export function benchConfigText(
  names: BenchNames,
  db: ServerDatabaseConfig,
  options: BenchConfigOptions = {},
) {
  return `
tq:
  portfolio_id: ${names.portfolio}
  run_mode: sim
  sim_url: "${options.simUrl ?? ""}"
database: {host: ${db.host}, port: ${db.port}, user: ${db.user}, password: "", dbname: ${db.dbname}}
http: {host: 127.0.0.1, port: ${options.httpPort ?? 0}}
log: {file: ${options.logFile ?? "/tmp/tbc_bench.log"}, level: ${options.logLevel ?? benchLogLevel()}}
sim:
  port: 0
  clock: "${BENCH_SIM_CLOCK}"
  tick_ms: 0
  accounts: [{user: demo, password: demo, balance: ${BENCH_SIM_BALANCE}}]
redis: {host: 127.0.0.1, port: 6379, db: ${BENCH_REDIS_DB}}
rabbitmq:
  url: "${AMQP_URL}"
  order_request_queue: ${names.queue}
  order_request_exchange: ${names.exchange}
  prefetch: ${options.prefetch ?? Number(Deno.env.get("TBC_BENCH_PREFETCH") ?? 64)}
risk:
  max_request_age_ms: 0
  max_net_position: 100000000
  insert_rate_per_s: 1000000
  insert_burst: 1000000
`;
}

/** {@linkcode benchConfigText} parsed. */
export function benchConfig(
  names: BenchNames,
  db: ServerDatabaseConfig,
  options: BenchConfigOptions = {},
): Config {
  return parseConfig(benchConfigText(names, db, options), "bench.yaml", { env: {} });
}

/** A throwaway database on the local server, dropped afterwards (as tests/helpers/pg.ts). */
export async function withBenchDatabase<T>(fn: (db: ServerDatabaseConfig) => Promise<T>): Promise<T> {
  const local: ServerDatabaseConfig = {
    host: "127.0.0.1",
    port: 5432,
    user: "postgres",
    password: "",
    dbname: "postgres",
  };
  const name = `tbc_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres({ ...local, database: "postgres", max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    try {
      return await fn({ ...local, dbname: name });
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/** A direct SQL client on `db`. */
export function benchSql(db: ServerDatabaseConfig, max = 2): postgres.Sql {
  return postgres({
    host: db.host,
    port: db.port,
    user: db.user,
    database: db.dbname,
    max,
    onnotice: () => {},
  });
}

/** A Redis client on the bench db. */
export function benchRedis(): Redis {
  return new Redis({ host: "127.0.0.1", port: 6379, db: BENCH_REDIS_DB });
}

/** Delete every key of `portfolio` on the bench db. */
export async function cleanupRedis(portfolio: string): Promise<void> {
  const redis = benchRedis();
  try {
    const keys = await redis.keys(`*PortfolioId_${portfolio}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Publishes order requests to the service's exchange on a confirm channel. */
export interface Publisher {
  /** Publish without waiting (returns `performance.now()` taken just before). */
  publish(body: Record<string, unknown>): number;
  /** Wait for the broker's confirms of everything published so far. */
  confirmed(): Promise<void>;
  close(): Promise<void>;
}

/** A publisher to `names.exchange` with the seed routing key. */
export async function publisher(names: BenchNames): Promise<Publisher> {
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(names.exchange, "topic", { durable: true });
  const routingKey = `PortfolioId_${names.portfolio}`;
  return {
    publish(body) {
      const t = performance.now();
      ch.publish(names.exchange, routingKey, Buffer.from(JSON.stringify(body)), {
        persistent: true,
        contentType: "application/json",
      });
      return t;
    },
    async confirmed() {
      await ch.waitForConfirms();
    },
    async close() {
      await ch.deleteQueue(names.queue).catch(() => {});
      await ch.deleteQueue(`${names.queue}.dead`).catch(() => {});
      await ch.deleteExchange(names.exchange).catch(() => {});
      await ch.deleteExchange(`${names.exchange}.dead`).catch(() => {});
      await ch.close().catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}

/** A marketable 1-lot BUY OPEN at `price` (the sim fills it at once when the ask is at or below it). */
export function buyRequest(portfolio: string, orderId: string, symbol: string, price: number) {
  return {
    symbol,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: price,
    order_id: orderId,
    portfolio_id: portfolio,
  };
}

/** The floor's account on the bench's sim (`floor.ts`). */
export function floorExchange(sim: SimProcess): { tradeUrl: string; user: string; password: string } {
  return { tradeUrl: sim.tradeUrl, user: FLOOR_USER, password: FLOOR_USER };
}

/** Set a quote on the bench's sim at `simUrl` (bid/ask, limits ±15 %). */
export async function setQuote(simUrl: string, symbol: string, bid: number, ask: number): Promise<void> {
  const res = await fetch(`${simUrl}/sim/quote`, {
    method: "POST",
    body: JSON.stringify({
      symbol,
      bid_price1: bid,
      ask_price1: ask,
      last_price: bid,
      upper_limit: Math.round(bid * 1.15),
      lower_limit: Math.round(bid * 0.85),
    }),
  });
  if (!res.ok) throw new Error(`/sim/quote ${symbol}: ${await res.text()}`);
  await res.body?.cancel();
}

/** Wait until `fn` is truthy (polling every `everyMs`), or throw naming `what`. */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 30_000,
  everyMs = 5,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Per-order timestamps (ms, `performance.now()` clock) of every hop the probes see. */
export interface OrderTimes {
  publish?: number;
  simIn?: number;
  simOut?: number;
  submitted?: number;
  /** The send gate handed it to the broker (tqsdk `insert_order` written to the socket). */
  sent?: number;
  brokerFinished?: number;
  filled?: number;
  redis?: number;
}

/** The probes of one service (see the module doc); `times` is keyed by the request's `order_id`. */
export class PathProbe {
  readonly times = new Map<string, OrderTimes>();
  /** Wall time the sim spent in `insertOrder` per order (handling, matching, frames queued). */
  readonly simCost: number[] = [];
  readonly #byBroker = new Map<string, string>();
  /** Per symbol: order ids in the order they filled at the sim. */
  readonly #fills = new Map<string, string[]>();
  /** Per symbol: highest position value seen in Redis. */
  readonly #redisSeen = new Map<string, number>();
  readonly #stops: (() => void | Promise<void>)[] = [];
  readonly #portfolio: string;

  constructor(portfolio: string) {
    this.#portfolio = portfolio;
  }

  /** Register `orderId` (before publishing it). */
  expect(orderId: string): OrderTimes {
    const t: OrderTimes = {};
    this.times.set(orderId, t);
    this.#byBroker.set(deriveBrokerOrderId(this.#portfolio, orderId), orderId);
    return t;
  }

  /** Forget every order (between phases). */
  reset(): void {
    this.times.clear();
    this.#byBroker.clear();
    this.simCost.length = 0;
  }

  #of(brokerOrderId: string): OrderTimes | undefined {
    const id = this.#byBroker.get(brokerOrderId);
    return id === undefined ? undefined : this.times.get(id);
  }

  /**
   * Fill in the sim's times (`simIn`, `simOut`, `simCost`) of the orders registered since the last call,
   * from the sim's process (epoch clock there, `performance.now()` clock here).
   */
  async collectSim(sim: SimProcess): Promise<void> {
    const times = await sim.takeTimes();
    for (const [brokerOrderId, [t0, t1]] of Object.entries(times)) {
      const t = this.#of(brokerOrderId);
      if (!t) continue;
      t.simIn = t0 - performance.timeOrigin;
      t.simOut = t1 - performance.timeOrigin;
      this.simCost.push(t1 - t0);
    }
  }

  /** Install every probe on a started service. */
  async attach(service: Service): Promise<void> {
    // connector: the moment the send gate hands the order to tqsdk.
    const broker = service.broker!;
    const originalInsert = broker.insert.bind(broker);
    broker.insert = (order) => {
      const t = this.#of(order.broker_order_id);
      if (t) t.sent = performance.now();
      return originalInsert(order);
    };
    this.#stops.push(() => {
      broker.insert = originalInsert;
    });
    // connector: the broker's merged view of the order; its trades give the fill order per symbol.
    this.#stops.push(broker.subscribe((e) => {
      if (e.type === "trade") {
        const id = this.#byBroker.get(e.trade.broker_order_id);
        if (id === undefined) return;
        let list = this.#fills.get(e.trade.symbol);
        if (!list) this.#fills.set(e.trade.symbol, list = []);
        list.push(id);
        return;
      }
      if (e.type !== "order" || e.order.status !== "FINISHED") return;
      const t = this.#of(e.order.broker_order_id);
      if (t && t.brokerFinished === undefined) t.brokerFinished = performance.now();
    }));
    // order_history: the store's answers to the service's own writes (the COMMIT answered).
    const store = service.store!;
    const recordIntents = store.recordIntents;
    const applyUpdates = store.applyUpdates;
    store.recordIntents = async (intents) => {
      const results = await recordIntents.call(store, intents);
      const now = performance.now();
      for (const r of results) {
        const t = this.times.get(r.record.id);
        if (t && r.outcome === "created" && r.record.status === "SUBMITTED") t.submitted ??= now;
      }
      return results;
    };
    store.applyUpdates = async (updates, options) => {
      const results = await applyUpdates.call(store, updates, options);
      const now = performance.now();
      for (const r of results) {
        const t = this.times.get(r.record.id);
        if (t && r.event && r.record.status === "FILLED") t.filled ??= now;
      }
      return results;
    };
    this.#stops.push(() => {
      store.recordIntents = recordIntents;
      store.applyUpdates = applyUpdates;
    });
    // Redis: MONITOR shows each SET with its value.
    const redis = new Redis({ host: "127.0.0.1", port: 6379 });
    const monitor = await redis.monitor();
    const prefix = positionKey(this.#portfolio, "");
    monitor.on("monitor", (time: string, args: string[]) => {
      if (args[0]?.toLowerCase() !== "set" || !args[1]?.startsWith(prefix)) return;
      const now = monitorTime(time);
      const symbol = args[1].slice(prefix.length);
      const value = Number(args[2]);
      const seen = this.#redisSeen.get(symbol) ?? 0;
      if (!(value > seen)) return;
      this.#redisSeen.set(symbol, value);
      const fills = this.#fills.get(symbol) ?? [];
      for (let j = seen; j < Math.min(value, fills.length); j++) {
        const t = this.times.get(fills[j]);
        if (t && t.redis === undefined) t.redis = now;
      }
    });
    this.#stops.push(() => {
      monitor.disconnect();
      redis.disconnect();
    });
  }

  /** Number of fills of `symbol` the sim made for registered orders. */
  fills(symbol: string): number {
    return this.#fills.get(symbol)?.length ?? 0;
  }

  /** Uninstall the probes. */
  async detach(): Promise<void> {
    for (const stop of this.#stops.reverse()) await stop();
    this.#stops.length = 0;
  }
}

/** A started in-process service with its probes and clients. */
export interface BenchService {
  service: Service;
  /** The sim exchange (its own process) the service trades on. */
  sim: SimProcess;
  names: BenchNames;
  db: ServerDatabaseConfig;
  sql: postgres.Sql;
  pub: Publisher;
  probe: PathProbe;
}

/**
 * Run `fn` against a started production-like service (in-process), then stop it and drop everything it
 * made (database, queues, Redis keys).
 */
export async function withBenchService<T>(
  tag: string,
  fn: (ctx: BenchService) => Promise<T>,
  options: BenchConfigOptions & {
    /** Start the broker's sockets over npm `ws` (TCP_NODELAY): see `nodelay_ws.ts`. */
    nodelay?: boolean;
  } = {},
): Promise<T> {
  const names = benchNames(tag);
  const sim = await startSimProcess({ clock: BENCH_SIM_CLOCK, balance: BENCH_SIM_BALANCE });
  try {
    return await withBenchDatabase((db) => runService(names, db, sim, fn, options));
  } finally {
    await sim.close();
  }
}

async function runService<T>(
  names: BenchNames,
  db: ServerDatabaseConfig,
  sim: SimProcess,
  fn: (ctx: BenchService) => Promise<T>,
  options: BenchConfigOptions & { nodelay?: boolean },
): Promise<T> {
  const config = benchConfig(names, db, { ...options, simUrl: sim.baseUrl });
  await setupLogging(config.log, { console: config.log.level === "warning" || config.log.level === "error" });
  const service = buildService(config, { leaseIntervalMs: 2000, quoteWaitMs: 2000 });
  const start = async () => {
    await service.lifecycle.start();
    await until("broker ready", () => service.broker?.state().ready && service.lease?.held, 20_000, 20);
  };
  if (options.nodelay) await withNoDelayWebSocket(start);
  else await start();
  const sql = benchSql(db);
  const pub = await publisher(names);
  const probe = new PathProbe(names.portfolio);
  try {
    await probe.attach(service);
    return await fn({ service, sim, names, db, sql, pub, probe });
  } finally {
    await probe.detach();
    await service.lifecycle.stop();
    await pub.close();
    await sql.end();
    await cleanupRedis(names.portfolio);
    await shutdownLogging();
  }
}

/**
 * The time of a `MONITOR` line (the Redis server's clock, `seconds.microseconds`) on this process's
 * `performance.now()` clock. Both read this machine's clock; the line itself may reach a busy process later.
 */
export function monitorTime(time: string): number {
  return Number(time) * 1000 - performance.timeOrigin;
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Run `send(k)` for k = 0 … count−1 at `ratePerS` (a schedule, not a delay per item: items that fell behind
 * are sent at once), or in bursts of `burst` items every `gapMs` when `burst` is given.
 */
export async function pace(
  count: number,
  mode: { ratePerS: number } | { burst: number; gapMs: number },
  send: (k: number) => void,
): Promise<void> {
  const start = performance.now();
  let k = 0;
  while (k < count) {
    if ("ratePerS" in mode) {
      const due = Math.min(count, Math.floor(((performance.now() - start) * mode.ratePerS) / 1000) + 1);
      while (k < due) send(k++);
      const next = start + (k * 1000) / mode.ratePerS;
      await sleep(Math.max(0, next - performance.now()));
    } else {
      const end = Math.min(count, k + mode.burst);
      while (k < end) send(k++);
      if (k < count) await sleep(mode.gapMs);
    }
  }
}
