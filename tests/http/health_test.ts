/**
 * `GET /health` of running services (real sim, PostgreSQL): a standby instance (another holds the
 * portfolio lease) answers 503 with `lease.role: standby` until it takes over; an unreachable PostgreSQL
 * answers 503 with `database.reachable: false` (the probe), and 200 again once it is back; a burst of
 * orders in one second moves the supervision count on /health and on /metrics.
 */
import { assert, assertEquals } from "../assert.ts";
import { databaseOutage, withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  eventually,
  insertRequest,
  setBook,
  startTestService,
  testConfig,
  testNames,
} from "../helpers/service.ts";
import type { Service } from "../../lib/service.ts";

type Components = Record<string, Record<string, unknown>>;

async function health(service: Service) {
  const r = await api(service, "GET", "/health");
  return { status: r.status, body: r.json, components: r.json.components as Components };
}

Deno.test("health: the standby answers 503 (role standby) until it takes over; the active one 200", async () => {
  const names = testNames("hstandby");
  await withTestDatabase(async (db) => {
    const first = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
    let second: Service | null = null;
    try {
      await eventually("first ready", () => first.broker?.state().ready);
      const active = await eventually("first can trade", async () => {
        const h = await health(first);
        return h.status === 200 ? h : null;
      });
      assertEquals(active.body.can_trade, true);
      assertEquals(
        [active.components.lease.ok, active.components.lease.role, active.components.lease.active],
        [true, "active", true],
      );

      second = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
      await eventually("second broker ready", () => second?.broker?.state().ready);
      assertEquals(second.lease?.held, false);
      const standby = await health(second);
      assertEquals([standby.status, standby.body.status, standby.body.can_trade], [503, "degraded", false]);
      assertEquals(standby.components.tq.ready, true); // its broker is fine: only the lease stops it
      assertEquals(
        [standby.components.lease.ok, standby.components.lease.role, standby.components.lease.blocks_trading],
        [false, "standby", true],
      );
      assertEquals(standby.components.database.reachable, true);
      // what /health says is what POST /orders does
      const refused = await api(
        second,
        "POST",
        "/orders",
        insertRequest(names, "h-0", { limit_price: 3400 }),
      );
      assertEquals([refused.status, refused.json.code], [503, "NOT_LEADER"]);

      await first.lifecycle.stop();
      const took = await eventually("the second can trade", async () => {
        const h = await health(second!);
        return h.status === 200 ? h : null;
      }, 15_000);
      assertEquals([took.components.lease.role, took.body.can_trade], ["active", true]);
    } finally {
      await second?.lifecycle.stop();
      await first.lifecycle.stop().catch(() => {});
    }
  });
});

Deno.test("health: PostgreSQL unreachable answers 503 (database.reachable false), 200 once it is back", async () => {
  const names = testNames("hpgdown");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
    const dbOutage = databaseOutage(db);
    const outage = dbOutage.set;
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      const up = await eventually("200", async () => {
        const h = await health(service);
        return h.status === 200 ? h : null;
      });
      assertEquals([up.components.database.ok, up.components.database.reachable], [true, true]);
      assertEquals(up.components.database.probe_error, null);

      await outage(true);
      const down = await eventually("database unreachable on /health", async () => {
        const h = await health(service);
        return h.components.database.reachable === false ? h : null;
      }, 15_000);
      assertEquals([down.status, down.body.can_trade, down.body.status], [503, false, "degraded"]);
      assertEquals([down.components.database.ok, down.components.database.blocks_trading], [false, true]);
      assert(typeof down.components.database.probe_error === "string");
      // answers within the probe's timeout while the database is away
      const started = performance.now();
      await health(service);
      assert(performance.now() - started < 2500, `${performance.now() - started} ms`);

      await outage(false);
      const back = await eventually("200 again", async () => {
        const h = await health(service);
        return h.status === 200 ? h : null;
      }, 30_000);
      assertEquals([back.components.database.reachable, back.components.lease.role], [true, "active"]);
    } finally {
      await service.lifecycle.stop();
      await dbOutage.close();
    }
  });
});

/** Parse the Prometheus text format into `name{labels}` → value. */
async function scrape(service: Service): Promise<Map<string, number>> {
  const text = await (await fetch(`${service.http!.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

Deno.test("health and metrics: a burst of orders in one second counts as a burst second on both", async () => {
  const names = testNames("hburst");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      const before = await health(service);
      assertEquals(before.components.supervision.bursts_today, 0);
      assertEquals(before.components.supervision.burst_per_second, 10);
      assertEquals((await scrape(service)).get("tbc_order_burst_seconds_today"), 0);

      // 25 resting orders at once: sent within well under a second, so some calendar second has ≥ 10
      const answers = await Promise.all(
        Array.from(
          { length: 25 },
          (_, i) => api(service, "POST", "/orders", insertRequest(names, `b-${i}`, { limit_price: 3400 })),
        ),
      );
      assertEquals(answers.map((a) => a.status), Array(25).fill(202));

      const after = await health(service);
      const s = after.components.supervision;
      assert((s.bursts_today as number) >= 1, JSON.stringify(s));
      assert((s.max_per_second_today as number) >= 10, JSON.stringify(s));
      assertEquals(s.actions_today, 25);
      assertEquals(after.status, 200); // informational: a burst does not stop trading
      const m = await scrape(service);
      assertEquals(m.get("tbc_order_burst_seconds_today"), s.bursts_today);
      assertEquals(m.get("tbc_order_actions_max_per_second_today"), s.max_per_second_today);
      assertEquals(m.get("tbc_order_actions_today"), 25);
    } finally {
      await service.lifecycle.stop();
    }
  });
});
