/**
 * The benchmarks (`deno task bench`, or `deno task bench -- latency fanout --quick`): each runs against the
 * real RabbitMQ, PostgreSQL and Redis of this machine and the sim exchange, prints its tables next to the
 * raw floor measured in the same run, and one summary line. All summary lines are repeated at the end.
 *
 * | name | what |
 * | --- | --- |
 * | `latency` | publish → sim → FILLED row → Redis, steady and in bursts (`latency.ts`) |
 * | `throughput` | sustained orders/s through the whole path, with a loss/duplicate check (`throughput.ts`) |
 * | `fanout` | a position change reaching 500 WebSocket clients (`fanout.ts`) |
 * | `footprint` | `serve` as a process: time to ready, RSS idle and under load (`footprint.ts`) |
 * | `nodelay` | what-if: latency with the broker's sockets over npm `ws` (TCP_NODELAY) (`nodelay_ws.ts`) |
 * | `profile` | where the connector's time goes, per step (`profile.ts`) |
 * | `cold` | the same per-order code back to back and once every 10 ms (`cold.ts`) |
 * | `store` | one intent through the order store, its statement raw, the floor's insert (`store.ts`) |
 *
 * `nodelay`, `profile`, `cold` and `store` are diagnostics: they run only when named. `clean` removes what an interrupted run
 * left behind (`clean.ts`).
 *
 * @module
 */
import { cleanBench } from "./clean.ts";
import { runCold } from "./cold.ts";
import { fanoutSummary, runFanout } from "./fanout.ts";
import { footprintSummary, runFootprint } from "./footprint.ts";
import { LATENCY_FULL, LATENCY_QUICK, latencySummary, runLatency } from "./latency.ts";
import { runProfile } from "./profile.ts";
import { runStore } from "./store.ts";
import { parseArgs } from "./stats.ts";
import { runThroughput, throughputSummary } from "./throughput.ts";

const DEFAULT = ["latency", "throughput", "fanout", "footprint"];
const KNOWN = [...DEFAULT, "nodelay", "profile", "cold", "store", "clean"];

/** Run the benchmarks named in `args` (all by default); returns the summary lines. */
export async function runBenchmarks(args: readonly string[]): Promise<string[]> {
  const { only, quick } = parseArgs(args, KNOWN);
  const selected = only.length > 0 ? only : DEFAULT;
  const summaries: string[] = [];
  const started = performance.now();
  console.log(
    `tqsdk-broker-connect benchmarks, ${
      new Date().toISOString()
    }, deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs${quick ? ", --quick" : ""}`,
  );
  for (const name of selected) {
    console.log(`\n## ${name}`);
    switch (name) {
      case "latency":
        for (const p of await runLatency(quick ? LATENCY_QUICK : LATENCY_FULL)) {
          summaries.push(latencySummary(p));
        }
        break;
      case "nodelay":
        for (const p of await runLatency({ ...(quick ? LATENCY_QUICK : LATENCY_FULL), nodelay: true })) {
          summaries.push(latencySummary(p));
        }
        break;
      case "throughput":
        summaries.push(throughputSummary(await runThroughput({ count: quick ? 1000 : 5000 })));
        break;
      case "fanout":
        summaries.push(
          fanoutSummary(await runFanout({ clients: 500, changes: quick ? 10 : 40, gapMs: 100 })),
        );
        break;
      case "footprint":
        summaries.push(footprintSummary(await runFootprint({ count: quick ? 1000 : 5000 })));
        break;
      case "clean":
        for (const r of await cleanBench()) console.log(`removed ${r}`);
        break;
      case "profile":
        await runProfile({ count: quick ? 600 : 3000, ratePerS: 250 });
        break;
      case "cold":
        await runCold({ runs: quick ? 200 : 800, gapMs: 10 });
        break;
      case "store":
        await runStore({ turns: quick ? 200 : 600, gapMs: 10 });
        break;
    }
  }
  console.log(`\n## summary (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  for (const s of summaries) console.log(s);
  return summaries;
}

if (import.meta.main) {
  await runBenchmarks(Deno.args);
  Deno.exit(0);
}
