/**
 * The raw floor: the hops an order must make, done by a minimal script with the same libraries, on the same
 * servers, in the same process run. One message goes
 *
 * ```
 * amqplib publish → amqplib consume → postgres INSERT (commit) → npm ws: insert_order to the bench's sim
 *   → the sim matches it → rtn_data with the order FINISHED → ioredis SET (seen by MONITOR, as the
 *   connector's is), and beside it a second postgres INSERT (the fill)
 * ```
 *
 * which is the floor, the connector's path with everything but the I/O taken out: one AMQP
 * delivery, one insert (the intent, committed before the send), a round trip to the same exchange over raw
 * DIFF (its own sim account, so the connector's account is untouched; the exchange's own time is on both
 * sides), one Redis write. The fill's insert is sent with the SET, not before it, as the connector writes
 * the position without waiting for the fill's commit: it keeps the database load alike and gives the floor
 * of "publish → order_history FILLED", but is not on the floor's publish → Redis path.
 * Every hop is timed, so the per-hop floors (one AMQP delivery, one insert, one WebSocket message, one SET)
 * are reported too.
 *
 * @module
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import WebSocket from "ws";
import type postgres from "postgres";
import { AMQP_URL, BENCH_REDIS_DB, monitorTime, pace, until } from "./harness.ts";

/** Timestamps (performance.now) of one floor message. */
export interface FloorTimes {
  publish: number;
  consumed?: number;
  insert1?: number;
  /** The sim's answer (the order FINISHED in an `rtn_data`) is in. */
  back?: number;
  /** The fill's insert committed (sent with the Redis SET, off the publish → Redis path). */
  insert2?: number;
  redis?: number;
}

/** A running floor pipeline. */
export interface FloorPipeline {
  /**
   * Send `count` messages paced by `mode`, each a marketable 1-lot BUY of `order.symbol` at `order.price`;
   * resolves when every one reached Redis and its fill's insert committed.
   */
  run(
    count: number,
    mode: { ratePerS: number } | { burst: number; gapMs: number },
    order: { symbol: string; price: number },
  ): Promise<FloorTimes[]>;
  close(): Promise<void>;
}

/** Start the floor pipeline on the database `sql` (a table `bench_floor` is created there). */
export async function startFloor(
  sql: postgres.Sql,
  options: {
    /** The bench's sim trade socket and the floor's account there (`sim_process.ts`). */
    exchange: { tradeUrl: string; user: string; password: string };
    prefetch?: number;
  },
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

  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: BENCH_REDIS_DB });
  const monitorConn = new Redis({ host: "127.0.0.1", port: 6379 });
  const monitor = await monitorConn.monitor();
  monitor.on("monitor", (time: string, args: string[]) => {
    if (args[0]?.toLowerCase() !== "set" || args[1] !== redisKey) return;
    const [r, k] = String(args[2]).split(":").map(Number);
    const t = times[k];
    if (t && r === run && t.redis === undefined) t.redis = monitorTime(time);
  });

  // The exchange: the bench's sim, as the connector's, over a raw DIFF trade session of its own account
  // (login, then one peek_message after every rtn_data, as any DIFF client must). npm ws, as the connector's
  // broker sockets (TCP_NODELAY; see lib/broker/safe_websocket.ts).
  const ws = new WebSocket(options.exchange.tradeUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", () => reject(new Error("floor websocket did not open")));
  });
  const byOrderId = new Map<string, number>();
  let loggedIn: () => void;
  const ready = new Promise<void>((r) => loggedIn = r);
  ws.on("message", async (data: WebSocket.RawData) => {
    const frame = JSON.parse(String(data));
    if (frame.aid !== "rtn_data") return;
    ws.send('{"aid":"peek_message"}');
    const finished: number[] = [];
    for (const item of frame.data ?? []) {
      const user = item?.trade?.[options.exchange.user];
      if (user?.session) loggedIn();
      for (const [id, order] of Object.entries(user?.orders ?? {})) {
        if ((order as { status?: string }).status !== "FINISHED") continue;
        const k = byOrderId.get(id);
        if (k !== undefined) finished.push(k);
        byOrderId.delete(id);
      }
    }
    for (const k of finished) {
      const t = times[k];
      if (!t) continue;
      t.back = performance.now();
      const set = redis.set(redisKey, `${run}:${k}`, "EX", 600);
      const fill = sql`insert into bench_floor (k, hop) values (${k}, 2)`.then(() => {
        t.insert2 = performance.now();
      });
      await Promise.all([set, fill]);
    }
  });
  ws.send(JSON.stringify({
    aid: "req_login",
    bid: "sim",
    user_name: options.exchange.user,
    password: options.exchange.password,
  }));
  ws.send('{"aid":"peek_message"}');
  await ready;

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
    if (body.run !== run) return;
    const orderId = `floor-${tag}-${body.run}-${body.k}`;
    byOrderId.set(orderId, body.k);
    const [exchangeId, instrumentId] = body.symbol.split(".");
    ws.send(JSON.stringify({
      aid: "insert_order",
      user_id: options.exchange.user,
      order_id: orderId,
      exchange_id: exchangeId,
      instrument_id: instrumentId,
      direction: "BUY",
      offset: "OPEN",
      volume: 1,
      price_type: "LIMIT",
      limit_price: body.price,
      volume_condition: "ANY",
      time_condition: "GFD",
    }));
  }, { noAck: false });

  const pubConn = await amqp.connect(AMQP_URL);
  const pub = await pubConn.createConfirmChannel();

  return {
    async run(count, mode, order) {
      run++;
      times = [];
      await pace(count, mode, (k) => {
        const body = {
          k,
          run,
          symbol: order.symbol,
          price: order.price,
          direction: "BUY",
          offset: "OPEN",
          volume: 1,
        };
        times[k] = { publish: performance.now() };
        pub.publish(exchange, "floor", Buffer.from(JSON.stringify(body)), {
          persistent: true,
          contentType: "application/json",
        });
      });
      await pub.waitForConfirms();
      await until(
        "floor messages in Redis and their fills inserted",
        () => times.every((t) => t.redis !== undefined && t.insert2 !== undefined),
        60_000,
      );
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
    },
  };
}
