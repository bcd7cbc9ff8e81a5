/**
 * Test harness for the whole service: a throwaway PostgreSQL database, a Redis db of its own, RabbitMQ
 * names of its own, the sim exchange in-process on a free port and the HTTP API on a free port. The real
 * path end to end; every name is unique so tests can run in parallel.
 *
 * @module
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import postgres from "postgres";
import { type Config, parseConfig } from "../../lib/config.ts";
import { buildService, type Service, type ServiceOptions } from "../../lib/service.ts";
import type { ServerDatabaseConfig } from "../../lib/store/pg/connect.ts";
import { controlSim } from "./external_sim.ts";

/** Redis db used by service tests. */
export const TEST_REDIS_DB = 12;

/** Names of one test run. */
export interface TestNames {
  portfolio: string;
  exchange: string;
  queue: string;
  deadExchange: string;
  deadQueue: string;
}

/** Unique names for one test. */
export function testNames(tag: string): TestNames {
  const id = `${tag}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  return {
    portfolio: `pf_${id}`,
    exchange: `tbc_test_${id}_ex`,
    queue: `tbc_test_${id}_q`,
    deadExchange: `tbc_test_${id}_ex.dead`,
    deadQueue: `tbc_test_${id}_q.dead`,
  };
}

/** The configuration of a test service. */
export function testConfig(
  names: TestNames,
  db: ServerDatabaseConfig,
  options: { rabbitmq?: boolean; redis?: boolean; extra?: string } = {},
): Config {
  const yaml = `
tq:
  portfolio_id: ${names.portfolio}
  run_mode: sim
  reconnect: {initial_ms: 50, max_ms: 500, alarm_after_s: 30}
database:
  host: ${db.host}
  port: ${db.port}
  user: ${db.user}
  password: ""
  dbname: ${db.dbname}
http: {host: 127.0.0.1, port: 0}
log: {file: /tmp/tbc_test_service.log, level: warning}
sim:
  port: 0
  tick_ms: 0
  accounts: [{user: demo, password: demo, balance: 10000000}]
${options.redis === false ? "" : `redis: {host: 127.0.0.1, port: 6379, db: ${TEST_REDIS_DB}}`}
${
    options.rabbitmq === false ? "" : `rabbitmq:
  url: "amqp://guest:guest@127.0.0.1:5672/"
  order_request_queue: ${names.queue}
  order_request_exchange: ${names.exchange}
  prefetch: 16
  reconnect_initial_ms: 50
  reconnect_max_ms: 500`
  }
${options.extra ?? ""}
`;
  return parseConfig(yaml, "test.yaml", { env: {} });
}

/** Start a service; the caller stops it with `service.lifecycle.stop()`. */
export async function startTestService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const service = buildService(config, { leaseIntervalMs: 100, quoteWaitMs: 1000, ...options });
  await service.lifecycle.start();
  return service;
}

/** Base URL of the service's HTTP API. */
export function apiUrl(service: Service): string {
  if (!service.http) throw new Error("http not started");
  return service.http.url;
}

/** Wait until `fn` returns a truthy value (polling), or fail naming `what`. */
export async function eventually<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 8000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
  );
}

/** A RabbitMQ publisher to the test exchange. */
export async function rabbitPublisher(names: TestNames): Promise<{
  publish(body: unknown, options?: { messageId?: string; raw?: boolean }): Promise<void>;
  deadLetters(): Promise<{ body: string; headers: Record<string, unknown> }[]>;
  close(): Promise<void>;
}> {
  const conn = await amqp.connect("amqp://guest:guest@127.0.0.1:5672/");
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(names.exchange, "topic", { durable: true });
  const routingKey = `PortfolioId_${names.portfolio}`;
  return {
    async publish(body, options = {}) {
      const text = options.raw ? String(body) : JSON.stringify(body);
      ch.publish(names.exchange, routingKey, Buffer.from(text), {
        persistent: true,
        messageId: options.messageId,
        contentType: "application/json",
      });
      await ch.waitForConfirms();
    },
    async deadLetters() {
      const out: { body: string; headers: Record<string, unknown> }[] = [];
      for (;;) {
        const msg = await ch.get(names.deadQueue, { noAck: true });
        if (!msg) break;
        out.push({ body: msg.content.toString(), headers: msg.properties.headers ?? {} });
      }
      return out;
    },
    async close() {
      for (const q of [names.queue, names.deadQueue]) await ch.deleteQueue(q).catch(() => {});
      for (const e of [names.exchange, names.deadExchange]) await ch.deleteExchange(e).catch(() => {});
      await ch.close().catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}

/** A Redis client on the test db, with cleanup of one portfolio's keys. */
export function testRedis(): Redis {
  return new Redis({ host: "127.0.0.1", port: 6379, db: TEST_REDIS_DB, lazyConnect: false });
}

/** Delete every key of `portfolio` on the test db and close the client. */
export async function cleanupRedis(redis: Redis, portfolio: string): Promise<void> {
  const keys = await redis.keys(`*PortfolioId_${portfolio}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

/** A direct SQL client on the test database (for assertions on exact rows). */
export function testSql(db: ServerDatabaseConfig): postgres.Sql {
  return postgres({
    host: db.host,
    port: db.port,
    user: db.user,
    database: db.dbname,
    max: 2,
    onnotice: () => {},
  });
}

/** POST/DELETE/GET JSON against the API. */
export async function api(
  service: Service,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${apiUrl(service)}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

/** Control API of the service's in-process sim. */
export async function simControl(
  service: Service,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  if (!service.sim) throw new Error("no in-process sim");
  return await controlSim(service.sim, path, body);
}

/** A book to set on the in-process sim; every field has the default most tests trade on. */
export interface TestBookOptions {
  symbol?: string;
  bid?: number;
  ask?: number;
  upper?: number;
  lower?: number;
}

/** Set a quote exactly on the service's sim: `symbol` (default SHFE.rb2605) bid/ask (3500/3501), last = bid, limits `upper`/`lower` (4000/3000). */
export async function setBook(service: Service, book: TestBookOptions = {}): Promise<void> {
  const { symbol = "SHFE.rb2605", bid = 3500, ask = 3501, upper = 4000, lower = 3000 } = book;
  await simControl(service, "/sim/quote", {
    symbol,
    bid_price1: bid,
    ask_price1: ask,
    last_price: bid,
    upper_limit: upper,
    lower_limit: lower,
  });
}

/** An insert request of the seed form. */
export function insertRequest(
  names: TestNames,
  orderId: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: 3500,
    order_id: orderId,
    portfolio_id: names.portfolio,
    ...fields,
  };
}
