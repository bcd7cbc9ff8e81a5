/**
 * Footprint of `serve` as a separate process with a production configuration (log level info, PostgreSQL
 * server, Redis, RabbitMQ): time from spawn to `/health` 200 (can trade), RSS (VmRSS from /proc) at idle,
 * and the peak RSS while `count` orders go through it. The sim runs in this process (`tq.sim_url`), so the
 * figures are the connector's own. The same load also gives the throughput of the separate process.
 *
 * @module
 */
import postgres from "postgres";
import { startSim } from "../lib/sim/mod.ts";
import {
  BENCH_SIM_CLOCK,
  benchConfigText,
  benchNames,
  benchSql,
  buyRequest,
  cleanupRedis,
  publisher,
  sleep,
  until,
  withBenchDatabase,
} from "./harness.ts";
import { ms, table } from "./stats.ts";

/** Sizes of a footprint run. */
export interface FootprintOptions {
  count: number;
}

/** What the run measured. */
export interface FootprintResult {
  readyMs: number;
  idleRssMb: number;
  loadRssMb: number;
  afterRssMb: number;
  rate: number;
  count: number;
  table: string;
}

function rssMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Run the footprint benchmark; prints its table and returns the result. */
export async function runFootprint(o: FootprintOptions): Promise<FootprintResult> {
  const names = benchNames("foot");
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: BENCH_SIM_CLOCK,
    seed: 1,
    tickMs: 0,
    accounts: [{ user: "demo", password: "demo", balance: 100_000_000_000 }],
  });
  const symbol = "SHFE.rb2605";
  const quote = await fetch(`${sim.baseUrl}/sim/quote`, {
    method: "POST",
    body: JSON.stringify({
      symbol,
      bid_price1: 3500,
      ask_price1: 3501,
      last_price: 3500,
      upper_limit: 4000,
      lower_limit: 3000,
    }),
  });
  await quote.body?.cancel();
  try {
    return await withBenchDatabase(async (db) => {
      const port = freePort();
      const file = await Deno.makeTempFile({ prefix: "tbc_bench_", suffix: ".yaml" });
      await Deno.writeTextFile(
        file,
        benchConfigText(names, db, {
          logLevel: "info",
          logFile: "/tmp/tbc_bench_serve.log",
          httpPort: port,
          simUrl: sim.baseUrl,
        }),
      );
      const main = new URL("../main.ts", import.meta.url).pathname;
      const t0 = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "serve", "--config", file],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const sql: postgres.Sql = benchSql(db);
      const pub = await publisher(names);
      try {
        await until(
          "serve /health 200",
          async () => {
            try {
              const res = await fetch(`http://127.0.0.1:${port}/health`);
              await res.body?.cancel();
              return res.status === 200;
            } catch {
              return false;
            }
          },
          60_000,
          10,
        );
        const readyMs = performance.now() - t0;
        await sleep(3000);
        const idleRssMb = rssMb(child.pid);

        let peak = idleRssMb;
        const sampler = setInterval(() => {
          const r = rssMb(child.pid);
          if (r > peak) peak = r;
        }, 100);
        const l0 = performance.now();
        for (let k = 0; k < o.count; k++) pub.publish(buyRequest(names.portfolio, `f-${k}`, symbol, 3501));
        await pub.confirmed();
        await until(
          "every order FILLED",
          async () => {
            const [{ n }] = await sql`select count(*)::int as n from order_history where status = 'FILLED'`;
            return n >= o.count;
          },
          300_000,
          100,
        );
        const seconds = (performance.now() - l0) / 1000;
        clearInterval(sampler);
        await sleep(2000);
        const afterRssMb = rssMb(child.pid);
        const rate = o.count / seconds;
        const text = table(["footprint of `serve` (separate process, log level info)", ""], [
          ["time to ready (spawn → /health 200)", `${ms(readyMs)} ms`],
          ["RSS at idle (3 s after ready)", `${idleRssMb.toFixed(1)} MB`],
          [`RSS peak during ${o.count} orders`, `${peak.toFixed(1)} MB`],
          ["RSS 2 s after the load", `${afterRssMb.toFixed(1)} MB`],
          ["throughput of the separate process", `${rate.toFixed(0)} orders/s (${ms(seconds * 1000)} ms)`],
        ]);
        console.log(`\n${text}`);
        const result = { readyMs, idleRssMb, loadRssMb: peak, afterRssMb, rate, count: o.count, table: text };
        console.log(footprintSummary(result));
        return result;
      } finally {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await child.status;
        clearTimeout(killer);
        await pub.close();
        await sql.end();
        await cleanupRedis(names.portfolio);
        await Deno.remove(file).catch(() => {});
      }
    });
  } finally {
    await sim.close();
  }
}

/** The one-line summary. */
export function footprintSummary(r: FootprintResult): string {
  return `footprint: ready in ${ms(r.readyMs)} ms, RSS idle ${
    r.idleRssMb.toFixed(1)
  } MB, peak under ${r.count} orders ${r.loadRssMb.toFixed(1)} MB (${
    r.rate.toFixed(0)
  } orders/s in the separate process, log level info)`;
}

if (import.meta.main) {
  await runFootprint({ count: Deno.args.includes("--quick") ? 1000 : 5000 });
}
