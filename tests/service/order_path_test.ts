/**
 * The order path end to end: RabbitMQ and REST in, the real tqsdk client to the sim exchange over
 * WebSocket, every change in PostgreSQL, positions in Redis. Exact rows are checked.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  cleanupRedis,
  eventually,
  insertRequest,
  rabbitPublisher,
  simControl,
  startTestService,
  testConfig,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import type { Service } from "../../lib/service.ts";

const RB = "SHFE.rb2605";

async function book(service: Service, bid: number, ask: number): Promise<void> {
  await simControl(service, "/sim/quote", {
    symbol: RB,
    bid_price1: bid,
    ask_price1: ask,
    last_price: bid,
    upper_limit: 4000,
    lower_limit: 3000,
  });
}

Deno.test("order path: an order published with the seed routing key is placed, filled and recorded", async () => {
  const names = testNames("fill");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db));
    const rabbit = await rabbitPublisher(names);
    const redis = testRedis();
    const sql = testSql(db);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await book(service, 3500, 3501);
      await rabbit.publish(insertRequest(names, "mq-1", { limit_price: 3501, volume: 2 }));
      const [row] = await eventually("order FILLED", async () => {
        const rows = await sql`select * from order_history where id = 'mq-1'`;
        return rows[0]?.status === "FILLED" ? rows : null;
      });
      assertEquals(row.portfolio_id, names.portfolio);
      assertEquals(row.source, "rabbitmq");
      assertEquals(row.filled_quantity, 2);
      assertEquals(row.volume_left, 0);
      assertEquals(Number(row.avg_fill_price), 3501);
      assertEquals(row.last_msg, "全部成交");
      assertEquals(row.symbol, RB);
      assertEquals(row.broker_order_id, row.exchange_order_id);
      const events = await sql`select seq, status, msg from order_event where id = 'mq-1' order by seq`;
      assertEquals(events.map((e) => [e.seq, e.status]), [[1, "RECEIVED"], [2, "SUBMITTED"], [3, "FILLED"]]);
      assertEquals(JSON.parse(events[2].msg).event, "fill");
      const trades = await sql`select trade_id, order_id, volume, price from trade where order_id = 'mq-1'`;
      assertEquals(trades.length, 1);
      assertEquals(trades[0].volume, 2);
      assertEquals(Number(trades[0].price), 3501);

      const key = `TQ_Position_PortfolioId_${names.portfolio}_Symbol_${RB}`;
      await eventually("redis position 2", async () => (await redis.get(key)) === "2");
      const ttl = await redis.ttl(key);
      assert(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`);
      const account = JSON.parse((await redis.get(`TQ_Account_PortfolioId_${names.portfolio}`)) ?? "{}");
      assertEquals(account.margin, 2 * 2433.6);

      // close to flat: the key says 0, not absent
      await rabbit.publish(
        insertRequest(names, "mq-2", {
          direction: "SELL",
          offset: "CLOSETODAY",
          limit_price: 3500,
          volume: 2,
        }),
      );
      await eventually("redis position 0", async () => (await redis.get(key)) === "0");
      await eventually(
        "mq-2 FILLED",
        async () => (await sql`select status from order_history where id = 'mq-2'`)[0]?.status === "FILLED",
      );
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
    }
  });
});

Deno.test("order path: duplicates place one order; a reused id with other content is refused and recorded", async () => {
  const names = testNames("dup");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await book(service, 3500, 3501);
      const request = insertRequest(names, "d-1", { limit_price: 3400 });
      // the same request three times over both channels, concurrently
      const rest = api(service, "POST", "/orders", request);
      await rabbit.publish(request);
      await rabbit.publish(request);
      const first = await rest;
      assertEquals(first.status, 202, JSON.stringify(first.json));
      await eventually("ACCEPTED", async () => {
        const [r] = await sql`select status from order_history where id = 'd-1'`;
        return r?.status === "ACCEPTED";
      });
      const again = await api(service, "POST", "/orders", request);
      assertEquals(again.status, 202);
      assertEquals(again.json.duplicate, true);
      const account = await simControl(service, `/sim/account?user=demo`);
      const atBroker = Object.keys(account.orders as Record<string, unknown>);
      assertEquals(atBroker.length, 1, `orders at the broker: ${atBroker.join(",")}`);

      const conflict = await api(service, "POST", "/orders", { ...request, volume: 5 });
      assertEquals(conflict.status, 409);
      await rabbit.publish({ ...request, limit_price: 3300 });
      await eventually("conflict dead-lettered", async () => {
        const dead = await rabbit.deadLetters();
        return dead.some((d) => String(d.headers["x-reject-reason"]).includes("already used"));
      });
      const events = await sql`select msg from order_event where id = 'd-1' order by seq`;
      const conflicts = events.filter((e) => JSON.parse(e.msg).event === "conflicting_request");
      assertEquals(conflicts.length, 2);
      const [row] = await sql`select volume, limit_price from order_history where id = 'd-1'`;
      assertEquals([row.volume, Number(row.limit_price)], [1, 3400]);
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end();
    }
  });
});

Deno.test("order path: cancel by message and by REST; unknown and finished orders answered clearly", async () => {
  const names = testNames("cancel");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    const status = async (id: string) =>
      (await sql`select status from order_history where id = ${id}`)[0]?.status;
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await book(service, 3500, 3501);
      for (const id of ["c-1", "c-2"]) {
        const r = await api(service, "POST", "/orders", insertRequest(names, id, { limit_price: 3400 }));
        assertEquals(r.status, 202);
      }
      await eventually(
        "both ACCEPTED",
        async () => (await status("c-1")) === "ACCEPTED" && (await status("c-2")) === "ACCEPTED",
      );
      await rabbit.publish({ action: "CANCEL", order_id: "c-1", portfolio_id: names.portfolio });
      const viaRest = await api(service, "DELETE", "/orders/c-2");
      assertEquals(viaRest.status, 202, JSON.stringify(viaRest.json));
      await eventually(
        "both CANCELED",
        async () => (await status("c-1")) === "CANCELED" && (await status("c-2")) === "CANCELED",
      );
      const events = await sql`select status, msg from order_event where id = 'c-1' order by seq`;
      assertEquals(events.map((e) => JSON.parse(e.msg).event), [
        "received",
        "submitted",
        "accepted",
        "cancel_requested",
        "canceled",
      ]);

      assertEquals((await api(service, "DELETE", "/orders/c-2")).status, 409);
      assertEquals((await api(service, "DELETE", "/orders/nope")).status, 404);
      await rabbit.publish({ action: "CANCEL", order_id: "nope", portfolio_id: names.portfolio });
      await eventually("unknown cancel dead-lettered", async () => {
        const dead = await rabbit.deadLetters();
        return dead.some((d) => String(d.headers["x-reject-reason"]).includes("no order nope"));
      });
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end();
    }
  });
});

Deno.test("order path: malformed messages are dead-lettered with the reason while valid ones keep flowing", async () => {
  const names = testNames("bad");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await book(service, 3500, 3501);
      await rabbit.publish("{not json", { raw: true });
      await rabbit.publish(insertRequest(names, "ok-1", { limit_price: 3400 }));
      await rabbit.publish(insertRequest(names, "bad-1", { volume: -3 }));
      await rabbit.publish(insertRequest(names, "other", { portfolio_id: "someone-else" }));
      await rabbit.publish(insertRequest(names, "ok-2", { limit_price: 3401 }));
      await rabbit.publish(insertRequest(names, "tick-1", { limit_price: 3400.5 }));
      const dead: { body: string; headers: Record<string, unknown> }[] = [];
      await eventually("3 dead letters", async () => {
        dead.push(...await rabbit.deadLetters());
        return dead.length >= 3;
      });
      const reasons = dead.map((d) => String(d.headers["x-reject-reason"]));
      assert(reasons.some((r) => r.startsWith("$: not JSON")), reasons.join(" | "));
      assert(reasons.some((r) => r.includes("volume")), reasons.join(" | "));
      assert(reasons.some((r) => r.includes("portfolio_id")), reasons.join(" | "));
      await eventually("valid orders accepted", async () => {
        const rows =
          await sql`select id, status from order_history where id in ('ok-1', 'ok-2') and status = 'ACCEPTED'`;
        return rows.length === 2;
      });
      const [bad] = await sql`select status, reject_reason from order_history where id = 'bad-1'`;
      assertEquals(bad.status, "REJECTED");
      assert(String(bad.reject_reason).startsWith("INVALID_REQUEST: volume"), bad.reject_reason);
      // a rule refusal is an outcome (acked), recorded with its code and field
      const [tick] = await eventually(
        "tick refusal",
        () =>
          sql`select status, reject_reason from order_history where id = 'tick-1'`.then((r) =>
            r.length ? r : null
          ),
      );
      assertEquals(tick.status, "REJECTED");
      assert(String(tick.reject_reason).startsWith("PRICE_TICK"), tick.reject_reason);
      const [ev] = await sql`select msg from order_event where id = 'tick-1' and status = 'REJECTED'`;
      assertEquals(JSON.parse(ev.msg).field, "limit_price");
      assertEquals((await sql`select count(*)::int as n from order_history where id = 'other'`)[0].n, 0);
    } finally {
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end();
    }
  });
});

Deno.test("order path: a send cut off by a dropped connection resolves from the snapshot, never resent", async () => {
  const names = testNames("drop");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
    const sql = testSql(db);
    const status = async (id: string) =>
      (await sql`select status, reject_reason from order_history where id = ${id}`)[0];
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await book(service, 3500, 3501);
      // the socket drops right after the exchange took the order: it exists after the reconnect
      await simControl(service, "/sim/faults", { insert_faults: ["drop_after"] });
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "u-1", { limit_price: 3400 }))).status,
        202,
      );
      await eventually("u-1 ACCEPTED", async () => (await status("u-1"))?.status === "ACCEPTED");
      await eventually(
        "reconnected",
        () => service.broker?.state().ready && service.broker.state().reconnects >= 1,
      );
      // the socket drops before the exchange saw it: absent from the snapshot → REJECTED, not resent
      await simControl(service, "/sim/faults", { insert_faults: ["drop_before"] });
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "u-2", { limit_price: 3400 }))).status,
        202,
      );
      const u2 = await eventually("u-2 REJECTED", async () => {
        const s = await status("u-2");
        return s?.status === "REJECTED" ? s : null;
      });
      assert(String(u2.reject_reason).startsWith("NOT_AT_BROKER"), u2.reject_reason);
      const events = await sql`select status from order_event where id = 'u-2' order by seq`;
      assertEquals(events.map((e) => e.status), ["RECEIVED", "SUBMITTED", "UNKNOWN", "REJECTED"]);
      const account = await simControl(service, `/sim/account?user=demo`);
      assertEquals(
        Object.keys(account.orders as Record<string, unknown>).filter((k) => k.endsWith(".u-2")),
        [],
      );
      // while the broker is not ready, a send is refused with the reason
      await simControl(service, "/sim/faults", { refuse_login: true });
      await simControl(service, "/sim/drop", { kind: "trade" });
      await eventually("not ready", () => !service.broker?.state().ready);
      const refused = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "u-3", { limit_price: 3400 }),
      );
      assertEquals(refused.status, 503);
      assert(
        ["NOT_CONNECTED", "RECONCILING"].includes(String(refused.json.code)),
        JSON.stringify(refused.json),
      );
      await simControl(service, "/sim/faults", { reset: true });
      await eventually("ready again", () => service.broker?.state().ready);
    } finally {
      await service.lifecycle.stop();
      await sql.end();
    }
  });
});

Deno.test("order path: a second instance stands by and takes over when the first stops", async () => {
  const names = testNames("lease");
  await withTestDatabase(async (db) => {
    const first = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    let second: Service | null = null;
    try {
      await eventually("first ready", () => first.broker?.state().ready);
      assert(first.lease?.held);
      const config2 = testConfig(names, db, { redis: false });
      second = await startTestService(config2);
      await eventually("second broker ready", () => second?.broker?.state().ready);
      assertEquals(second.lease?.held, false);
      const health = await api(second, "GET", "/health");
      assertEquals((health.json.components as Record<string, Record<string, unknown>>).lease.role, "standby");
      const standby = await api(
        second,
        "POST",
        "/orders",
        insertRequest(names, "l-0", { limit_price: 3400 }),
      );
      assertEquals(standby.status, 503);
      assertEquals(standby.json.code, "NOT_LEADER");

      await book(first, 3500, 3501);
      await rabbit.publish(insertRequest(names, "l-1", { limit_price: 3400 }));
      await eventually(
        "l-1 accepted by the first",
        async () => (await sql`select status from order_history where id = 'l-1'`)[0]?.status === "ACCEPTED",
      );
      await first.lifecycle.stop();
      await eventually("second takes over", () => second?.lease?.held);
      await rabbit.publish(insertRequest(names, "l-2", { limit_price: 3400 }));
      const [row] = await eventually("l-2 by the second", async () => {
        const r = await sql`select status from order_history where id = 'l-2'`;
        return r[0] && r[0].status !== "SUBMITTED" ? r : null;
      });
      // the second instance's sim is its own exchange here; what matters is who consumed and sent
      assert(["ACCEPTED", "REJECTED"].includes(row.status), row.status);
      // l-0 came to the standby: answered 503, not recorded, so its id stays free for a retry
      assertEquals((await sql`select id from order_history order by id`).map((r) => r.id), ["l-1", "l-2"]);
    } finally {
      await second?.lifecycle.stop();
      await first.lifecycle.stop().catch(() => {});
      await rabbit.close();
      await sql.end();
    }
  });
});

Deno.test("order path: a RabbitMQ cancel is acknowledged only once its event is in PostgreSQL", async () => {
  const names = testNames("cancelack");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false }));
    const rabbit = await rabbitPublisher(names);
    const sql = testSql(db);
    const locker = testSql(db);
    let release: () => void = () => {};
    try {
      await eventually("ready", () => service.broker?.state().ready && service.intake?.state().consuming);
      await book(service, 3500, 3501);
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "ca-1", { limit_price: 3400 })))
          .status,
        202,
      );
      await eventually(
        "ca-1 accepted",
        async () => (await sql`select status from order_history where id = 'ca-1'`)[0]?.status === "ACCEPTED",
      );
      await service.tracker?.flushed();

      // Writes to order_event stall (a lock the test holds) while the cancel goes out.
      const held = new Promise<void>((r) => (release = r));
      let locked: () => void = () => {};
      const isLocked = new Promise<void>((r) => (locked = r));
      const lock = locker.begin(async (tx) => {
        await tx`lock table order_event in exclusive mode`;
        locked();
        await held;
      });
      await isLocked;
      await rabbit.publish({ action: "CANCEL", order_id: "ca-1", portfolio_id: names.portfolio });
      const brokerId =
        (await sql`select broker_order_id from order_history where id = 'ca-1'`)[0].broker_order_id;
      await eventually(
        "canceled at the exchange",
        () => service.broker?.order(brokerId)?.status === "FINISHED",
      );
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(
        service.intake?.state().in_flight,
        1,
        "the cancel is held unacknowledged while unrecorded",
      );
      release();
      await lock;
      await eventually("acknowledged after the write", () => service.intake?.state().in_flight === 0);
      const events = await sql`select status, msg from order_event where id = 'ca-1' order by seq`;
      assert(events.some((e) => String(e.msg).includes("cancel_requested")), JSON.stringify(events));
      await eventually(
        "ca-1 canceled",
        async () => (await sql`select status from order_history where id = 'ca-1'`)[0]?.status === "CANCELED",
      );
    } finally {
      release();
      await service.lifecycle.stop();
      await rabbit.close();
      await sql.end();
      await locker.end();
    }
  });
});
