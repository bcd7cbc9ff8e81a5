/**
 * Shared pieces of the fault scenarios: a service configuration that can point at private servers, a
 * RabbitMQ publisher that survives a broker restart (at-least-once: it republishes what was not confirmed,
 * so a restart may deliver a message twice — which the service must absorb), and quote setup.
 *
 * @module
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { type Config, parseConfig } from "../../lib/config.ts";
import type { ServerDatabaseConfig } from "../../lib/store/pg/connect.ts";
import { startTestService, TEST_REDIS_DB, type TestNames, testNames } from "../helpers/service.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import type { Service } from "../../lib/service.ts";
import { Redis } from "ioredis";
import { PrivateRedis } from "./private_servers.ts";

/** The shared RabbitMQ. */
export const SHARED_RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/";

/** Where the service's Redis and RabbitMQ are (default: the shared ones; null: none). */
export interface FaultConfigOptions {
  redis?: { port: number; db: number } | null;
  rabbitUrl?: string | null;
  prefetch?: number;
  extra?: string;
}

/** A service configuration for a fault scenario. */
export function faultConfig(
  names: TestNames,
  db: ServerDatabaseConfig,
  options: FaultConfigOptions = {},
): Config {
  const redis = options.redis === undefined ? { port: 6379, db: TEST_REDIS_DB } : options.redis;
  const rabbitUrl = options.rabbitUrl === undefined ? SHARED_RABBIT_URL : options.rabbitUrl;
  const yaml = `
tq:
  portfolio_id: ${names.portfolio}
  run_mode: sim
  reconnect: {initial_ms: 50, max_ms: 500, alarm_after_s: 30}
database: {host: ${db.host}, port: ${db.port}, user: ${db.user}, password: "", dbname: ${db.dbname}}
http: {host: 127.0.0.1, port: 0}
log: {file: /tmp/tbc_test_faults.log, level: warning}
risk: {insert_rate_per_s: 10000, insert_burst: 10000}
sim:
  port: 0
  tick_ms: 0
  accounts: [{user: demo, password: demo, balance: 100000000}]
${redis ? `redis: {host: 127.0.0.1, port: ${redis.port}, db: ${redis.db}}` : ""}
${
    rabbitUrl
      ? `rabbitmq:
  url: "${rabbitUrl}"
  order_request_queue: ${names.queue}
  order_request_exchange: ${names.exchange}
  prefetch: ${options.prefetch ?? 16}
  reconnect_initial_ms: 50
  reconnect_max_ms: 500`
      : ""
  }
${options.extra ?? ""}
`;
  return parseConfig(yaml, "faults.yaml", { env: {} });
}

/** A RabbitMQ publisher that reconnects and republishes until the broker confirms. */
export class ReliablePublisher {
  readonly #url: string;
  readonly #names: TestNames;
  #conn: amqp.ChannelModel | null = null;
  #ch: amqp.ConfirmChannel | null = null;
  /** Publishes that had to be retried (each may have reached the queue twice). */
  retries = 0;

  constructor(url: string, names: TestNames) {
    this.#url = url;
    this.#names = names;
  }

