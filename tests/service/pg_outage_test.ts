/**
 * PostgreSQL unreachable during a burst: broker updates (fills) are kept in order and written when it
 * returns; new requests are not acknowledged while nothing can be recorded (they wait in RabbitMQ); nothing
 * is dropped and nothing is written twice.
 *
 * The outage is made on the test's own database (connections refused and its sessions terminated), never
 * on the shared server.
 */
import { assert, assertEquals } from "../assert.ts";
import { databaseOutage, withTestDatabase } from "../helpers/pg.ts";
import {
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

Deno.test("PostgreSQL outage during a burst: no event lost, none duplicated, no request acked unrecorded", async () => {
  const names = testNames("pgout");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    let sql = testSql(db);
    const dbOutage = databaseOutage(db);
    const outage = dbOutage.set;
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      for (let i = 0; i < 20; i++) {
        await rabbit.publish(insertRequest(names, `p-${i}`, { limit_price: 3400 }));
      }
      await eventually("20 accepted", async () => {
        const [r] = await sql`select count(*)::int as n from order_history where status = 'ACCEPTED'`;
        return r.n === 20;
      });

      await sql.end();
      await outage(true);
      // the market moves through every resting order while nothing can be written
      await simControl(service, "/sim/quote", { symbol: "SHFE.rb2605", bid_price1: 3390, ask_price1: 3391 });
      for (let i = 20; i < 30; i++) {
        await rabbit.publish(insertRequest(names, `p-${i}`, { limit_price: 3380 }));
      }
      await eventually(
        "fills queued while the database is down",
        () => (service.tracker?.backlog ?? 0) >= 20,
      );
      await new Promise((r) => setTimeout(r, 500));
      await outage(false);

      sql = testSql(db);
      const rows = await eventually("all 30 recorded and settled", async () => {
        const r = await sql`select id, status, filled_quantity from order_history order by id`;
        const filled = r.filter((x) => x.status === "FILLED").length;
        const accepted = r.filter((x) => x.status === "ACCEPTED").length;
        return r.length === 30 && filled === 20 && accepted === 10 ? r : null;
      }, 60_000);
      assertEquals(rows.length, 30);
      const trades = await sql`select trade_id, count(*)::int as n from trade group by trade_id`;
      assertEquals(trades.length, 20);
      assert(trades.every((t) => t.n === 1));
      const events = await sql`select id, seq, status from order_event order by id, seq`;
      const byOrder = new Map<string, string[]>();
      for (const e of events) byOrder.set(e.id, [...(byOrder.get(e.id) ?? []), `${e.seq}:${e.status}`]);
      for (let i = 0; i < 20; i++) {
        assertEquals(
          byOrder.get(`p-${i}`),
          ["1:RECEIVED", "2:SUBMITTED", "3:ACCEPTED", "4:FILLED"],
          `p-${i}`,
        );
      }
      for (let i = 20; i < 30; i++) {
        assertEquals(byOrder.get(`p-${i}`), ["1:RECEIVED", "2:SUBMITTED", "3:ACCEPTED"], `p-${i}`);
      }
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end().catch(() => {});
      await dbOutage.close();
    }
  });
});
