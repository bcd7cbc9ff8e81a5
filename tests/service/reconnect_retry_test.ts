/**
 * While the broker reconnects, requests are not refused for good: a RabbitMQ message waits in its queue
 * (consumption pauses, nothing is recorded) and is placed once the broker is ready; a REST request answers
 * 503 `retry: true` and the same `order_id` is accepted later. No order id is burned by a reconnect.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  eventually,
  insertRequest,
  rabbitPublisher,
  setBook,
  simControl,
  startTestService,
  testConfig,
  testNames,
  testSql,
} from "../helpers/service.ts";

Deno.test("reconnect: requests that arrive while the broker is not ready are placed once it is, ids not burned", async () => {
  const names = testNames("retry");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      await simControl(service, "/sim/faults", { refuse_login: true });
      await simControl(service, "/sim/drop", { kind: "trade" });
      await eventually("not ready", () => !service.broker?.state().ready);
      await eventually("intake paused", () => service.intake?.state().consuming === false);

      await rabbit.publish(insertRequest(names, "rt-mq", { limit_price: 3400 }));
      const rest = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "rt-rest", { limit_price: 3400 }),
      );
      assertEquals(rest.status, 503);
      assertEquals(rest.json.retry, true);
      assert(["NOT_CONNECTED", "RECONCILING"].includes(String(rest.json.code)), JSON.stringify(rest.json));
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(
        (await sql`select count(*)::int as n from order_history`)[0].n,
        0,
        "nothing recorded meanwhile",
      );

      await simControl(service, "/sim/faults", { reset: true });
      await eventually("ready again", () => service.broker?.state().ready);
      // the queued message is consumed now; the REST client retries the same id
      const retried = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "rt-rest", { limit_price: 3400 }),
      );
      assertEquals(retried.status, 202, JSON.stringify(retried.json));
      await eventually("both ACCEPTED", async () => {
        const rows = await sql`select id from order_history where status = 'ACCEPTED' order by id`;
        return rows.length === 2;
      });
      const account = service.sim!.engine().snapshot("demo");
      const placed = Object.keys(account.orders).map((k) => k.slice(k.indexOf(".") + 1)).sort();
      assertEquals(placed, ["rt-mq", "rt-rest"]);
      assertEquals((await rabbit.deadLetters()).length, 0);
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end();
    }
  });
});