  async #channel(): Promise<amqp.ConfirmChannel> {
    if (this.#ch) return this.#ch;
    const conn = await amqp.connect(this.#url);
    conn.on("error", () => {});
    conn.on("close", () => {
      this.#conn = null;
      this.#ch = null;
    });
    const ch = await conn.createConfirmChannel();
    ch.on("error", () => {});
    ch.on("close", () => {
      this.#ch = null;
    });
    await ch.assertExchange(this.#names.exchange, "topic", { durable: true });
    this.#conn = conn;
    this.#ch = ch;
    return ch;
  }

  /** Publish (persistent) to the test exchange; retried until confirmed or `timeoutMs` passes. */
  async publish(body: unknown, options: { raw?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const text = options.raw ? String(body) : JSON.stringify(body);
    const end = Date.now() + (options.timeoutMs ?? 60_000);
    for (let attempt = 0;; attempt++) {
      try {
        const ch = await this.#channel();
        ch.publish(this.#names.exchange, `PortfolioId_${this.#names.portfolio}`, Buffer.from(text), {
          persistent: true,
          contentType: "application/json",
        });
        await ch.waitForConfirms();
        if (attempt > 0) this.retries++;
        return;
      } catch (e) {
        await this.#drop();
        if (Date.now() > end) throw new Error(`publish failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Messages ready (not delivered) in the request queue now. */
  async queueDepth(): Promise<number> {
    const ch = await this.#channel();
    return (await ch.checkQueue(this.#names.queue)).messageCount;
  }

  /** Everything in the dead-letter queue now. */
  async deadLetters(): Promise<{ body: string; headers: Record<string, unknown> }[]> {
    const ch = await this.#channel();
    const out: { body: string; headers: Record<string, unknown> }[] = [];
    for (;;) {
      const msg = await ch.get(this.#names.deadQueue, { noAck: true });
      if (!msg) break;
      out.push({ body: msg.content.toString(), headers: msg.properties.headers ?? {} });
    }
    return out;
  }

  async #drop(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    this.#ch = null;
    await conn?.close().catch(() => {});
  }

  /** Delete the test's queues and exchanges (best effort) and close. */
  async close(options: { cleanup?: boolean } = {}): Promise<void> {
    if (options.cleanup ?? true) {
      try {
        const ch = await this.#channel();
        for (const q of [this.#names.queue, this.#names.deadQueue]) await ch.deleteQueue(q).catch(() => {});
        for (const e of [this.#names.exchange, this.#names.deadExchange]) {
          await ch.deleteExchange(e).catch(() => {});
        }
      } catch {
        // the broker is gone
      }
    }
    await this.#drop();
  }
}

/** A private database on a (private) server, created for `fn` and dropped after. */
export async function withDatabaseOn<T>(
  server: { host: string; port: number },
  fn: (db: ServerDatabaseConfig) => Promise<T>,
): Promise<T> {
  const { default: postgres } = await import("postgres");
  const name = `tbc_fault_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres({ ...server, user: "postgres", database: "postgres", max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    return await fn({ host: server.host, port: server.port, user: "postgres", dbname: name });
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

/**
 * The i-th order of a burst on SHFE.rb2605 around a 3500/3501 book: two of three rest below the ask
 * (ACCEPTED), one in three crosses it (FILLED at 3501), so positions move and orders stay open.
 */
export function burstOrder(names: TestNames, prefix: string, i: number): Record<string, unknown> {
  return {
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1 + (i % 2),
    limit_price: i % 3 === 2 ? 3501 : 3400 + (i % 90),
    order_id: `${prefix}-${i}`,
    portfolio_id: names.portfolio,
  };
}

/** Wait until `n` rows of the portfolio exist and none is undecided (RECEIVED, SUBMITTED, UNKNOWN). */
export async function waitSettled(
  sql: import("postgres").Sql,
  portfolioId: string,
  n: number,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < end) {
    try {
      const [r] = await sql`select count(*)::int as n,
          count(*) filter (where status in ('RECEIVED', 'SUBMITTED', 'UNKNOWN'))::int as open
        from order_history where portfolio_id = ${portfolioId}`;
      last = `${r.n} rows, ${r.open} undecided`;
      if (r.n >= n && r.open === 0) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${n} settled orders (last: ${last})`);
}

/** Row count of the portfolio (0 while the database cannot answer). */
export async function rowCount(sql: import("postgres").Sql, portfolioId: string): Promise<number> {
  try {
    const [r] = await sql`select count(*)::int as n from order_history where portfolio_id = ${portfolioId}`;
    return r.n;
  } catch {
    return 0;
  }
}

/** What {@linkcode withPrivateRedisService} hands its body. */
export interface PrivateRedisService {
  names: TestNames;
  db: ServerDatabaseConfig;
  service: Service;
  /** The private `redis-server` the service writes to (stop and start it at will). */
  server: PrivateRedis;
  /** A client of that server, not yet connected (`lazyConnect`); errors while it is down are ignored. */
  redis: Redis;
}

/**
 * Run `fn` against a service (no RabbitMQ) whose Redis is a PRIVATE `redis-server`, never the shared one,
 * on a database of its own; everything is stopped afterwards.
 */
export async function withPrivateRedisService(
  tag: string,
  fn: (ctx: PrivateRedisService) => Promise<void>,
): Promise<void> {
  const names = testNames(tag);
  const server = new PrivateRedis();
  await server.start();
  try {
    await withTestDatabase(async (db) => {
      const service = await startTestService(
        faultConfig(names, db, { redis: { port: server.port, db: 0 }, rabbitUrl: null }),
      );
      const redis = new Redis({
        host: "127.0.0.1",
        port: server.port,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      redis.on("error", () => {});
      try {
        await fn({ names, db, service, server, redis });
      } finally {
        await service.lifecycle.stop();
        redis.disconnect();
      }
    });
  } finally {
    await server.stop();
  }
}
