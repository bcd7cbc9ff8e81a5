/**
 * Where the time goes (`deno task bench -- profile`): the latency run's steady phase with timers wrapped
 * around the connector's main steps (prototype wrappers installed by this bench-only script; production code
 * is untouched). Prints, per step, how often it ran and the time it took, and the event-loop lag.
 *
 * @module
 */
import { OrderStore } from "../lib/store/pg/order_store.ts";
import { TqBroker } from "../lib/broker/tq_broker.ts";
import { SendGate } from "../lib/orders/send_gate.ts";
import type { BrokerEvent } from "../lib/broker/types.ts";
import { buyRequest, pace, setQuote, sleep, until, withBenchService } from "./harness.ts";
import { ms, summarize, table } from "./stats.ts";

type Timings = Map<string, number[]>;

function record(timings: Timings, name: string, value: number): void {
  let list = timings.get(name);
  if (!list) timings.set(name, list = []);
  list.push(value);
}

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => any;

function wrapMethod(
  proto: object,
  method: string,
  timings: Timings,
  name: string,
  size?: (args: unknown[]) => number,
) {
  const target = proto as Record<string, AnyFn>;
  const original = target[method];
  target[method] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const result = original.apply(this, args);
    if (size) record(timings, `${name} batch size`, size(args));
    if (result instanceof Promise) {
      return result.finally(() => record(timings, name, performance.now() - t0));
    }
    record(timings, name, performance.now() - t0);
    return result;
  };
  return () => {
    target[method] = original;
  };
}

/** Options of {@linkcode runProfile}. */
export interface ProfileOptions {
  count: number;
  ratePerS: number;
}

/** Run the instrumented steady phase and print the table. */
export async function runProfile(o: ProfileOptions): Promise<string> {
  const timings: Timings = new Map();
  const undo = [
    wrapMethod(
      OrderStore.prototype,
      "recordIntents",
      timings,
      "OrderStore.recordIntents (txn)",
      (a) => (a[0] as unknown[]).length,
    ),
    wrapMethod(
      OrderStore.prototype,
      "applyUpdates",
      timings,
      "OrderStore.applyUpdates (txn)",
      (a) => (a[0] as unknown[]).length,
    ),
    wrapMethod(
      OrderStore.prototype,
      "recordTrades",
      timings,
      "OrderStore.recordTrades (txn)",
      (a) => (a[0] as unknown[]).length,
    ),
    wrapMethod(TqBroker.prototype, "snapshot", timings, "TqBroker.snapshot() (structuredClone)"),
    wrapMethod(TqBroker.prototype, "insert", timings, "TqBroker.insert (tqsdk send)"),
    wrapMethod(SendGate.prototype, "decideInsert", timings, "SendGate.decideInsert (rules)"),
  ];
  // every broker listener, timed per event type
  const proto = TqBroker.prototype as unknown as { subscribe: (l: (e: BrokerEvent) => void) => () => void };
  const originalSubscribe = proto.subscribe;
  let listenerNo = 0;
  proto.subscribe = function (this: TqBroker, listener: (e: BrokerEvent) => void) {
    const no = ++listenerNo;
    return originalSubscribe.call(this, (e: BrokerEvent) => {
      const t0 = performance.now();
      listener(e);
      record(timings, `broker listener #${no} (${e.type})`, performance.now() - t0);
    });
  };
  undo.push(() => {
    proto.subscribe = originalSubscribe;
  });

  try {
    return await withBenchService("prof", async ({ sim, names, pub, probe }) => {
      await setQuote(sim.baseUrl, "SHFE.rb2605", 3500, 3501);
      const warm = Array.from({ length: 200 }, (_, k) => `w-${k}`);
      await pace(warm.length, { ratePerS: 500 }, (k) => {
        probe.expect(warm[k]).publish = pub.publish(
          buyRequest(names.portfolio, warm[k], "SHFE.rb2605", 3501),
        );
      });
      await until("warm-up", () => warm.every((id) => probe.times.get(id)?.filled !== undefined), 60_000);
      probe.reset();
      timings.clear();
      // event-loop lag: a 1 ms timer's lateness
      const lags: number[] = [];
      let last = performance.now();
      const lagTimer = setInterval(() => {
        const now = performance.now();
        lags.push(Math.max(0, now - last - 1));
        last = now;
      }, 1);
      const ids = Array.from({ length: o.count }, (_, k) => `p-${k}`);
      const t0 = performance.now();
      await pace(ids.length, { ratePerS: o.ratePerS }, (k) => {
        probe.expect(ids[k]).publish = pub.publish(buyRequest(names.portfolio, ids[k], "SHFE.rb2605", 3501));
      });
      await until("all filled", () => ids.every((id) => probe.times.get(id)?.filled !== undefined), 120_000);
      const wall = performance.now() - t0;
      clearInterval(lagTimer);
      const rows: string[][] = [];
      for (const [name, values] of [...timings.entries()].sort()) {
        const s = summarize(values);
        const isSize = name.endsWith("batch size");
        const total = values.reduce((a, b) => a + b, 0);
        rows.push([
          name,
          String(s.n),
          isSize ? s.p50.toFixed(0) : ms(s.p50),
          isSize ? s.p99.toFixed(0) : ms(s.p99),
          isSize ? s.max.toFixed(0) : ms(s.max),
          isSize ? "" : `${ms(total)} (${((100 * total) / wall).toFixed(1)} %)`,
        ]);
      }
      const lag = summarize(lags);
      rows.push(["event-loop lag (1 ms timer)", String(lag.n), ms(lag.p50), ms(lag.p99), ms(lag.max), ""]);
      const text = table(
        [
          `profile: steady ${o.ratePerS}/s, ${o.count} orders, ${ms(wall)} ms`,
          "n",
          "p50",
          "p99",
          "max",
          "total ms (% of wall)",
        ],
        rows,
      );
      console.log(`\n${text}`);
      await sleep(100);
      return text;
    });
  } finally {
    for (const u of undo) u();
  }
}

if (import.meta.main) {
  await runProfile({ count: Deno.args.includes("--quick") ? 600 : 3000, ratePerS: 250 });
}
