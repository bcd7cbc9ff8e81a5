/**
 * TqBroker details: the exact packets on the wire, malformed sends, an unreachable server, tqsdk's console
 * output kept off the console. (The full scenarios against the sim are in tests/broker/.)
 */
import { spyOnWsSends } from "../../tests/helpers/ws_spy.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../tests/assert.ts";
import { book, control, Recorder, tqConfig, withSim } from "../../tests/broker/env.ts";
import { deriveBrokerOrderId } from "./order_ids.ts";
import { createBroker } from "./mod.ts";
import type { BrokerInsert } from "./types.ts";

const RB = "SHFE.rb2605";
const ACCOUNTS = [{ user: "demo", password: "demo" }];

type ConsoleFn = (...args: unknown[]) => void;

/** Record frames sent by every WebSocket created meanwhile, and console.log/error lines. */
async function spy(
  fn: (sent: Record<string, unknown>[], consoleLines: string[]) => Promise<void>,
): Promise<void> {
  const c = console as unknown as Record<string, ConsoleFn>;
  const saved = { log: c.log, error: c.error };
  const lines: string[] = [];
  c.log = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  c.error = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  try {
    await spyOnWsSends(async (frames) => {
      const sent = new Proxy([] as Record<string, unknown>[], {
        get(target, key, receiver) {
          target.length = 0;
          for (const f of frames) target.push(JSON.parse(f.data));
          return Reflect.get(target, key, receiver);
        },
      });
      await fn(sent, lines);
    });
  } finally {
    Object.assign(c, saved);
  }
}

function order(id: string, extra: Partial<BrokerInsert>): BrokerInsert {
  return {
    broker_order_id: deriveBrokerOrderId("demo", id),
    symbol: RB,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    limit_price: 3400,
    time_condition: "GFD",
    volume_condition: "ANY",
    ...extra,
  };
}

Deno.test("TqBroker writes our own insert_order/cancel_order packets (our id, FAK/FOK, no price for ANY)", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await spy(async (sent, lines) => {
      const broker = createBroker(tqConfig(), { simBaseUrl: sim.baseUrl, simAccounts: ACCOUNTS });
      const rec = new Recorder(broker);
      try {
        await broker.start();
        await broker.waitReady(5000);
        const fak = order("fak", { time_condition: "IOC", volume_condition: "ANY", limit_price: 3450 });
        const fok = order("fok", {
          time_condition: "IOC",
          volume_condition: "ALL",
          volume: 2,
          direction: "SELL",
        });
        const mkt = order("mkt", { price_type: "ANY", limit_price: undefined, time_condition: "IOC" });
        for (const o of [fak, fok, mkt]) assertEquals(broker.insert(o), { ok: true });
        assertEquals(broker.cancel(fak.broker_order_id), { ok: true });
        const ours = sent.filter((p) => p.aid === "insert_order" || p.aid === "cancel_order");
        assertEquals(ours, [
          {
            aid: "insert_order",
            user_id: "demo",
            order_id: fak.broker_order_id,
            exchange_id: "SHFE",
            instrument_id: "rb2605",
            direction: "BUY",
            offset: "OPEN",
            volume: 1,
            price_type: "LIMIT",
            volume_condition: "ANY",
            time_condition: "IOC",
            limit_price: 3450,
          },
          {
            aid: "insert_order",
            user_id: "demo",
            order_id: fok.broker_order_id,
            exchange_id: "SHFE",
            instrument_id: "rb2605",
            direction: "SELL",
            offset: "OPEN",
            volume: 2,
            price_type: "LIMIT",
            volume_condition: "ALL",
            time_condition: "IOC",
            limit_price: 3400,
          },
          {
            aid: "insert_order",
            user_id: "demo",
            order_id: mkt.broker_order_id,
            exchange_id: "SHFE",
            instrument_id: "rb2605",
            direction: "BUY",
            offset: "OPEN",
            volume: 1,
            price_type: "ANY",
            volume_condition: "ANY",
            time_condition: "IOC",
          },
          { aid: "cancel_order", user_id: "demo", order_id: fak.broker_order_id },
        ]);
        // the sim refuses a market order on SHFE (notify 412); the order it stores is FINISHED
        const dead = await rec.wait(
          "order",
          (e) => e.order.broker_order_id === mkt.broker_order_id && e.order.status === "FINISHED",
          "market order refused",
        );
        assertEquals(dead.order.limit_price, null);
        assert(rec.of("notice").some((n) => n.notice.level === "WARNING"));

        // malformed sends are programming errors, not refusals
        assertThrows(() => broker.insert(order("a", { symbol: "rb2605" })));
        assertThrows(() => broker.insert(order("b", { limit_price: undefined })));
        assertThrows(() => broker.insert(order("c", { volume: 0 })));
        assertThrows(() => broker.insert(order("d", { volume: 1.5 })));
        assertThrows(() => broker.insert({ ...order("e", {}), broker_order_id: "a|b" }));
        assertThrows(() => broker.cancel(""));

        // tqsdk's own console output (a close on a drop) does not reach the console
        const from = rec.mark();
        await control(sim, "/sim/drop", { kind: "all" });
        await rec.wait("snapshot", () => true, "snapshot after drop", { from });
      } finally {
        await broker.stop();
        rec.close();
      }
      assertEquals(lines, []);
    });
  });
});

Deno.test("TqBroker: an unreachable server is a clear, retried error; stop ends the retries", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const broker = createBroker(tqConfig(), { simBaseUrl: `http://127.0.0.1:${port}`, simAccounts: ACCOUNTS });
  const rec = new Recorder(broker);
  try {
    await broker.start();
    const e = await rec.wait("state", (e) => e.state.attempts >= 2, "two failures");
    assertMatch(e.state.last_error!.message, new RegExp(`^GET http://127.0.0.1:${port}/broker-list.json: `));
    assertEquals(broker.insert(order("x", {})).ok, false);
    assertEquals(broker.instrument(RB), undefined);
    assertEquals(broker.snapshot(), null);
  } finally {
    await broker.stop();
    rec.close();
  }
  const n = rec.events.length;
  await new Promise((r) => setTimeout(r, 150));
  assertEquals(rec.events.length, n);
});

Deno.test("TqBroker: a listener that throws does not break the broker", async () => {
  await withSim(async (sim) => {
    const broker = createBroker(tqConfig(), { simBaseUrl: sim.baseUrl, simAccounts: ACCOUNTS });
    broker.subscribe(() => {
      throw new Error("bad consumer");
    });
    try {
      await broker.start();
      await broker.waitReady(5000);
      assertEquals(broker.snapshot()!.account.balance, 10_000_000);
    } finally {
      await broker.stop();
    }
  });
});
