/**
 * Test helper: the live-state pipeline of the service without its HTTP and order parts — a sim exchange,
 * the real broker (npm tqsdk over WebSockets), the live view, the stream hub (what `/ws` sends) and the
 * Redis writer on the real local Redis (its test db, keys of a unique portfolio) — plus the log records of
 * the broker, so tests can follow a frame from the sim's socket to Redis.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { Redis } from "ioredis";
import { createBroker } from "../../lib/broker/mod.ts";
import type { Broker, BrokerInsert } from "../../lib/broker/types.ts";
import { deriveBrokerOrderId } from "../../lib/broker/order_ids.ts";
import type { Sim } from "../../lib/sim/mod.ts";
import { connectLiveView, LiveView } from "../../lib/stream/live_view.ts";
import { StreamHub, type StreamMessage } from "../../lib/stream/hub.ts";
import { RedisPositionWriter } from "../../lib/sinks/redis_positions.ts";
import { TEST_REDIS_DB } from "../helpers/service.ts";
import { Recorder, tqConfig } from "./env.ts";

/** The running pipeline. */
export interface Pipeline {
  sim: Sim;
  broker: Broker;
  rec: Recorder;
  view: LiveView;
  writer: RedisPositionWriter;
  /** Every message the hub sent to one subscriber, parsed. */
  messages: StreamMessage[];
  /** A client on the writer's Redis db. */
  redis: Redis;
  portfolio: string;
  /** Log records of the `tbc` loggers (warning and above). */
  logs: LogRecord[];
}

/** Options of {@linkcode withPipeline}. */
export interface PipelineOptions {
  /** Redis writer full-rewrite period (default 60 000 ms). */
  refreshIntervalMs?: number;
  ttlSeconds?: number;
}

/** Run `fn` with the pipeline on `sim` (logged in as demo/demo, ready), then stop it and delete its keys. */
export async function withPipeline(
  sim: Sim,
  fn: (p: Pipeline) => Promise<void>,
  options: PipelineOptions = {},
): Promise<void> {
  const logs: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { mem: (r: LogRecord) => logs.push(r) },
    loggers: [
      { category: ["tbc"], sinks: ["mem"], lowestLevel: "warning" },
      { category: ["logtape", "meta"], sinks: [] },
    ],
  });
  const portfolio = `pf_pipe_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const broker = createBroker(tqConfig({ portfolio_id: portfolio }), {
    simBaseUrl: sim.baseUrl,
    simAccounts: [{ user: "demo", password: "demo" }],
    random: () => 0.5,
  });
  const rec = new Recorder(broker);
  const view = new LiveView();
  const unsubscribeView = connectLiveView(broker, view);
  const hub = new StreamHub(view);
  const messages: StreamMessage[] = [];
  hub.subscribe((data) => {
    messages.push(JSON.parse(data));
  });
  const writer = new RedisPositionWriter(view, {
    portfolioId: portfolio,
    redis: { host: "127.0.0.1", port: 6379, password: "", db: TEST_REDIS_DB },
    refreshIntervalMs: options.refreshIntervalMs,
    ttlSeconds: options.ttlSeconds,
  });
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: TEST_REDIS_DB });
  try {
    await writer.start();
    await broker.start();
    await broker.waitReady(5000);
    await fn({ sim, broker, rec, view, writer, messages, redis, portfolio, logs });
  } finally {
    await broker.stop();
    rec.close();
    hub.close();
    await writer.stop();
    unsubscribeView();
    const keys = await redis.keys(`*PortfolioId_${portfolio}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await reset();
  }
}

/** An insert of demo's (`id` is the client order id). */
export function demoOrder(id: string, fields: Partial<BrokerInsert> = {}): BrokerInsert {
  return {
    broker_order_id: deriveBrokerOrderId("demo", id),
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    limit_price: 3501,
    time_condition: "GFD",
    volume_condition: "ANY",
    ...fields,
  };
}

/** Wait until `fn` returns a truthy value (polling every 20 ms), or fail naming `what`. */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 5000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
