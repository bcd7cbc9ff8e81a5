/**
 * The account mirror in Redis against the sim, in more detail: the exact keys and JSON fields of the
 * account and position-breakdown keys after fills (long, short, today and yesterday lots), the TTL; sends
 * refused while a snapshot is incomplete; the TTL refreshed on a quiet account; `/health` showing Redis down
 * during a Redis outage (a private `redis-server`) while orders still flow, and the state rewritten after.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  cleanupRedis,
  eventually,
  insertRequest,
  simControl,
  startTestService,
  testConfig,
  testNames,
  testRedis,
} from "../helpers/service.ts";
import { accountKey, breakdownKey, metaKey, positionKey } from "../../lib/sinks/redis_positions.ts";
import { withPrivateRedisService } from "../faults/harness.ts";
import { book, withSim } from "../broker/env.ts";
import { demoOrder, until, withPipeline } from "../broker/pipeline.ts";

const RB = "SHFE.rb2605";
const M = "DCE.m2605";

function setBook(service: Parameters<typeof simControl>[0], symbol: string, bid: number, ask: number) {
  return simControl(service, "/sim/quote", {
    symbol,
    bid_price1: bid,
    ask_price1: ask,
    bid_volume1: 50,
    ask_volume1: 50,
    last_price: bid,
    upper_limit: bid + 400,
    lower_limit: bid - 400,
  });
}

Deno.test("live state: Redis holds the exact account and breakdown keys after fills, with the TTL; sends wait for a complete snapshot", async () => {
  const names = testNames("lsm");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { rabbitmq: false }));
    const redis = testRedis();
    const pf = names.portfolio;
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service, RB, 3500, 3501);
      await setBook(service, M, 2700, 2701);
      const order = async (id: string, fields: Record<string, unknown>) => {
        const r = await api(service, "POST", "/orders", insertRequest(names, id, fields));
        assertEquals(r.status, 202, `${id}: ${JSON.stringify(r.json)}`);
        await eventually(`${id} filled`, async () => {
          const o = await api(service, "GET", `/orders/${id}`);
          return (o.json.order as Record<string, unknown> | undefined)?.status === "FILLED";
        });
      };
      // 2 lots long, rolled to yesterday; 1 more today; 2 short on DCE
      await order("b-1", { limit_price: 3501, volume: 2 });
      await simControl(service, "/sim/settle", {});
      await setBook(service, RB, 3500, 3501);
      await order("b-2", { limit_price: 3501, volume: 1 });
      await order("s-1", { symbol: M, direction: "SELL", limit_price: 2700, volume: 2 });

      const engine = () => service.sim!.engine().snapshot("demo");
      await eventually(
        "redis positions",
        async () =>
          (await redis.get(positionKey(pf, RB))) === "3" && (await redis.get(positionKey(pf, M))) === "-2",
      );
      const breakdown = async (symbol: string) => JSON.parse((await redis.get(breakdownKey(pf, symbol)))!);
      const rb = await breakdown(RB);
      assertEquals(Object.keys(rb), [
        "pos_long",
        "pos_short",
        "pos_long_today",
        "pos_long_his",
        "pos_short_today",
        "pos_short_his",
        "updated_at",
      ]);
      const { updated_at: rbAt, ...rbLots } = rb;
      assertEquals(rbLots, {
        pos_long: 3,
        pos_short: 0,
        pos_long_today: 1,
        pos_long_his: 2,
        pos_short_today: 0,
        pos_short_his: 0,
      });
      assert(!Number.isNaN(Date.parse(rbAt)) && rbAt.endsWith("Z"), rbAt);
      const { updated_at: _m, ...mLots } = await breakdown(M);
      assertEquals(mLots, {
        pos_long: 0,
        pos_short: 2,
        pos_long_today: 0,
        pos_long_his: 0,
        pos_short_today: 2,
        pos_short_his: 0,
      });

      // the account key: exactly these fields, the sim's numbers
      const account = await eventually("account equal to the sim's", async () => {
        const a = JSON.parse((await redis.get(accountKey(pf)))!);
        const e = engine().accounts.CNY as unknown as Record<string, number>;
        const same = ["balance", "available", "margin", "risk_ratio", "position_profit", "float_profit"]
          .every((k) => a[k] === e[k]);
        return same ? a : null;
      });
      assertEquals(Object.keys(account), [
        "balance",
        "available",
        "margin",
        "risk_ratio",
        "position_profit",
        "float_profit",
        "updated_at",
      ]);
      assert(account.margin > 0 && account.balance < 10_000_000, JSON.stringify(account)); // commission paid
      for (
        const key of [
          positionKey(pf, RB),
          breakdownKey(pf, RB),
          positionKey(pf, M),
          accountKey(pf),
          metaKey(pf),
        ]
      ) {
        const ttl = await redis.ttl(key);
        assert(ttl > 3590 && ttl <= 3600, `${key}: ttl ${ttl}`);
      }

      // a reconnect whose snapshot arrives in two parts: orders are refused until the second part
      await simControl(service, "/sim/faults", { split_snapshot: true, hold_snapshot: true });
      await simControl(service, "/sim/drop", { kind: "trade" });
      await eventually("syncing", () => service.broker?.state().phase === "syncing");
      const refused = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "during-split", { limit_price: 3400 }),
      );
      assertEquals(refused.status, 503, JSON.stringify(refused.json));
      assert(JSON.stringify(refused.json).includes("RECONCILING"), JSON.stringify(refused.json));
      assertEquals(JSON.parse((await redis.get(metaKey(pf)))!).stale, true);
      await simControl(service, "/sim/release", {});
      await simControl(service, "/sim/faults", { reset: true });
      await eventually("ready after the second part", () => service.broker?.state().ready);
      const after = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "after-split", { limit_price: 3400 }),
      );
      assertEquals(after.status, 202, JSON.stringify(after.json));
      assertEquals(await redis.get(positionKey(pf, RB)), "3");
    } finally {
      await service.lifecycle.stop();
      await cleanupRedis(redis, pf);
    }
  });
});

Deno.test("live state: the Redis TTL is refreshed on a quiet account (short refresh interval)", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("ttl-1", { volume: 2 })), { ok: true });
      await until("redis 2", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "2");
      await p.writer.flushed();
      const keys = [positionKey(p.portfolio, RB), breakdownKey(p.portfolio, RB), accountKey(p.portfolio)];
      const values = await Promise.all(keys.map((k) => p.redis.get(k)));
      // time passes (as if 55 minutes went by): the keys are close to expiring
      for (const k of keys) await p.redis.expire(k, 20);
      const from = p.rec.mark();
      await until("TTLs refreshed", async () => {
        const ttls = await Promise.all(keys.map((k) => p.redis.ttl(k)));
        return ttls.every((t) => t > 3590);
      });
      // nothing happened on the account meanwhile: the refresh alone rewrote the keys, with the same lots
      assertEquals(p.rec.events.slice(from).filter((e) => e.type !== "quote" && e.type !== "state"), []);
      assertEquals(await p.redis.get(keys[0]), values[0]);
      const strip = (v: string | null) => {
        const { updated_at: _, ...rest } = JSON.parse(v!);
        return rest;
      };
      assertEquals(strip(await p.redis.get(keys[1])), strip(values[1]));
      assertEquals(strip(await p.redis.get(keys[2])), strip(values[2]));
    }, { refreshIntervalMs: 300 });
  });
});

Deno.test("live state: /health shows Redis down during an outage, orders still flow, the state is rewritten after", async () => {
  await withPrivateRedisService("lsmr", async ({ names, service, server, redis }) => {
    const health = async () => {
      const h = await api(service, "GET", "/health");
      return {
        status: h.json.status,
        redis: (h.json.components as Record<string, Record<string, unknown>>).redis,
      };
    };
    await eventually("ready", () => service.broker?.state().ready);
    await setBook(service, RB, 3500, 3501);
    await redis.connect();
    assertEquals(
      (await api(service, "POST", "/orders", insertRequest(names, "r-1", { limit_price: 3501 }))).status,
      202,
    );
    await eventually("redis 1", async () => (await redis.get(positionKey(names.portfolio, RB))) === "1");
    const up = await health();
    assertEquals([up.status, up.redis.ok, up.redis.connected], ["ok", true, true]);

    await server.stop();
    const down = await eventually("health shows redis down", async () => {
      const h = await health();
      return h.redis.connected === false ? h : null;
    });
    assertEquals([down.status, down.redis.ok, down.redis.enabled], ["degraded", false, true]);
    // orders still flow (Redis is not on the order path); the writer notes what it could not write
    const r = await api(service, "POST", "/orders", insertRequest(names, "r-2", { limit_price: 3501 }));
    assertEquals(r.status, 202, JSON.stringify(r.json));
    await eventually("r-2 filled at the broker", () => service.broker?.position(RB)?.net === 2);
    const dirty = await eventually("dirty", async () => {
      const h = await health();
      return h.redis.dirty === true ? h : null;
    });
    assertEquals(dirty.redis.ok, false);
    assert(typeof dirty.redis.last_error === "string", JSON.stringify(dirty.redis));

    // Redis comes back empty: the whole current state is written again, health is ok
    await server.start();
    await eventually(
      "rewritten",
      async () => (await redis.get(positionKey(names.portfolio, RB))) === "2",
      15_000,
    );
    const back = await eventually("health ok", async () => {
      const h = await health();
      return h.redis.ok === true ? h : null;
    });
    assertEquals([back.status, back.redis.connected, back.redis.dirty], ["ok", true, false]);
    assert(await redis.get(accountKey(names.portfolio)));
  });
});
