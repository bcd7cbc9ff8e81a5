/**
 * Fault: RabbitMQ restarted in the middle of a burst. A PRIVATE node (never the shared 5672 one) is stopped
 * whole and started again on the same data while orders are being published and consumed. The publisher is
 * at-least-once (it republishes what was not confirmed), the service's deliveries that were in flight are
 * redelivered: every order must still be placed exactly once, and the audit must be clean.
 */
import { assert } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  cleanupRedis,
  eventually,
  setBook,
  startTestService,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import { assertAudit } from "./audit.ts";
import { burstOrder, faultConfig, ReliablePublisher, rowCount, waitSettled } from "./harness.ts";
import { PrivateRabbit } from "./private_servers.ts";

Deno.test("fault: RabbitMQ restarted mid-burst — nothing lost, nothing placed twice", async () => {
  const names = testNames("frmq");
  const rabbit = new PrivateRabbit();
  await rabbit.start();
  try {
    await withTestDatabase(async (db) => {
      const service = await startTestService(faultConfig(names, db, { rabbitUrl: rabbit.url }));
      const publisher = new ReliablePublisher(rabbit.url, names);
      const redis = testRedis();
      const sql = testSql(db);
      const total = 150;
      try {
        await eventually(
          "ready and consuming",
          () => service.broker?.state().ready && service.intake?.state().consuming,
        );
        await setBook(service);
        let restarted = false;
        const restart = (async () => {
          await eventually(
            "burst under way",
            async () => (await rowCount(sql, names.portfolio)) >= 40,
            30_000,
          );
          await rabbit.stop();
          await rabbit.start();
          restarted = true;
        })();
        for (let i = 0; i < total; i++) await publisher.publish(burstOrder(names, "rq", i));
        await restart;
        assert(restarted);
        await eventually("consuming again", () => service.intake?.state().consuming, 30_000);
        await waitSettled(sql, names.portfolio, total);
        const result = await assertAudit({
          portfolioId: names.portfolio,
          sql,
          snapshot: () => service.sim!.engine().snapshot("demo"),
          redis,
          expectedIds: Array.from({ length: total }, (_, i) => `rq-${i}`),
        });
        assert(result.counts.filled === total / 3, JSON.stringify(result.counts));
        const dead = await publisher.deadLetters();
        assert(dead.length === 0, `unexpected dead letters: ${JSON.stringify(dead.map((d) => d.headers))}`);
        console.log(
          `rabbitmq restart: ${JSON.stringify(result.counts)}, publisher retries ${publisher.retries}`,
        );
      } finally {
        await service.lifecycle.stop();
        await publisher.close();
        await cleanupRedis(redis, names.portfolio);
        await sql.end();
      }
    });
  } finally {
    await rabbit.destroy();
  }
});
