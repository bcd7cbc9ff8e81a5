/**
 * The raw floor: the hops an order must make, done by a minimal script with the same libraries, on the same
 * servers, in the same process run. One message goes
 *
 * ```
 * amqplib publish → amqplib consume → postgres INSERT (commit) → WebSocket send → echo server (Deno.serve)
 *   → WebSocket receive → postgres INSERT (commit) → ioredis SET (seen by MONITOR, as the connector's is)
 * ```
 *
 * which is the connector's path with everything but the I/O taken out: one AMQP delivery, the intent
 * committed before the send, a WebSocket round trip to the exchange, the fill committed, one Redis write.
 * Every hop is timed, so the per-hop floors (one AMQP delivery, one insert, one WebSocket message, one SET)
 * are reported too.
 *
 * @module
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import type postgres from "postgres";
import { AMQP_URL, BENCH_REDIS_DB, pace, until } from "./harness.ts";

/** Timestamps (performance.now) of one floor message. */
export interface FloorTimes {
  publish: number;
  consumed?: number;
  insert1?: number;
  echoIn?: number;
  back?: number;
  insert2?: number;
  redis?: number;
}

/** A running floor pipeline. */
export interface FloorPipeline {
  /** Send `count` messages paced by `mode`; resolves when every one reached Redis. */
  run(count: number, mode: { ratePerS: number } | { burst: number; gapMs: number }): Promise<FloorTimes[]>;
  close(): Promise<void>;
}

/** Start the floor pipeline on the database `sql` (a table `bench_floor` is created there). */
export async function startFloor(
  sql: postgres.Sql,
  options: { prefetch?: number } = {},
): Promise<FloorPipeline> {
  const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const exchange = `tbc_bench_floor_${tag}_ex`;
  const queue = `tbc_bench_floor_${tag}_q`;
  const redisKey = `TQ_Bench_Floor_${tag}`;
  await sql.unsafe(
    `create table if not exists bench_floor (k int not null, hop int not null, at timestamptz not null default now(), body text)`,
  );

  let times: FloorTimes[] = [];
  let run = 0;

  // echo server: the exchange stand-in, answering each message at once.
  const abort = new AbortController();
  let port = 0;
  const listening = new Promise<void>((resolve) => {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: (addr) => {
        port = addr.port;
        resolve();
      },
    }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => {
        const m = JSON.parse(String(e.data));
        const t = times[m.k];
        if (t && m.run === run) t.echoIn = performance.now();
        socket.send(JSON.stringify({ aid: "rtn_data", k: m.k, run: m.run }));
      };
      return response;
    });
  });
  await listening;

  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: BENCH_REDIS_DB });
  const monitorConn = new Redis({ host: "127.0.0.1", port: 6379 });
  const monitor = await monitorConn.monitor();
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() !== "set" || args[1] !== redisKey) return;
    const [r, k] = String(args[2]).split(":").map(Number);
    const t = times[k];
    if (t && r === run && t.redis === undefined) t.redis = performance.now();
  });

  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("floor websocket did not open"));
  });
  ws.onmessage = async (e) => {
    const m = JSON.parse(String(e.data));
    const t = times[m.k];
    if (!t || m.run !== run) return;
    t.back = performance.now();
    await sql`insert into bench_floor (k, hop) values (${m.k}, 2)`;
    t.insert2 = performance.now();
    await redis.set(redisKey, `${m.run}:${m.k}`, "EX", 600);
  };

  // consumer: its own connection, manual ack, prefetch like the service's.
  const consumerConn = await amqp.connect(AMQP_URL);
  const consumer = await consumerConn.createChannel();
  await consumer.assertExchange(exchange, "topic", { durable: true });
  await consumer.assertQueue(queue, { durable: true });
  await consumer.bindQueue(queue, exchange, "floor");
  await consumer.prefetch(options.prefetch ?? 64);
  await consumer.consume(queue, async (msg) => {
    if (!msg) return;
    const body = JSON.parse(msg.content.toString());
    const t = times[body.k];
    if (t && body.run === run) t.consumed = performance.now();
    await sql`insert into bench_floor (k, hop, body) values (${body.k}, 1, ${msg.content.toString()})`;
    if (t && body.run === run) t.insert1 = performance.now();
    consumer.ack(msg);
    ws.send(JSON.stringify({ aid: "insert_order", k: body.k, run: body.run }));
  }, { noAck: false });

  const pubConn = await amqp.connect(AMQP_URL);
  const pub = await pubConn.createConfirmChannel();

  return {
    async run(count, mode) {
      run++;
      times = [];
      await pace(count, mode, (k) => {
        const body = { k, run, symbol: "SHFE.rb2605", direction: "BUY", offset: "OPEN", volume: 1 };
        times[k] = { publish: performance.now() };
        pub.publish(exchange, "floor", Buffer.from(JSON.stringify(body)), {
          persistent: true,
          contentType: "application/json",
        });
      });
      await pub.waitForConfirms();
      await until("floor messages in Redis", () => times.every((t) => t.redis !== undefined), 60_000);
      return times;
    },
    async close() {
      ws.close();
      await consumer.deleteQueue(queue).catch(() => {});
      await consumer.deleteExchange(exchange).catch(() => {});
      await consumer.close().catch(() => {});
      await consumerConn.close().catch(() => {});
      await pub.close().catch(() => {});
      await pubConn.close().catch(() => {});
      await redis.del(redisKey);
      redis.disconnect();
      monitor.disconnect();
      monitorConn.disconnect();
      abort.abort();
    },
  };
}
