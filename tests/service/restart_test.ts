/**
 * The service as ops run it — a separate process — killed with SIGKILL in the middle of a RabbitMQ burst
 * and started again: nothing lost (every message ends as an order), nothing duplicated (each order id once
 * at the broker), and PostgreSQL agrees with the exchange. Also: SIGTERM drains and exits 0.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  cleanupRedis,
  eventually,
  insertRequest,
  rabbitPublisher,
  TEST_REDIS_DB,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import type { TestNames } from "../helpers/service.ts";
import type { ServerDatabaseConfig } from "../../lib/store/pg/connect.ts";
import { type Sim, startSim } from "../../lib/sim/mod.ts";
import { assertAudit } from "../faults/audit.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function writeConfig(
  names: TestNames,
  db: ServerDatabaseConfig,
  sim: Sim,
  httpPort: number,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tbc_restart_" });
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    path,
    `tq:
  portfolio_id: ${names.portfolio}
  run_mode: sim
  sim_url: ${sim.baseUrl}
  reconnect: {initial_ms: 50, max_ms: 500, alarm_after_s: 30}
database: {host: ${db.host}, port: ${db.port}, user: ${db.user}, password: "", dbname: ${db.dbname}}
rabbitmq:
  url: "amqp://guest:guest@127.0.0.1:5672/"
  order_request_queue: ${names.queue}
  order_request_exchange: ${names.exchange}
  prefetch: 32
http: {host: 127.0.0.1, port: ${httpPort}}
log: {file: ${dir}/service.log, level: info}
risk: {insert_rate_per_s: 10000, insert_burst: 10000}
redis: {host: 127.0.0.1, port: 6379, db: ${TEST_REDIS_DB}}
sim:
  accounts: [{user: demo, password: demo, balance: 100000000}]
`,
  );
  return path;
}

function spawnService(configPath: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--config", configPath],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Ready to trade and consuming (messages published before the queue is bound would be unroutable). */
async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    const body = await res.json();
    return res.status === 200 && body.components?.rabbitmq?.consuming === true;
  } catch {
    return false;
  }
}

Deno.test("restart: SIGKILL mid-burst loses nothing and duplicates nothing; SIGTERM drains and exits 0", async () => {
  const names = testNames("kill");
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 1,
    tickMs: 0,
    frozenClock: true,
    accounts: [{ user: "demo", password: "demo", balance: 100_000_000 }],
  });
  sim.market.activate(["SHFE.rb2605"]);
  sim.market.setQuote("SHFE.rb2605", {
    bid_price1: 3500,
    ask_price1: 3501,
    last_price: 3500,
    upper_limit: 4000,
    lower_limit: 3000,
  });
  await withTestDatabase(async (db) => {
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    const redis = testRedis();
    const port = freePort();
    const configPath = await writeConfig(names, db, sim, port);
    let child = spawnService(configPath);
    const total = 300;
    try {
      await eventually("first instance healthy", () => healthy(port), 30_000);
      // resting orders (below the ask), so each stays at the exchange to be counted
      for (let i = 0; i < total; i++) {
        await rabbit.publish(insertRequest(names, `k-${i}`, { limit_price: 3000 + (i % 400) }));
      }
      await eventually("some orders recorded", async () => {
        const [r] = await sql`select count(*)::int as n from order_history`;
        return r.n >= 20;
      }, 30_000);
      child.kill("SIGKILL");
      await child.status;

      child = spawnService(configPath);
      await eventually("second instance healthy", () => healthy(port), 30_000);
      const rows = await eventually("all orders decided", async () => {
        const r = await sql`select id, status, broker_order_id from order_history order by id`;
        const open = r.filter((x) =>
          x.status === "SUBMITTED" || x.status === "UNKNOWN" || x.status === "RECEIVED"
        );
        return r.length === total && open.length === 0 ? r : null;
      }, 60_000);
      // nothing lost: every message is an order
      assertEquals(rows.length, total);
      // nothing duplicated, and PostgreSQL and Redis agree with the exchange (the shared fault audit)
      await assertAudit({
        portfolioId: names.portfolio,
        sql,
        snapshot: () => sim.engine().snapshot("demo"),
        redis,
        expectedIds: Array.from({ length: total }, (_, i) => `k-${i}`),
      });
      assert(rows.every((r) => r.status === "ACCEPTED" || r.status === "REJECTED"), "resting or refused");

      // SIGTERM: drains and exits 0
      child.kill("SIGTERM");
      const status = await child.status;
      assertEquals(status.code, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status.catch(() => {});
      await rabbit.close();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
    }
  });
  await sim.close();
});
