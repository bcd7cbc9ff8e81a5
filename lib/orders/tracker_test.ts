/**
 * The order tracker against a real PostgreSQL: how a batch of broker updates reaches the store when a
 * write fails after committing, and what happens to a frame's fills when the tracker stops in the same turn.
 * (The tracker's behaviour with a live broker is covered end to end in tests/broker and tests/service.)
 */
import type { Logger } from "@logtape/logtape";
import { assertEquals } from "../../tests/assert.ts";
import { withTestDatabase } from "../../tests/helpers/pg.ts";
import { externalOrderView, insertRequest } from "../../tests/helpers/orders.ts";
import type { BrokerTradeView } from "../broker/types.ts";
import { closeDatabase, connectDatabase, type Database } from "../store/pg/connect.ts";
import { migrate } from "../store/pg/migrate.ts";
import { type AppliedUpdate, type NewOrder, OrderStore, type TradeInput } from "../store/pg/order_store.ts";
import { OrderTracker } from "./tracker.ts";
import type { OrderUpdate } from "./types.ts";

const PORTFOLIO = "demo";
const quiet = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

async function withSql(fn: (sql: Database) => Promise<void>): Promise<void> {
  await withTestDatabase(async (db) => {
    const sql = await connectDatabase(db, { max: 3, applicationName: "tracker_test" });
    try {
      await migrate(sql);
      await fn(sql);
    } finally {
      await closeDatabase(sql);
    }
  });
}

function submitted(id: string): NewOrder {
  return {
    request: insertRequest(id, { volume: 2 }),
    status: "SUBMITTED",
    source: "rest",
    broker_order_id: `TBC_${id}`,
    request_hash: `h-${id}`,
    trading_day: "20251224",
    events: [
      { status: "RECEIVED", msg: { event: "received" } },
      { status: "SUBMITTED", msg: { event: "submitted" } },
    ],
  };
}

function update(id: string, status: OrderUpdate["status"], fields: OrderUpdate["fields"], event: string) {
  return { portfolio_id: PORTFOLIO, id, status, fields, event: { event } } satisfies OrderUpdate;
}

function externalTrade(id: string): BrokerTradeView {
  return {
    trade_id: id,
    broker_order_id: "SERVER.123.abc.1",
    exchange_trade_id: id,
    symbol: "DCE.m2605",
    direction: "SELL",
    offset: "CLOSE",
    price: 2890,
    volume: 1,
    commission: 1,
    trade_time_ms: Date.UTC(2025, 11, 24, 2, 0, 1),
  };
}

async function eventsOf(sql: Database, id: string): Promise<string[]> {
  const rows = await sql`select seq, msg from order_event where id = ${id} order by seq`;
  return rows.map((r) => `${r.seq}:${JSON.parse(r.msg as string).event}`);
}

Deno.test("tracker: a batch retried after a lost commit acknowledgement makes only the calls not yet done", async () => {
  await withSql(async (sql) => {
    // One outbox batch [a:A, an external order, a:B] is three store calls. The third commits and then its
    // acknowledgement is lost; the outbox sends the batch again. Making the first call again would write A
    // after B (the store recognises only a replay of an order's newest events).
    let lose = true;
    class LossyStore extends OrderStore {
      override async applyUpdates(
        updates: readonly OrderUpdate[],
        options: { trades?: readonly TradeInput[] } = {},
      ): Promise<AppliedUpdate[]> {
        const applied = await super.applyUpdates(updates, options);
        if (lose && updates.some((u) => u.event.event === "B")) {
          lose = false;
          throw new Error("connection lost after COMMIT");
        }
        return applied;
      }
    }
    const store = new LossyStore(sql, { portfolioId: PORTFOLIO });
    await store.recordIntents([submitted("a")]);
    const tracker = new OrderTracker(store, {
      portfolioId: PORTFOLIO,
      log: quiet,
      outbox: { initialDelayMs: 1 },
    });
    await tracker.activate();
    tracker.recordUpdate(update("a", "ACCEPTED", { exchange_order_id: "X" }, "A"));
    tracker.handle({ type: "order", order: externalOrderView() });
    tracker.recordUpdate(update("a", "PARTIALLY_FILLED", { filled_quantity: 1, volume_left: 1 }, "B"));
    await tracker.flushed();
    assertEquals(await eventsOf(sql, "a"), ["1:received", "2:submitted", "3:A", "4:B"]);
    assertEquals((await store.getOrder("a"))?.record.status, "PARTIALLY_FILLED");
    assertEquals(lose, false, "the acknowledgement was lost once");
    assertEquals(await tracker.stop(0), 0);
  });
});

Deno.test("tracker: a fill of the frame being handled when the tracker stops is written, nothing thrown", async () => {
  await withSql(async (sql) => {
    const store = new OrderStore(sql, { portfolioId: PORTFOLIO });
    const tracker = new OrderTracker(store, {
      portfolioId: PORTFOLIO,
      log: quiet,
      outbox: { initialDelayMs: 1 },
    });
    await tracker.activate();
    let uncaught: unknown = null;
    const onError = (e: ErrorEvent) => {
      uncaught = e.error;
      e.preventDefault();
    };
    globalThis.addEventListener("error", onError);
    try {
      // the frame's fills wait for its end (a microtask) to go with the updates they cause
      tracker.handle({ type: "trade", trade: externalTrade("EXT|1") });
      const left = await tracker.stop(1000);
      await new Promise((r) => setTimeout(r, 20));
      const [t] = await sql`select count(*)::int as n from trade`;
      assertEquals({ left, trades: t.n, uncaught }, { left: 0, trades: 1, uncaught: null });
      // after the stop, a fill is refused, counted and logged: never thrown from the microtask
      tracker.handle({ type: "trade", trade: externalTrade("EXT|2") });
      await new Promise((r) => setTimeout(r, 20));
      assertEquals(uncaught, null);
      assertEquals(await tracker.stop(0), 1);
    } finally {
      globalThis.removeEventListener("error", onError);
    }
  });
});
