/**
 * Faults in delivery, each ending with the audit:
 *
 * - duplicate deliveries: every request published three times to RabbitMQ and some sent over REST at the
 *   same time, while the sim sends every frame twice (`duplicate: true`) — one order each at the broker,
 *   one fill event and one trade row per fill;
 * - a slow consumer with a full prefetch: the database stalls (the test holds a write lock on
 *   `order_history`), so every delivery in flight waits; the intake never holds more than `prefetch`
 *   deliveries, the rest wait in RabbitMQ, and all are placed once it moves again.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  cleanupRedis,
  eventually,
  setBook,
  simControl,
  startTestService,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import { assertAudit } from "./audit.ts";
import { burstOrder, faultConfig, ReliablePublisher, SHARED_RABBIT_URL, waitSettled } from "./harness.ts";

Deno.test("fault: duplicate deliveries (RabbitMQ ×3, REST, doubled broker frames) place each order once", async () => {
  const names = testNames("fdup");
  await withTestDatabase(async (db) => {
    const service = await startTestService(faultConfig(names, db));
    const publisher = new ReliablePublisher(SHARED_RABBIT_URL, names);
    const redis = testRedis();
    const sql = testSql(db);
    const total = 60;
    try {
      await eventually(
        "ready and consuming",
        () => service.broker?.state().ready && service.intake?.state().consuming,
      );
      await setBook(service);
      await simControl(service, "/sim/faults", { duplicate: true });
      const rest: Promise<{ status: number }>[] = [];
      for (let i = 0; i < total; i++) {
        const order = burstOrder(names, "du", i);
        if (i % 4 === 0) rest.push(api(service, "POST", "/orders", order));
        for (let k = 0; k < 3; k++) await publisher.publish(order);
      }
      for (const r of await Promise.all(rest)) assertEquals(r.status, 202);
      await waitSettled(sql, names.portfolio, total);
      // let every duplicate delivery be consumed before the audit
      await eventually(
        "queue drained",
        async () => (await publisher.queueDepth()) === 0 && service.intake?.state().in_flight === 0,
      );
      const result = await assertAudit({
        portfolioId: names.portfolio,
        sql,
        snapshot: () => service.sim!.engine().snapshot("demo"),
        redis,
        expectedIds: Array.from({ length: total }, (_, i) => `du-${i}`),
      });
      assertEquals(result.counts.atBroker, total);
      assertEquals(result.counts.filled, total / 3);
      const fills = await sql`select id, count(*)::int as n from order_event
                              where portfolio_id = ${names.portfolio} and status = 'FILLED' group by id`;
      assertEquals(fills.length, total / 3);
      assert(fills.every((f) => f.n === 1), JSON.stringify(fills.filter((f) => f.n !== 1)));
      const dead = await publisher.deadLetters();
      assertEquals(dead.length, 0, JSON.stringify(dead.map((d) => d.headers["x-reject-reason"])));
      console.log(`duplicates: ${JSON.stringify(result.counts)}`);
    } finally {
      await service.lifecycle.stop();
      await publisher.close();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
    }
  });
});

Deno.test("fault: a slow consumer with a full prefetch holds at most `prefetch` deliveries and loses none", async () => {
  const names = testNames("fslow");
  const prefetch = 4;
  await withTestDatabase(async (db) => {
    const service = await startTestService(faultConfig(names, db, { prefetch }));
    const publisher = new ReliablePublisher(SHARED_RABBIT_URL, names);
    const redis = testRedis();
    const sql = testSql(db);
    const locker = testSql(db);
    const total = 40;
    try {
      await eventually(
        "ready and consuming",
        () => service.broker?.state().ready && service.intake?.state().consuming,
      );
      await setBook(service);
      let maxInFlight = 0;
      let maxDepth = 0;
      let stalled!: () => void;
      const stall = new Promise<void>((r) => (stalled = r));
      const lock = locker.begin(async (tx) => {
        await tx`lock table order_history in exclusive mode`;
        stalled();
        await new Promise((r) => setTimeout(r, 2500));
      });
      await stall;
      const sampler = setInterval(() => {
        maxInFlight = Math.max(maxInFlight, service.intake?.state().in_flight ?? 0);
      }, 5);
      try {
        for (let i = 0; i < total; i++) await publisher.publish(burstOrder(names, "sl", i));
        await eventually("prefetch full", () => service.intake?.state().in_flight === prefetch, 5000);
        maxDepth = await publisher.queueDepth();
        await lock;
        await waitSettled(sql, names.portfolio, total);
      } finally {
        clearInterval(sampler);
      }
      assertEquals(maxInFlight, prefetch, "in flight never above prefetch, and full while stalled");
      assert(maxDepth >= total - prefetch - 1, `the rest waited in RabbitMQ (depth ${maxDepth})`);
      const result = await assertAudit({
        portfolioId: names.portfolio,
        sql,
        snapshot: () => service.sim!.engine().snapshot("demo"),
        redis,
        expectedIds: Array.from({ length: total }, (_, i) => `sl-${i}`),
      });
      assertEquals(result.counts.rejected, 0);
      console.log(
        `slow consumer: max in flight ${maxInFlight}, max depth ${maxDepth}, ${
          JSON.stringify(result.counts)
        }`,
      );
    } finally {
      await service.lifecycle.stop();
      await publisher.close();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
      await locker.end();
    }
  });
});
