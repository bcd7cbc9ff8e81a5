/**
 * Fault: PostgreSQL restarted in the middle of a burst. A PRIVATE cluster (never the shared 5432 server) is
 * restarted with `pg_ctl restart -m fast` (every session killed) while orders arrive over RabbitMQ and fill:
 * requests that could not be recorded wait in RabbitMQ, broker updates wait in the tracker, and afterwards
 * the audit must be clean (every order once at the broker, every row equal to the sim, Redis equal to the
 * sim's positions).
 */
import { assert, assertMatch } from "../assert.ts";
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
import {
  burstOrder,
  faultConfig,
  ReliablePublisher,
  rowCount,
  SHARED_RABBIT_URL,
  waitSettled,
  withDatabaseOn,
} from "./harness.ts";
import { PrivatePostgres } from "./private_servers.ts";

Deno.test("fault: PostgreSQL restarted mid-burst — nothing lost, nothing placed twice", async () => {
  const names = testNames("fpg");
  const pg = new PrivatePostgres();
  await pg.start();
  try {
    await withDatabaseOn({ host: "127.0.0.1", port: pg.port }, async (db) => {
      const service = await startTestService(faultConfig(names, db));
      const publisher = new ReliablePublisher(SHARED_RABBIT_URL, names);
      const redis = testRedis();
      const sql = testSql(db);
      const total = 150;
      try {
        await eventually(
          "ready and consuming",
          () => service.broker?.state().ready && service.intake?.state().consuming,
        );
        await setBook(service);
        const restart = (async () => {
          await eventually(
            "burst under way",
            async () => (await rowCount(sql, names.portfolio)) >= 40,
            30_000,
          );
          await pg.restart();
        })();
        for (let i = 0; i < total; i++) await publisher.publish(burstOrder(names, "pq", i));
        await restart;
        await waitSettled(sql, names.portfolio, total);
        const result = await assertAudit({
          portfolioId: names.portfolio,
          sql,
          snapshot: () => service.sim!.engine().snapshot("demo"),
          redis,
          expectedIds: Array.from({ length: total }, (_, i) => `pq-${i}`),
        });
        // The restart ends the lease's session too. An intent committed in the moment between the lease's
        // loss and the intake's pause is not sent (this instance is on standby, nothing left it) and ends
        // REJECTED with that reason; nothing else may be refused, and every other marketable order fills.
        const refused = await sql`
          select id, reject_reason from order_history
          where portfolio_id = ${names.portfolio} and status = 'REJECTED' order by id`;
        if (refused.length > 0) console.log(`postgres restart: refused ${JSON.stringify(refused)}`);
        for (const r of refused) assertMatch(String(r.reject_reason), /on standby/, String(r.id));
        const refusedIds = new Set(refused.map((r) => r.id as string));
        const marketable = Array.from({ length: total }, (_, i) => i)
          .filter((i) => i % 3 === 2 && !refusedIds.has(`pq-${i}`)).length;
        assert(result.counts.filled === marketable, JSON.stringify(result.counts));
        const dead = await publisher.deadLetters();
        assert(dead.length === 0, `unexpected dead letters: ${JSON.stringify(dead.map((d) => d.headers))}`);
        await eventually("lease held again", () => service.lease?.held, 10_000);
        console.log(`postgres restart: ${JSON.stringify(result.counts)}`);
      } finally {
        await service.lifecycle.stop();
        await publisher.close();
        await cleanupRedis(redis, names.portfolio);
        await sql.end();
      }
    });
  } finally {
    await pg.destroy();
  }
});
