/**
 * Throughput: `count` marketable orders published at once (the queue holds the backlog), through the whole
 * path (intake → intent committed → sim → fill committed → Redis), timed from the first publish until the
 * last order is FILLED in `order_history` and the Redis position shows every lot. Then the books are
 * checked for loss and duplicates: exactly `count` orders at the sim, `count` FILLED rows, `count` trades,
 * Redis = `count`, nothing dead-lettered. The floor pipeline does the same count in the same run.
 *
 * @module
 */
import amqp from "amqplib";
import { startFloor } from "./floor.ts";
import {
  AMQP_URL,
  buyRequest,
  floorExchange,
  pace,
  setQuote,
  sleep,
  until,
  withBenchService,
} from "./harness.ts";
import { positionKey } from "../lib/sinks/redis_positions.ts";
import { Redis } from "ioredis";
import { BENCH_REDIS_DB } from "./harness.ts";
import { ms, table } from "./stats.ts";

/** Sizes of a throughput run. */
export interface ThroughputOptions {
  count: number;
}

/** What the run measured. */
export interface ThroughputResult {
  count: number;
  seconds: number;
  rate: number;
  floorRate: number;
  /** Orders/s reaching the sim over each tenth of the count. */
  deciles: number[];
  lost: number;
  duplicated: number;
  table: string;
}

const SYMBOL = "SHFE.rb2610";

/** Run the throughput benchmark; prints its table and returns the result. */
export async function runThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  return await withBenchService("tput", async ({ sim, names, sql, pub, probe }) => {
    await setQuote(sim.baseUrl, SYMBOL, 3400, 3401);
    // warm-up (not counted)
    const warm = Array.from({ length: 100 }, (_, k) => `w-${k}`);
    await pace(warm.length, { ratePerS: 500 }, (k) => {
      probe.expect(warm[k]).publish = pub.publish(buyRequest(names.portfolio, warm[k], SYMBOL, 3401));
    });
    await until("warm-up", () => warm.every((id) => probe.times.get(id)?.filled !== undefined), 60_000);
    probe.reset();

    const floor = await startFloor(sql, { exchange: floorExchange(sim) });
    let floorSeconds: number;
    try {
      await floor.run(200, { ratePerS: 1000 }, { symbol: SYMBOL, price: 3401 });
      const t0 = performance.now();
      const ft = await floor.run(o.count, { burst: o.count, gapMs: 0 }, { symbol: SYMBOL, price: 3401 });
      floorSeconds = (Math.max(...ft.map((t) => Math.max(t.redis!, t.insert2!))) - t0) / 1000;
    } finally {
      await floor.close();
    }
    await sleep(200);

    const ids = Array.from({ length: o.count }, (_, k) => `t-${k}`);
    const t0 = performance.now();
    for (const id of ids) {
      probe.expect(id).publish = pub.publish(buyRequest(names.portfolio, id, SYMBOL, 3401));
    }
    await pub.confirmed();
    const published = performance.now();
    const done = () =>
      ids.every((id) =>
        probe.times.get(id)?.filled !== undefined && probe.times.get(id)?.redis !== undefined
      );
    try {
      await until("every order FILLED and in Redis", done, 300_000, 50);
    } catch (e) {
      console.log(`!! ${(e as Error).message}`);
    }
    const finished = ids.map((id) => {
      const t = probe.times.get(id)!;
      return Math.max(t.filled ?? NaN, t.redis ?? NaN);
    }).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
    const seconds = (finished[finished.length - 1] - t0) / 1000;
    const rate = finished.length / seconds;
    await probe.collectSim(sim);
    // How fast orders reached the exchange, per tenth of the count (the day's order count grows).
    const atSimTimes = ids.map((id) => probe.times.get(id)?.simIn ?? NaN).filter((v) => !Number.isNaN(v))
      .sort((a, b) => a - b);
    const deciles: number[] = [];
    for (let i = 0; i < 10; i++) {
      const a = Math.floor((i * atSimTimes.length) / 10);
      const b = Math.floor(((i + 1) * atSimTimes.length) / 10) - 1;
      const start = i === 0 ? t0 : atSimTimes[a - 1];
      deciles.push((b - a + 1) / ((atSimTimes[b] - start) / 1000));
    }

    // the books
    await sleep(500);
    const [{ filled }] = await sql`select count(*)::int as filled from order_history
      where portfolio_id = ${names.portfolio} and id like 't-%' and status = 'FILLED'`;
    const [{ trades }] = await sql`select count(*)::int as trades from trade where order_id like 't-%'`;
    const account = await (await fetch(`${sim.baseUrl}/sim/account?user=demo`)).json();
    const atSim = Object.values(account.orders as Record<string, { instrument_id: string }>)
      .filter((x) => x.instrument_id === SYMBOL.split(".")[1]).length - warm.length;
    const redis = new Redis({ host: "127.0.0.1", port: 6379, db: BENCH_REDIS_DB });
    const inRedis = Number(await redis.get(positionKey(names.portfolio, SYMBOL))) - warm.length;
    redis.disconnect();
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    const dead = (await ch.checkQueue(`${names.queue}.dead`)).messageCount;
    const left = (await ch.checkQueue(names.queue)).messageCount;
    await conn.close();
    const lost = o.count - Math.min(filled, trades, atSim, inRedis);
    const duplicated = Math.max(atSim, trades, filled, inRedis) - o.count;

    const text = table(["throughput", `${o.count} orders`], [
      ["published (confirmed by RabbitMQ) after", `${ms(published - t0)} ms`],
      ["last order FILLED and in Redis after", `${ms(seconds * 1000)} ms`],
      ["CONNECTOR sustained rate", `${rate.toFixed(0)} orders/s`],
      ["FLOOR pipeline, same count, same run", `${(o.count / floorSeconds).toFixed(0)} msgs/s`],
      ["orders/s reaching the sim, per tenth of the count", deciles.map((d) => d.toFixed(0)).join(" ")],
      [
        "orders at the sim / FILLED rows / trades / Redis lots",
        `${atSim} / ${filled} / ${trades} / ${inRedis}`,
      ],
      ["dead-lettered / left in the queue", `${dead} / ${left}`],
      ["lost / duplicated", `${lost} / ${duplicated}`],
    ]);
    console.log(`\n${text}`);
    const result: ThroughputResult = {
      count: o.count,
      seconds,
      rate,
      floorRate: o.count / floorSeconds,
      deciles,
      lost: lost + dead + left,
      duplicated,
      table: text,
    };
    console.log(throughputSummary(result));
    return result;
  });
}

/** The one-line summary with the verdict against the target. */
export function throughputSummary(r: ThroughputResult): string {
  const met = r.rate >= 2000 && r.lost === 0 && r.duplicated === 0;
  return `throughput: ${r.rate.toFixed(0)} orders/s sustained over ${r.count} orders (floor ${
    r.floorRate.toFixed(0)
  }/s; sent to the sim at ${r.deciles[0].toFixed(0)}/s in the first tenth, ${
    r.deciles[9].toFixed(0)
  }/s in the last), lost ${r.lost}, ` +
    `duplicated ${r.duplicated}; target ≥ 2000/s with zero loss: ${met ? "MET" : "NOT MET"}`;
}

if (import.meta.main) {
  await runThroughput({ count: Deno.args.includes("--quick") ? 1000 : 5000 });
}
