/**
 * Order latency: RabbitMQ publish → `insert_order` on the sim's socket → the connector has the sim's
 * answer → `order_history` row FILLED (committed) → Redis position including the fill. Marketable 1-lot
 * orders (each fills at once), at a steady rate and in bursts, next to the raw floor (`floor.ts`) measured
 * in the same run with the same pacing and count: the two take turns by blocks (one second of the steady
 * rate, or one burst), so both meet the same machine.
 *
 * @module
 */
import { type FloorTimes, startFloor } from "./floor.ts";
import {
  buyRequest,
  floorExchange,
  type OrderTimes,
  pace,
  setQuote,
  sleep,
  until,
  withBenchService,
} from "./harness.ts";
import { ms, signedMs, summarize, type Summary, SUMMARY_HEADER, summaryRow, table } from "./stats.ts";

/** Sizes of one latency run. */
export interface LatencyOptions {
  /** Orders per phase (steady and burst each); default 5000. */
  count: number;
  /** Steady rate, orders/s; default 100. */
  ratePerS: number;
  /** Burst size and pause between bursts; default 50 every 500 ms. */
  burst: number;
  gapMs: number;
  /** Orders sent first to warm up (not counted); default 200. */
  warmup: number;
  /** What-if: the broker's sockets over npm `ws` with TCP_NODELAY (`nodelay_ws.ts`). */
  nodelay?: boolean;
}

/** Default (full) sizes. */
export const LATENCY_FULL: LatencyOptions = {
  count: 5000,
  ratePerS: 100,
  burst: 50,
  gapMs: 500,
  warmup: 200,
};
/** `--quick` sizes. */
export const LATENCY_QUICK: LatencyOptions = {
  count: 600,
  ratePerS: 100,
  burst: 50,
  gapMs: 500,
  warmup: 100,
};

/** The result of one phase. */
export interface LatencyPhase {
  name: string;
  endToEnd: Summary;
  floor: Summary;
  simCost: Summary;
  /** Orders not FILLED in order_history and in Redis when the wait ended (backlog, not loss). */
  unfinished: number;
  /** End-to-end p50 per block of 1000 orders (the day's order count grows along the run). */
  byThousand: number[];
  table: string;
}

const d = (a: number | undefined, b: number | undefined) => a === undefined || b === undefined ? NaN : b - a;

function floorRows(times: FloorTimes[]): string[][] {
  const s = (f: (t: FloorTimes) => number) => summarize(times.map(f));
  return [
    summaryRow("floor: AMQP publish → consume", s((t) => d(t.publish, t.consumed))),
    summaryRow("floor: PostgreSQL insert (commit)", s((t) => d(t.consumed, t.insert1))),
    summaryRow("floor: insert_order → sim's answer (raw DIFF)", s((t) => d(t.insert1, t.back))),
    summaryRow("floor: answer → Redis SET (seen by MONITOR)", s((t) => d(t.back, t.redis))),
    summaryRow("floor: answer → fill's insert (commit, beside the SET)", s((t) => d(t.back, t.insert2))),
    summaryRow("floor: publish → fill's insert", s((t) => d(t.publish, t.insert2))),
    summaryRow("FLOOR end to end (publish → Redis)", s((t) => d(t.publish, t.redis))),
  ];
}

function connectorRows(times: OrderTimes[]): string[][] {
  const s = (f: (t: OrderTimes) => number) => summarize(times.map(f));
  return [
    summaryRow("publish → order_history SUBMITTED (commit)", s((t) => d(t.publish, t.submitted))),
    summaryRow("publish → sent by the send gate", s((t) => d(t.publish, t.sent))),
    summaryRow("sent → insert_order at the sim", s((t) => d(t.sent, t.simIn))),
    summaryRow("  sim's own handling (match, frame queued)", s((t) => d(t.simIn, t.simOut))),
    summaryRow("sim done → connector has the answer", s((t) => d(t.simOut, t.brokerFinished))),
    summaryRow("answer → order_history FILLED (commit)", s((t) => d(t.brokerFinished, t.filled))),
    summaryRow("answer → Redis position", s((t) => d(t.brokerFinished, t.redis))),
    summaryRow("publish → order_history FILLED", s((t) => d(t.publish, t.filled))),
    summaryRow("CONNECTOR end to end (publish → Redis)", s((t) => d(t.publish, t.redis))),
  ];
}

