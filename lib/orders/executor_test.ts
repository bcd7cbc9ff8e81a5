/**
 * The executor against a real PostgreSQL order store, with a hand-driven broker (the broker is not the point
 * here: what the executor records and sends is). The sim-backed paths are in tests/service/.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { withTestDatabase } from "../../tests/helpers/pg.ts";
import { brokerState, FakeBroker, order, snapshot } from "../../tests/helpers/fake_broker.ts";
import type { BrokerInsert, SendResult } from "../broker/types.ts";
import { closeDatabase, connectDatabase } from "../store/pg/connect.ts";
import { migrate } from "../store/pg/migrate.ts";
import { type IntentResult, type NewOrder, OrderStore } from "../store/pg/order_store.ts";
import { getLogger } from "../log.ts";
import { deriveBrokerOrderId } from "../broker/order_ids.ts";
import { type CancelOutcome, OrderExecutor, type SubmitOutcome } from "./executor.ts";
import { parseOrderRequest } from "./request_schema.ts";
import { SendGate } from "./send_gate.ts";
import { OrderTracker } from "./tracker.ts";
import type { ParsedRequest } from "./types.ts";

const PORTFOLIO = "p-exec";
const DAY = "20251224";

/** A broker that takes every send and remembers it. */
class RecordingBroker extends FakeBroker {
  readonly inserts: BrokerInsert[] = [];
  readonly cancels: string[] = [];
  override insert(o: BrokerInsert): SendResult {
    this.inserts.push(o);
    return { ok: true };
  }
  override cancel(id: string): SendResult {
    this.cancels.push(id);
    return { ok: true };
  }
}

/** An order store whose next `recordIntents` commits and then fails as if the COMMIT's answer was lost. */
class LosingStore extends OrderStore {
  loseNext = false;
  override async recordIntents(intents: readonly NewOrder[]): Promise<IntentResult[]> {
    const results = await super.recordIntents(intents);
    if (this.loseNext) {
      this.loseNext = false;
      throw new Error("connection closed after COMMIT (answer lost)");
    }
    return results;
  }
}

function insert(orderId: string): ParsedRequest {
  return parseOrderRequest(
    JSON.stringify({
      symbol: "DCE.m2605",
      direction: "BUY",
      offset: "OPEN",
      volume: 1,
      limit_price: 3000,
      order_id: orderId,
      portfolio_id: PORTFOLIO,
    }),
    { portfolioId: PORTFOLIO },
  );
}

async function withExecutor(
  fn: (
    t: {
      store: LosingStore;
      broker: RecordingBroker;
      tracker: OrderTracker;
      executor: OrderExecutor;
      events: (id: string) => Promise<string[]>;
      status: (id: string) => Promise<string | undefined>;
    },
  ) => Promise<void>,
): Promise<void> {
  await withTestDatabase(async (db) => {
    const sql = await connectDatabase(db, { applicationName: "executor_test" });
    const log = getLogger("orders");
    const store = new LosingStore(sql, { portfolioId: PORTFOLIO });
    const tracker = new OrderTracker(store, { portfolioId: PORTFOLIO, log, outbox: { initialDelayMs: 10 } });
    try {
      await migrate(sql, {});
      const broker = new RecordingBroker();
      broker.emit({ type: "snapshot", snapshot: snapshot({}) });
      broker.emit({ type: "state", state: brokerState(true, { trading_day: DAY }) });
      await tracker.activate();
      const gate = new SendGate(broker);
      const executor = new OrderExecutor(store, gate, tracker, {
        portfolioId: PORTFOLIO,
        log,
        tradingDay: () => DAY,
      });
      await fn({
        store,
        broker,
        tracker,
        executor,
        events: async (id) => {
          await tracker.flushed();
          const rows = await sql`select status from order_event where id = ${id} order by seq`;
          return rows.map((r) => r.status as string);
        },
        status: async (id) => {
          await tracker.flushed();
          return (await sql`select status from order_history where id = ${id}`)[0]?.status;
        },
      });
    } finally {
      await tracker.stop(1000);
      await closeDatabase(sql);
    }
  });
}

function submit(executor: OrderExecutor, parsed: ParsedRequest): Promise<SubmitOutcome> {
  if (parsed.kind === "cancel") throw new Error("not an insert");
  return executor.submit(parsed, "rest");
}

Deno.test("executor: an intent whose commit answer was lost is sent once on the retry, never twice", async () => {
  await withExecutor(async ({ store, broker, executor, status, events }) => {
    store.loseNext = true;
    const first = await submit(executor, insert("lost-1"));
    // The caller is told to retry; nothing left the process, though the row is committed.
    assertEquals(first.kind, "unavailable");
    assertEquals(broker.inserts.length, 0);
    assertEquals(await status("lost-1"), "SUBMITTED");

    const second = await submit(executor, insert("lost-1"));
    assertEquals(second.kind, "accepted");
    assertEquals(broker.inserts.map((o) => o.broker_order_id), [deriveBrokerOrderId(PORTFOLIO, "lost-1")]);

    // A third delivery (e.g. the queue redelivers again) finds it tracked: nothing more is sent.
    const third = await submit(executor, insert("lost-1"));
    assertEquals(third.kind, "accepted");
    assert(third.kind === "accepted" && third.duplicate);
    assertEquals(broker.inserts.length, 1);
    assertEquals(await events("lost-1"), ["RECEIVED", "SUBMITTED"]);
  });
});

Deno.test("executor: a lost-answer intent the broker already shows is followed, not sent again", async () => {
  await withExecutor(async ({ store, broker, executor, status }) => {
    store.loseNext = true;
    assertEquals((await submit(executor, insert("lost-2"))).kind, "unavailable");
    const id = deriveBrokerOrderId(PORTFOLIO, "lost-2");
    // The broker has it (as if another path had placed it): the retry must follow it, not send.
    broker.emit({
      type: "snapshot",
      snapshot: snapshot({
        orders: [order(id, { symbol: "DCE.m2605", exchange_order_id: "x-9", volume_left: 1 })],
      }),
    });
    const again = await submit(executor, insert("lost-2"));
    assertEquals(again.kind, "accepted");
    assertEquals(broker.inserts.length, 0);
    assertEquals(await status("lost-2"), "ACCEPTED");
  });
});

Deno.test("executor: a cancel while the broker is not ready is 'unavailable' (retried), not acknowledged", async () => {
  await withExecutor(async ({ broker, executor, status }) => {
    assertEquals((await submit(executor, insert("c-1"))).kind, "accepted");
    broker.emit({ type: "state", state: brokerState(false, { trading_day: DAY }) });
    const outcome: CancelOutcome = await executor.cancel({
      order_id: "c-1",
      portfolio_id: PORTFOLIO,
      request_id: null,
    });
    assertEquals(outcome.kind, "unavailable");
    assert(outcome.kind === "unavailable" && outcome.code === "NOT_CONNECTED", JSON.stringify(outcome));
    assertEquals(broker.cancels.length, 0);
    broker.emit({ type: "state", state: brokerState(true, { trading_day: DAY }) });
    assertEquals(
      (await executor.cancel({ order_id: "c-1", portfolio_id: PORTFOLIO, request_id: null })).kind,
      "sent",
    );
    assertEquals(broker.cancels, [deriveBrokerOrderId(PORTFOLIO, "c-1")]);
    assert(["SUBMITTED", "UNKNOWN"].includes((await status("c-1"))!));
  });
});
