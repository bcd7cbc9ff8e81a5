/**
 * Fault: Redis restarted (a PRIVATE `redis-server`, never the shared 6379 one). It is killed in the middle
 * of a burst of REST orders, positions keep changing while it is down, and it comes back EMPTY (no
 * persistence): the service must write the whole current state again, so Redis equals the sim's positions,
 * and the order path must not have noticed (every order placed once, PostgreSQL equal to the sim).
 */
import { assert, assertEquals } from "../assert.ts";
import { api, eventually, setBook, testSql } from "../helpers/service.ts";
import { assertAudit, readRedisNet } from "./audit.ts";
import { burstOrder, waitSettled, withPrivateRedisService } from "./harness.ts";

Deno.test("fault: Redis restarted (empty) mid-burst — positions rewritten, order path unaffected", async () => {
  await withPrivateRedisService("fredis", async ({ names, db, service, server, redis }) => {
    const sql = testSql(db);
    const total = 90;
    try {
      await eventually("ready", () => service.broker?.state().ready);
      await setBook(service);
      await redis.connect();
      for (let i = 0; i < total; i++) {
        if (i === 30) {
          await eventually(
            "position written before the restart",
            async () => (await readRedisNet(redis, names.portfolio)).size > 0,
          );
          await server.stop();
        }
        const r = await api(service, "POST", "/orders", burstOrder(names, "rd", i));
        assertEquals(r.status, 202, `rd-${i}: ${JSON.stringify(r.json)}`);
        if (i === 60) await server.start();
      }
      await waitSettled(sql, names.portfolio, total);
      const result = await assertAudit({
        portfolioId: names.portfolio,
        sql,
        snapshot: () => service.sim!.engine().snapshot("demo"),
        redis,
        expectedIds: Array.from({ length: total }, (_, i) => `rd-${i}`),
      });
      assertEquals(result.counts.filled, total / 3);
      const health = await api(service, "GET", "/health");
      const status = (health.json.components as Record<string, Record<string, unknown>>).redis;
      assert(status.connected === true, JSON.stringify(status));
      console.log(`redis restart: ${JSON.stringify(result.counts)}`);
    } finally {
      await sql.end();
    }
  });
});