/** Run the latency benchmark; prints its tables and returns the phases. */
export async function runLatency(o: LatencyOptions): Promise<LatencyPhase[]> {
  return await withBenchService("lat", async ({ sim, names, sql, pub, probe }) => {
    const phases: LatencyPhase[] = [];
    const floor = await startFloor(sql, { exchange: floorExchange(sim) });
    try {
      const plans: {
        name: string;
        symbol: string;
        mode: { ratePerS: number } | { burst: number; gapMs: number };
      }[] = [
        { name: `steady ${o.ratePerS}/s`, symbol: "SHFE.rb2605", mode: { ratePerS: o.ratePerS } },
        {
          name: `bursts of ${o.burst} every ${o.gapMs} ms`,
          symbol: "SHFE.hc2605",
          mode: { burst: o.burst, gapMs: o.gapMs },
        },
      ];
      await setQuote(sim.baseUrl, "SHFE.rb2605", 3500, 3501);
      await setQuote(sim.baseUrl, "SHFE.hc2605", 3300, 3301);
      for (const plan of plans) {
        const price = plan.symbol === "SHFE.rb2605" ? 3501 : 3301;
        // warm-up: JIT, quote subscription, connection pools (not counted)
        await floor.run(Math.min(o.warmup, 200), { ratePerS: 500 }, { symbol: plan.symbol, price });
        const warm = Array.from({ length: o.warmup }, (_, k) => `w${plan.symbol}-${k}`);
        await pace(warm.length, { ratePerS: 500 }, (k) => {
          const t = probe.expect(warm[k]);
          t.publish = pub.publish(buyRequest(names.portfolio, warm[k], plan.symbol, price));
        });
        await until(
          "warm-up in Redis",
          () => warm.every((id) => probe.times.get(id)?.redis !== undefined),
          60_000,
        );
        probe.reset();
        await sleep(200);

        // Floor and connector take turns, a block each (one second of the steady rate, or one burst), so
        // both meet the same machine: this host's noise drifts over a run by more than the gaps measured.
        const ids = Array.from(
          { length: o.count },
          (_, k) => `${plan.symbol === "SHFE.rb2605" ? "s" : "b"}-${k}`,
        );
        const blockSize = "ratePerS" in plan.mode ? plan.mode.ratePerS : plan.mode.burst;
        const blockMode = "ratePerS" in plan.mode ? plan.mode : { burst: plan.mode.burst, gapMs: 0 };
        const floorTimes: FloorTimes[] = [];
        let unfinished = 0;
        for (let a = 0; a < ids.length; a += blockSize) {
          const block = ids.slice(a, a + blockSize);
          floorTimes.push(...await floor.run(block.length, blockMode, { symbol: plan.symbol, price }));
          if (!("ratePerS" in plan.mode)) await sleep(plan.mode.gapMs);
          await pace(block.length, blockMode, (k) => {
            const t = probe.expect(block[k]);
            t.publish = pub.publish(buyRequest(names.portfolio, block[k], plan.symbol, price));
          });
          const done = (id: string) =>
            probe.times.get(id)?.redis !== undefined && probe.times.get(id)?.filled !== undefined;
          try {
            await until("every order of the block FILLED and in Redis", () => block.every(done), 30_000, 2);
          } catch {
            unfinished += block.filter((id) => !done(id)).length;
          }
          if (!("ratePerS" in plan.mode)) await sleep(plan.mode.gapMs);
        }
        await pub.confirmed();
        await probe.collectSim(sim);
        const times = ids.map((id) => probe.times.get(id)!);
        const endToEnd = summarize(times.map((t) => d(t.publish, t.redis)));
        const floorSum = summarize(floorTimes.map((t) => d(t.publish, t.redis)));
        const simCost = summarize(times.map((t) => d(t.simIn, t.simOut)));
        const byThousand: number[] = [];
        for (let a = 0; a < times.length; a += 1000) {
          byThousand.push(summarize(times.slice(a, a + 1000).map((t) => d(t.publish, t.redis))).p50);
        }
        const rows = [...connectorRows(times), ...floorRows(floorTimes)];
        const text = table([
          `latency${o.nodelay ? " (what-if: TCP_NODELAY)" : ""}, ${plan.name}, ${o.count} orders`,
          ...SUMMARY_HEADER.slice(1),
        ], rows);
        const blocks = `end-to-end p50 by block of 1000 orders: ${byThousand.map(ms).join(", ")} ms`;
        phases.push({
          name: `${plan.name}${o.nodelay ? ", what-if TCP_NODELAY" : ""}`,
          endToEnd,
          floor: floorSum,
          simCost,
          unfinished,
          byThousand,
          table: `${text}\n\n${blocks}`,
        });
        console.log(`\n${text}\n${blocks}`);
        if (unfinished > 0) {
          console.log(`!! ${unfinished} order(s) not yet FILLED in order_history and Redis after 90 s`);
        }
        probe.reset();
      }
    } finally {
      await floor.close();
    }
    for (const p of phases) console.log(latencySummary(p));
    return phases;
  }, { nodelay: o.nodelay });
}

/** The one-line summary of a phase, with the verdict against the targets. */
export function latencySummary(p: LatencyPhase): string {
  const share50 = p.endToEnd.p50 - p.floor.p50;
  const share99 = p.endToEnd.p99 - p.floor.p99;
  const ratio = p.endToEnd.p50 / p.floor.p50;
  const met = share50 <= 1 && share99 <= 3 && ratio <= 1.5 && p.unfinished === 0;
  return `latency (${p.name}): p50 ${ms(p.endToEnd.p50)} ms (floor ${ms(p.floor.p50)} ms, connector ${
    signedMs(share50)
  } ms), p99 ${ms(p.endToEnd.p99)} ms (floor ${ms(p.floor.p99)} ms, connector ${signedMs(share99)} ms), max ${
    ms(p.endToEnd.max)
  } ms, e2e/floor at p50 ${ratio.toFixed(2)}×; sim's own handling p50 ${
    ms(p.simCost.p50)
  } ms; unfinished after 90 s ${p.unfinished}; ` +
    `target connector ≤ 1 ms p50, ≤ 3 ms p99, e2e ≤ 1.5× floor: ${met ? "MET" : "NOT MET"}`;
}

if (import.meta.main) {
  const sizes = Deno.args.includes("--quick") ? LATENCY_QUICK : LATENCY_FULL;
  await runLatency({ ...sizes, nodelay: Deno.args.includes("--nodelay") });
}
