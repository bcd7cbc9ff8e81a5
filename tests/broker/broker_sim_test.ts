/**
 * The broker against the sim exchange over real WebSockets with the real tqsdk client: readiness, snapshot,
 * order/trade/position/account events, refusals while disconnected, fresh snapshots after reconnects,
 * uncertain sends answered by the snapshot, md resubscription, login failures on backoff, clean stop.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import type { Sim } from "../../lib/sim/mod.ts";
import { createBroker, deriveBrokerOrderId } from "../../lib/broker/mod.ts";
import type { Broker, BrokerInsert } from "../../lib/broker/types.ts";
import { book, control, Recorder, sleep, tqConfig, withSim } from "./env.ts";
import { insertPacket } from "../sim/raw_diff.ts";

const RB = "SHFE.rb2605";
const SIM_ACCOUNTS = [{ user: "demo", password: "demo" }];

async function withBroker(
  sim: Sim,
  fn: (broker: Broker, rec: Recorder) => Promise<void>,
  tq: Record<string, unknown> = {},
): Promise<void> {
  const broker = createBroker(tqConfig(tq), {
    simBaseUrl: sim.baseUrl,
    simAccounts: SIM_ACCOUNTS,
    random: () => 0.5,
  });
  const rec = new Recorder(broker);
  try {
    await broker.start();
    await fn(broker, rec);
  } finally {
    await broker.stop();
    rec.close();
  }
}

function buy(id: string, price: number, extra: Partial<BrokerInsert> = {}): BrokerInsert {
  return {
    broker_order_id: deriveBrokerOrderId("demo", id),
    symbol: RB,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    limit_price: price,
    time_condition: "GFD",
    volume_condition: "ANY",
    ...extra,
  };
}

Deno.test("broker (sim): ready with a snapshot, then an order's whole life as events", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      assertEquals(broker.insert(buy("early", 3490)).ok, false);
      await broker.waitReady(5000);
      const snaps = rec.of("snapshot");
      assertEquals(snaps.length, 1);
      assertEquals(snaps[0].snapshot.account.balance, 10_000_000);
      assertEquals(snaps[0].snapshot.account.available, 10_000_000);
      assertEquals(snaps[0].snapshot.trading_day, "20251224");
      assertEquals(Object.keys(snaps[0].snapshot.orders), []);
      // the snapshot event comes before the ready state event
      const iSnap = rec.events.findIndex((e) => e.type === "snapshot");
      const iReady = rec.events.findIndex((e) => e.type === "state" && e.state.ready);
      assert(iSnap >= 0 && iSnap < iReady, `snapshot at ${iSnap}, ready at ${iReady}`);
      // no per-object events while syncing
      assertEquals(
        rec.events.slice(0, iSnap).filter((e) => ["order", "position", "account"].includes(e.type)),
        [],
      );
      const st = broker.state();
      assertEquals([st.phase, st.ready, st.attempts, st.reconnects, st.alarm], ["ready", true, 0, 0, false]);
      assertEquals(rec.of("notice").map((n) => n.notice.code), [401]);

      const id = deriveBrokerOrderId("demo", "ord-1");
      const from = rec.mark();
      assertEquals(broker.insert(buy("ord-1", 3490)), { ok: true });
      const alive = await rec.wait("order", (e) => e.order.broker_order_id === id, "order ALIVE", { from });
      assertEquals(alive.order.status, "ALIVE");
      assertEquals(alive.order.symbol, RB);
      assertEquals(alive.order.exchange_order_id, id);
      assertEquals(alive.order.limit_price, 3490);
      assertEquals([alive.order.volume_orign, alive.order.volume_left], [1, 1]);
      assertEquals([alive.order.time_condition, alive.order.volume_condition], ["GFD", "ANY"]);
      assert(alive.order.insert_time_ms > 0);
      // frozen margin shows on the account
      const acc1 = await rec.wait("account", (e) => e.account.frozen_margin > 0, "frozen margin", { from });
      assertEquals(acc1.account.frozen_margin, 2433.6);

      const fillFrom = rec.mark();
      await book(sim, RB, 3489, 3490); // the ask comes down to our price: fill
      const done = await rec.wait(
        "order",
        (e) => e.order.broker_order_id === id && e.order.status === "FINISHED",
        "order FINISHED",
        { from: fillFrom },
      );
      assertEquals(done.order.volume_left, 0);
      const trade = await rec.wait("trade", (e) => e.trade.broker_order_id === id, "trade", {
        from: fillFrom,
      });
      assertEquals([trade.trade.price, trade.trade.volume, trade.trade.direction], [3490, 1, "BUY"]);
      // the fill precedes the order that it finishes
      assert(rec.events.indexOf(trade) < rec.events.indexOf(done));
      const pos = await rec.wait("position", (e) => e.position.net === 1, "position net 1", {
        from: fillFrom,
      });
      assertEquals([pos.position.symbol, pos.position.long_today, pos.position.short], [RB, 1, 0]);
      assertEquals(pos.position.margin, 2433.6);
      const acc = await rec.wait("account", (e) => e.account.margin > 0, "account margin", {
        from: fillFrom,
      });
      assertEquals(acc.account.margin, 2433.6);
      assertEquals(acc.account.frozen_margin, 0);

      // snapshot() is kept current by the events
      const snap = broker.snapshot()!;
      assertEquals(snap.orders[id].status, "FINISHED");
      assertEquals(snap.positions[RB].net, 1);
      assertEquals(Object.values(snap.trades).map((t) => t.broker_order_id), [id]);
      assertEquals(snap.account.margin, 2433.6);
      // instrument data from the contract-info file
      const ins = broker.instrument(RB)!;
      assertEquals([ins.exchange_id, ins.instrument_id, ins.price_tick, ins.volume_multiple], [
        "SHFE",
        "rb2605",
        1,
        10,
      ]);
      assertEquals(broker.instrument("SHFE.nope"), undefined);

      // cancel: a resting order goes FINISHED
      const cid = deriveBrokerOrderId("demo", "ord-2");
      const cFrom = rec.mark();
      assertEquals(broker.insert(buy("ord-2", 3400)).ok, true);
      await rec.wait("order", (e) => e.order.broker_order_id === cid && e.order.status === "ALIVE", "ord-2", {
        from: cFrom,
      });
      assertEquals(broker.cancel(cid), { ok: true });
      const cancelled = await rec.wait(
        "order",
        (e) => e.order.broker_order_id === cid && e.order.status === "FINISHED",
        "ord-2 cancelled",
        { from: cFrom },
      );
      assertEquals(cancelled.order.volume_left, 1);
    });
    const st = await control(sim, "/sim/connections");
    assertEquals(st.trade, 0);
  });
});

Deno.test("broker (sim): refuses sends while the trade socket is down, then a fresh snapshot", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      await broker.waitReady(5000);
      // keep it down long enough to look: refuse logins, then drop
      await control(sim, "/sim/faults", { refuse_login: true });
      const seen: { phase: string; result: unknown }[] = [];
      const off = broker.subscribe((e) => {
        // at every phase change, try to send: never allowed before ready
        if (e.type === "state" && !e.state.ready) {
          seen.push({ phase: e.state.phase, result: broker.insert(buy(`x${seen.length}`, 3490)) });
        }
      });
      const from = rec.mark();
      await control(sim, "/sim/drop", { kind: "trade" });
      await rec.wait("state", (e) => e.state.last_error?.code === 403, "login refused", { from });
      const byPhase = new Map(seen.map((s) => [s.phase, (s.result as { reason?: string }).reason]));
      assertEquals(byPhase.get("backoff"), "NOT_CONNECTED");
      assertEquals(byPhase.get("connecting"), "NOT_CONNECTED");
      assertEquals(byPhase.get("logging_in"), "RECONCILING");
      assert(seen.every((s) => (s.result as { ok: boolean }).ok === false));
      assertEquals(broker.state().ready, false);
      assertEquals(broker.cancel(deriveBrokerOrderId("demo", "x0")).ok, false);
      off();
      const snapFrom = rec.mark();
      await control(sim, "/sim/faults", { reset: true });
      await rec.wait("state", (e) => e.state.ready, "ready again", { from: snapFrom, timeoutMs: 5000 });
      assertEquals(rec.events.slice(snapFrom).filter((e) => e.type === "snapshot").length, 1);
      assert(broker.state().reconnects >= 1);
      assertEquals(broker.state().attempts, 0);
      // nothing was sent meanwhile
      const acct = await control(sim, "/sim/account?user=demo");
      assertEquals(Object.keys(acct.orders as Record<string, unknown>), []);
      assertEquals(broker.insert(buy("after", 3490)), { ok: true });
    });
  });
});

Deno.test("broker (sim): a position closed while disconnected is flat in the new snapshot", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      await broker.waitReady(5000);
      const from = rec.mark();
      broker.insert(buy("open-1", 3501));
      await rec.wait("position", (e) => e.position.net === 1, "long 1", { from });
      await control(sim, "/sim/faults", { refuse_login: true });
      await control(sim, "/sim/drop", { kind: "trade" });
      await rec.wait("state", (e) => e.state.last_error?.code === 403, "refused", { from });
      // while we are out, another terminal (here: the exchange itself) closes the position
      sim.engine().insertOrder("demo", {
        aid: "insert_order",
        user_id: "demo",
        order_id: "other-terminal-close",
        exchange_id: "SHFE",
        instrument_id: "rb2605",
        direction: "SELL",
        offset: "CLOSETODAY",
        volume: 1,
        price_type: "LIMIT",
        limit_price: 3500,
        volume_condition: "ANY",
        time_condition: "GFD",
      });
      const state = await control(sim, "/sim/account?user=demo");
      assertEquals(
        (state.orders as Record<string, { status: string }>)["other-terminal-close"].status,
        "FINISHED",
      );
      const snapFrom = rec.mark();
      await control(sim, "/sim/faults", { reset: true });
      const snap = await rec.wait("snapshot", () => true, "fresh snapshot", { from: snapFrom });
      assertEquals(snap.snapshot.positions[RB]?.net ?? 0, 0);
      assertEquals(snap.snapshot.orders["other-terminal-close"].status, "FINISHED");
      assertEquals(broker.snapshot()!.positions[RB]?.net ?? 0, 0);
    });
  });
});

Deno.test("broker (sim): an order whose socket dropped right after the send shows in the next snapshot", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      await broker.waitReady(5000);
      await control(sim, "/sim/faults", { insert_faults: ["drop_after", "drop_before"] });
      const kept = deriveBrokerOrderId("demo", "uncertain-1");
      const from = rec.mark();
      assertEquals(broker.insert(buy("uncertain-1", 3490)), { ok: true });
      const snap = await rec.wait("snapshot", () => true, "snapshot after drop", { from });
      assertEquals(snap.snapshot.orders[kept].status, "ALIVE");
      assertEquals(snap.snapshot.orders[kept].limit_price, 3490);
      // the second send's socket drops before the exchange saw it: absent from the next snapshot
      await broker.waitReady(5000);
      const lost = deriveBrokerOrderId("demo", "uncertain-2");
      const from2 = rec.mark();
      assertEquals(broker.insert(buy("uncertain-2", 3490)), { ok: true });
      const snap2 = await rec.wait("snapshot", () => true, "snapshot after second drop", { from: from2 });
      assertEquals(snap2.snapshot.orders[lost], undefined);
      assertEquals(snap2.snapshot.orders[kept].status, "ALIVE");
      assertEquals(broker.state().reconnects, 2);
    });
  });
});

Deno.test("broker (sim): quotes resume after an md drop (full subscription sent on the new socket)", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      broker.subscribeQuotes([RB]);
      const q = await rec.wait("quote", (e) => e.quote.bid_price1 === 3500, "first quote");
      assertEquals([q.quote.symbol, q.quote.ask_price1, q.quote.upper_limit], [RB, 3501, 4000]);
      assertEquals(q.quote.datetime_ms, Date.parse("2025-12-24T10:00:00+08:00"));
      await broker.waitReady(5000);
      const dropped = await control(sim, "/sim/drop", { kind: "md" });
      assertEquals(dropped.dropped, 1);
      await sleep(10);
      const from = rec.mark();
      await book(sim, RB, 3600, 3601);
      const q2 = await rec.wait("quote", (e) => e.quote.bid_price1 === 3600, "quote after md drop", { from });
      assertEquals(q2.quote.ask_price1, 3601);
      assertEquals(broker.quote(RB)?.bid_price1, 3600);
      // the trade side was not touched
      assertEquals(broker.state().reconnects, 0);
      assert(broker.state().ready);
    });
  });
});

Deno.test("broker (sim): refused logins are reported and retried on the backoff, then it gets ready", async () => {
  await withSim(async (sim) => {
    await control(sim, "/sim/faults", { refuse_login: true });
    await withBroker(sim, async (broker, rec) => {
      const refused = await rec.wait("state", (e) => e.state.attempts >= 3, "three refused attempts");
      assertEquals(refused.state.last_error?.code, 403);
      assertMatch(refused.state.last_error!.message, /login refused \(403\): 用户登录失败!/);
      assertEquals(refused.state.ready, false);
      // backoff with random 0.5: 37.5 → 38 ms, 75 ms, 150 ms … — never hammering
      const backoffs = rec.of("state").filter((e) => e.state.phase === "backoff").map((e) => e.state.since);
      assert(backoffs.length >= 3);
      const connects = rec.of("state").filter((e) => e.state.phase === "connecting").map((e) =>
        e.state.since
      );
      assert(connects[1] - backoffs[0] >= 30, `retried after ${connects[1] - backoffs[0]} ms`);
      assert(connects[2] - backoffs[1] >= 65, `retried after ${connects[2] - backoffs[1]} ms`);
      assertEquals(broker.insert(buy("nope", 3490)).ok, false);
      await control(sim, "/sim/faults", { reset: true });
      await broker.waitReady(5000);
      const st = broker.state();
      assertEquals([st.ready, st.attempts], [true, 0]);
      assertEquals(st.last_error?.code, 403); // the last failure stays visible
      assertEquals(rec.of("snapshot").length, 1);
    });
  });
});

Deno.test("broker (sim): a wrong password is reported with the broker's text and retried", async () => {
  await withSim(async (sim) => {
    await withBroker(sim, async (broker, rec) => {
      const e = await rec.wait("state", (e) => e.state.attempts >= 2, "two refusals");
      assertEquals(e.state.last_error?.code, 402);
      assertMatch(e.state.last_error!.message, /账户和密码不匹配/);
      const notices = rec.of("notice").map((n) => [n.notice.code, n.notice.level]);
      assertEquals(notices.slice(0, 2), [[402, "WARNING"], [402, "WARNING"]]);
      await assertRejectsReady(broker);
    }, { account: "demo", account_password: "wrong" });
  });
});

async function assertRejectsReady(broker: Broker): Promise<void> {
  let error: Error | undefined;
  try {
    await broker.waitReady(100);
  } catch (e) {
    error = e as Error;
  }
  assert(error, "waitReady should reject");
  assertMatch(error.message, /not ready after 100 ms \(phase \w+, last error: login refused/);
}

Deno.test("broker (sim): the alarm rises after alarm_after_s not ready and clears when ready", async () => {
  await withSim(async (sim) => {
    await control(sim, "/sim/faults", { refuse_login: true });
    await withBroker(sim, async (broker, rec) => {
      const alarmed = await rec.wait("state", (e) => e.state.alarm, "alarm", { timeoutMs: 3000 });
      assertEquals(alarmed.state.ready, false);
      assert(broker.state().alarm);
      await control(sim, "/sim/faults", { reset: true });
      await broker.waitReady(5000);
      assertEquals(broker.state().alarm, false);
    }, { reconnect: { initial_ms: 50, max_ms: 200, alarm_after_s: 1 } });
  });
});

Deno.test("broker (sim): stop closes everything; later sends are STOPPED; start after stop fails", async () => {
  await withSim(async (sim) => {
    const broker = createBroker(tqConfig(), { simBaseUrl: sim.baseUrl, simAccounts: SIM_ACCOUNTS });
    await broker.start();
    await broker.start(); // idempotent
    await broker.waitReady(5000);
    broker.subscribeQuotes([RB]);
    await broker.stop();
    await broker.stop();
    assertEquals(broker.state().phase, "stopped");
    assertEquals(broker.insert(buy("z", 3490)).ok === false && broker.insert(buy("z", 3490)), {
      ok: false,
      reason: "STOPPED",
      message: "the broker is stopped",
    });
    assertEquals((broker.cancel("x") as { reason: string }).reason, "STOPPED");
    let failed = false;
    await broker.start().catch(() => failed = true);
    assert(failed);
    await sleep(20);
    const conns = await control(sim, "/sim/connections");
    assertEquals([conns.trade, conns.md], [0, 0]);
  });
});

Deno.test("broker (sim): orders and trades that vanished while disconnected are gone (no stale tree)", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withBroker(sim, async (broker, rec) => {
      await broker.waitReady(5000);
      const from = rec.mark();
      broker.insert(buy("day-1", 3501));
      await rec.wait("trade", () => true, "fill", { from });
      assertEquals(Object.keys(broker.snapshot()!.trades).length, 1);
      await control(sim, "/sim/faults", { refuse_login: true });
      await control(sim, "/sim/drop", { kind: "trade" });
      await rec.wait("state", (e) => e.state.last_error?.code === 403, "refused", { from });
      // end of day while we are out: the broker's snapshot of the new day holds no orders or trades
      await control(sim, "/sim/settle", {});
      const snapFrom = rec.mark();
      await control(sim, "/sim/faults", { reset: true });
      const snap = await rec.wait("snapshot", () => true, "fresh snapshot", { from: snapFrom });
      assertEquals(Object.keys(snap.snapshot.orders), []);
      assertEquals(Object.keys(snap.snapshot.trades), []);
      assertEquals(snap.snapshot.positions[RB].net, 1);
      assertEquals(snap.snapshot.positions[RB].long_his, 1);
      assertEquals(Object.keys(broker.snapshot()!.orders), []);
    });
  });
});

Deno.test("broker (sim): a snapshot in two parts is not ready (sends refused RECONCILING) until trade_more_data:false", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    sim.engine().insertOrder("demo", insertPacket("demo", "resting-before", 3400));
    await control(sim, "/sim/faults", { split_snapshot: true, hold_snapshot: true });
    await withBroker(sim, async (broker, rec) => {
      await rec.wait("state", (e) => e.state.phase === "syncing", "logged in, syncing");
      await sleep(200); // the first part (trade_more_data: true, no orders) has been merged meanwhile
      assertEquals([broker.state().phase, broker.state().ready], ["syncing", false]);
      const refused = broker.insert(buy("between-parts", 3490));
      assertEquals(refused.ok ? "sent" : refused.reason, "RECONCILING");
      assertEquals(broker.cancel(deriveBrokerOrderId("demo", "x")).ok, false);
      assertEquals(rec.of("snapshot"), []);
      assertEquals(broker.snapshot(), null);
      assertEquals(await control(sim, "/sim/release", {}), { released: 1 });
      const snap = await rec.wait("snapshot", () => true, "the complete snapshot");
      assertEquals(Object.keys(snap.snapshot.orders), ["resting-before"]);
      await broker.waitReady(2000);
      assertEquals(broker.insert(buy("after-parts", 3490)), { ok: true });
    });
  });
});
