/**
 * OrderStore against the real local PostgreSQL (127.0.0.1:5432, user postgres). Each test creates its own
 * database `tbc_test_<random>`, migrates it, and drops it at the end.
 */
import postgres from "postgres";
import { installProcessGuards } from "../../process_guards.ts";
import { externalOrderView, insertRequest } from "../../../tests/helpers/orders.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../../tests/assert.ts";
import type { BrokerOrderView, BrokerTradeView } from "../../broker/types.ts";
import { FillLedger } from "../../orders/order_state.ts";
import type { InsertRequest, OrderUpdate } from "../../orders/types.ts";
import { closeDatabase, connectDatabase, type Database, type ServerDatabaseConfig } from "./connect.ts";
import { migrate, quoteIdentifier } from "./migrate.ts";
import {
  INTENT_COLUMNS,
  intentStatement,
  knownUpdateStatement,
  type NewOrder,
  OrderStore,
  OrderStoreError,
  TRADE_COLUMNS_IN,
} from "./order_store.ts";

const SERVER: ServerDatabaseConfig = { host: "127.0.0.1", port: 5432, user: "postgres", dbname: "postgres" };

/** A fresh migrated database and an OrderStore for portfolio `demo`; dropped afterwards. */
async function withStore(fn: (store: OrderStore, sql: Database) => Promise<void>): Promise<void> {
  const name = `tbc_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres({ ...SERVER, database: "postgres", max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${quoteIdentifier(name)}`);
    try {
      const sql = await connectDatabase({ ...SERVER, dbname: name }, { max: 3 });
      try {
        await migrate(sql);
        await fn(new OrderStore(sql, { portfolioId: "demo" }), sql);
      } finally {
        await closeDatabase(sql);
      }
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

function request(id: string, overrides: Partial<InsertRequest> = {}): InsertRequest {
  return insertRequest(id, { volume: 2, limit_price: 3500.5, ...overrides });
}

function submitted(id: string, hash = `h-${id}`, overrides: Partial<InsertRequest> = {}): NewOrder {
  return {
    request: request(id, overrides),
    status: "SUBMITTED",
    source: "rest",
    broker_order_id: `TBC_${id}`,
    request_hash: hash,
    trading_day: "20251224",
    events: [
      { status: "RECEIVED", msg: { event: "received", source: "rest" } },
      { status: "SUBMITTED", msg: { event: "submitted", broker_order_id: `TBC_${id}` } },
    ],
  };
}

async function eventsOf(sql: Database, id: string) {
  const rows = await sql`
    select seq, status, msg from order_event where portfolio_id = 'demo' and id = ${id} order by event_id`;
  return rows.map((r) => [r.seq, r.status, JSON.parse(r.msg)]);
}

function update(
  id: string,
  status: OrderUpdate["status"],
  fields: OrderUpdate["fields"],
  event: object,
): OrderUpdate {
  return { portfolio_id: "demo", id, status, fields, event: event as Record<string, unknown> };
}

const ISO_US = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

Deno.test("recordIntents: created, then duplicate (nothing written), then conflict (event on the existing order)", async () => {
  await withStore(async (store, sql) => {
    const [created] = await store.recordIntents([submitted("o1", "hash-A")]);
    assertEquals(created.outcome, "created");
    const rec = created.record;
    assertEquals({ ...rec, created_at: "", updated_at: "" }, {
      portfolio_id: "demo",
      id: "o1",
      status: "SUBMITTED",
      symbol: "SHFE.rb2605",
      direction: "BUY",
      offset: "OPEN",
      volume: 2,
      limit_price: 3500.5,
      price_type: "LIMIT",
      time_condition: "GFD",
      volume_condition: "ANY",
      filled_quantity: 0,
      volume_left: 2,
      avg_fill_price: null,
      exchange_order_id: null,
      broker_order_id: "TBC_o1",
      last_msg: null,
      reject_reason: null,
      source: "rest",
      request_hash: "hash-A",
      parent_id: null,
      trading_day: "20251224",
      created_at: "",
      updated_at: "",
    });
    assertMatch(rec.created_at, ISO_US);
    assertEquals(rec.updated_at, rec.created_at);
    assertEquals(await eventsOf(sql, "o1"), [
      [1, "RECEIVED", { event: "received", source: "rest" }],
      [2, "SUBMITTED", { event: "submitted", broker_order_id: "TBC_o1" }],
    ]);

    const [dup] = await store.recordIntents([submitted("o1", "hash-A")]);
    assertEquals(dup, { outcome: "duplicate", record: rec });
    assertEquals((await eventsOf(sql, "o1")).length, 2);

    // Different content: refused; the existing row is untouched, the refusal is recorded.
    const [conflict] = await store.recordIntents([
      { ...submitted("o1", "hash-B", { volume: 5 }), source: "rabbitmq" },
    ]);
    assertEquals(conflict, { outcome: "conflict", record: rec });
    const got = await store.getOrder("o1");
    assertEquals(got?.record, rec);
    assertEquals(got?.events.map((e) => [e.seq, e.status, e.msg]), [
      [1, "RECEIVED", { event: "received", source: "rest" }],
      [2, "SUBMITTED", { event: "submitted", broker_order_id: "TBC_o1" }],
      [3, "SUBMITTED", { event: "conflicting_request", request_hash: "hash-B", source: "rabbitmq" }],
    ]);
    assertMatch(got!.events[0].created_at, ISO_US);
    const [n] = await sql`select count(*) as n from order_history`;
    assertEquals(n.n, 1);
  });
});

Deno.test("recordIntents: one batch mixing created, duplicate, conflict, a repeated id and a refused request", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("old1", "h1"), submitted("old2", "h2")]);
    const invalid: NewOrder = {
      request: { order_id: "bad1", portfolio_id: "demo", volume: null, symbol: "SHFE.rb2605" },
      status: "REJECTED",
      source: "rabbitmq",
      reject_reason: "volume: expected an integer >= 1",
      request_hash: "hb",
      events: [
        { status: "RECEIVED", msg: { event: "received", source: "rabbitmq" } },
        { status: "REJECTED", msg: { event: "rejected", reason: "volume: expected an integer >= 1" } },
      ],
    };
    const results = await store.recordIntents([
      submitted("new1", "n1"),
      submitted("old1", "h1"), // duplicate
      submitted("old2", "other"), // conflict
      invalid, // created, REJECTED with missing fields
      submitted("new1", "n1"), // same id again in the batch, same hash: duplicate of the first
      submitted("new1", "zz"), // same id, different hash: conflict with the row created above
      { ...submitted("new2", "n2"), status: "RECEIVED", events: [{ status: "RECEIVED", msg: null }] },
    ]);
    assertEquals(results.map((r) => [r.outcome, r.record.id, r.record.status]), [
      ["created", "new1", "SUBMITTED"],
      ["duplicate", "old1", "SUBMITTED"],
      ["conflict", "old2", "SUBMITTED"],
      ["created", "bad1", "REJECTED"],
      ["duplicate", "new1", "SUBMITTED"],
      ["conflict", "new1", "SUBMITTED"],
      ["created", "new2", "RECEIVED"],
    ]);
    // All created in one transaction: same timestamp.
    assertEquals(results[0].record.created_at, results[6].record.created_at);
    const bad = results[3].record;
    assertEquals(
      [bad.symbol, bad.direction, bad.volume, bad.volume_left, bad.reject_reason, bad.source],
      ["SHFE.rb2605", null, null, null, "volume: expected an integer >= 1", "rabbitmq"],
    );
    assertEquals(await eventsOf(sql, "new1"), [
      [1, "RECEIVED", { event: "received", source: "rest" }],
      [2, "SUBMITTED", { event: "submitted", broker_order_id: "TBC_new1" }],
      [3, "SUBMITTED", { event: "conflicting_request", request_hash: "zz", source: "rest" }],
    ]);
    assertEquals((await eventsOf(sql, "old1")).length, 2);
    assertEquals((await eventsOf(sql, "old2")).map((e) => e[0]), [1, 2, 3]);
    assertEquals(await eventsOf(sql, "bad1"), [
      [1, "RECEIVED", { event: "received", source: "rabbitmq" }],
      [2, "REJECTED", { event: "rejected", reason: "volume: expected an integer >= 1" }],
    ]);
    const [n] = await sql`select count(*) as n from order_history`;
    assertEquals(n.n, 5);
  });
});

Deno.test("recordIntents: invalid intents are refused before anything is written", async () => {
  await withStore(async (store, sql) => {
    const incomplete = { ...submitted("x1"), request: { order_id: "x1", symbol: "SHFE.rb2605" } };
    const e1 = await assertRejects(() => store.recordIntents([submitted("ok"), incomplete]));
    assert(e1 instanceof OrderStoreError);
    assertEquals(e1.orderId, "x1");
    assertMatch(e1.message, /order x1 \(SUBMITTED\) lacks direction, offset, volume/);
    const e2 = await assertRejects(() =>
      store.recordIntents([submitted("y1", "h", { portfolio_id: "other" })])
    );
    assertMatch(e2.message, /portfolio other/);
    // A CHECK violation in the database (volume 0) rolls back the whole batch and names the order.
    const e3 = await assertRejects(() =>
      store.recordIntents([submitted("ok"), submitted("z1", "h", { volume: 0 })])
    );
    assert(e3 instanceof OrderStoreError);
    assertEquals(e3.orderId, "z1");
    assertMatch(e3.message, /order z1/);
    assertEquals(e3.pg?.code, "23514");
    const [n] = await sql`select count(*) as n from order_history`;
    assertEquals(n.n, 0);
    const [m] = await sql`select count(*) as n from order_event`;
    assertEquals(m.n, 0);
  });
});

Deno.test("recordIntents: a refused request with values the columns cannot hold is still recorded", async () => {
  await withStore(async (store, sql) => {
    const refused: NewOrder = {
      request: {
        order_id: "weird",
        portfolio_id: "elsewhere", // refused for that reason: allowed on a REJECTED intent
        symbol: "SHFE.rb2605",
        direction: "buy" as never,
        offset: "OPEN",
        volume: 0,
        limit_price: Number.NaN,
        price_type: "LIMIT",
        time_condition: "FOREVER",
      },
      status: "REJECTED",
      source: "rabbitmq",
      reject_reason: "direction: expected BUY or SELL; volume: expected an integer >= 1",
      trading_day: "2025-12-24",
      events: [{ status: "REJECTED", msg: { event: "rejected" } }],
    };
    const [r] = await store.recordIntents([refused]);
    assertEquals(r.outcome, "created");
    const x = r.record;
    assertEquals(
      [
        x.symbol,
        x.direction,
        x.offset,
        x.volume,
        x.limit_price,
        x.price_type,
        x.time_condition,
        x.trading_day,
      ],
      ["SHFE.rb2605", null, "OPEN", null, null, "LIMIT", null, null],
    );
    assertEquals((await eventsOf(sql, "weird")).map((e) => e[1]), ["REJECTED"]);
    // the record returned is the row as read back, to the last column
    assertEquals(x, (await store.getOrder("weird"))!.record);
  });
});

Deno.test("recordIntents: the records returned are the rows as read back (prices, nulls, -0, defaults)", async () => {
  await withStore(async (store) => {
    const intents = [
      submitted("p1", "h1", { limit_price: 0.1 + 0.2 }),
      submitted("p2", "h2", { limit_price: 1e21 }),
      submitted("p3", "h3", { price_type: "ANY", limit_price: undefined }),
      {
        ...submitted("p4", "h4", { limit_price: -0 }),
        status: "REJECTED" as const,
        broker_order_id: null,
        reject_reason: "PRICE: not above 0",
        events: [{
          status: "REJECTED" as const,
          msg: { event: "refused", note: 'a "quoted" \\ \u2028 text' },
        }],
      },
    ];
    const results = await store.recordIntents(intents);
    for (const r of results) {
      assertEquals(r.outcome, "created");
      const back = (await store.getOrder(r.record.id))!;
      assertEquals(r.record, back.record, r.record.id);
      assert(back.events.length >= 1);
    }
  });
});

Deno.test("recordIntents: a CLOSE split (parent and children) in one batch", async () => {
  await withStore(async (store) => {
    const parent = {
      ...submitted("c1", "hc", { offset: "CLOSE", direction: "SELL", volume: 3 }),
      status: "RECEIVED" as const,
    };
    const child = (suffix: string, offset: "CLOSE" | "CLOSETODAY", volume: number): NewOrder => ({
      ...submitted(`c1_${suffix}`, `hc_${suffix}`, { offset, direction: "SELL", volume }),
      source: "split",
      parent_id: "c1",
    });
    // Children listed before the parent: the foreign key is checked at the end of the statement.
    const results = await store.recordIntents([
      child("closetoday", "CLOSETODAY", 2),
      child("close", "CLOSE", 1),
      parent,
    ]);
    assertEquals(
      results.map((r) => [r.outcome, r.record.id, r.record.parent_id, r.record.offset, r.record.volume]),
      [
        ["created", "c1_closetoday", "c1", "CLOSETODAY", 2],
        ["created", "c1_close", "c1", "CLOSE", 1],
        ["created", "c1", null, "CLOSE", 3],
      ],
    );
    const orphan = await assertRejects(() =>
      store.recordIntents([{ ...child("x", "CLOSE", 1), parent_id: "none" }])
    );
    assertMatch(orphan.message, /order_history_parent_fk/);
  });
});

Deno.test("applyUpdates: fields, next seq per order, monotonic events, several updates of one order in a batch", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]);
    const first = await store.applyUpdates([
      update("a", "ACCEPTED", { exchange_order_id: "TBC_a", last_msg: "报单成功" }, {
        event: "accepted",
        exchange_order_id: "TBC_a",
      }),
    ]);
    assertEquals(first.length, 1);
    assertEquals(first[0].record.status, "ACCEPTED");
    assertEquals(first[0].record.exchange_order_id, "TBC_a");
    assertEquals(first[0].record.last_msg, "报单成功");
    assertEquals(first[0].record.volume_left, 2); // untouched
    assertEquals(first[0].event?.seq, 3);
    assertEquals(first[0].event?.msg, { event: "accepted", exchange_order_id: "TBC_a" });
    assert(first[0].record.updated_at > first[0].record.created_at);

    const batch = await store.applyUpdates([
      update("a", "PARTIALLY_FILLED", { filled_quantity: 1, avg_fill_price: 3500.33333333, volume_left: 1 }, {
        event: "fill",
        trade_id: "t1",
      }),
      update("b", "REJECTED", { last_msg: "开仓资金不足", reject_reason: "BROKER_REJECTED: 开仓资金不足" }, {
        event: "rejected",
      }),
      update("a", "FILLED", { filled_quantity: 2, avg_fill_price: 3500.25, volume_left: 0 }, {
        event: "fill",
        trade_id: "t2",
      }),
    ]);
    assertEquals(batch.map((r) => [r.record.id, r.record.status, r.event?.seq]), [
      ["a", "PARTIALLY_FILLED", 4],
      ["b", "REJECTED", 3],
      ["a", "FILLED", 5],
    ]);
    assertEquals(batch[0].record.avg_fill_price, 3500.33333333);
    assertEquals(batch[2].record.avg_fill_price, 3500.25);
    assertEquals(batch[2].record.filled_quantity, 2);
    const a = await store.getOrder("a");
    assertEquals(a?.events.map((e) => [e.seq, e.status]), [
      [1, "RECEIVED"],
      [2, "SUBMITTED"],
      [3, "ACCEPTED"],
      [4, "PARTIALLY_FILLED"],
      [5, "FILLED"],
    ]);
    // event_id order agrees with seq order.
    const ids = await sql`select seq from order_event where id = 'a' order by event_id`;
    assertEquals(ids.map((r) => r.seq), [1, 2, 3, 4, 5]);
    const [raw] = await sql`select avg_fill_price from order_history where id = 'a'`;
    assertEquals(raw.avg_fill_price, "3500.25");
    const b = await store.getOrder("b");
    assertEquals(b?.record.reject_reason, "BROKER_REJECTED: 开仓资金不足");
  });
});

Deno.test("applyUpdates: a replayed batch (commit ack lost, retried) writes nothing twice", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]);
    const batch = [
      update("a", "ACCEPTED", { exchange_order_id: "X1" }, { event: "accepted", exchange_order_id: "X1" }),
      update("b", "ACCEPTED", { exchange_order_id: "X2" }, { event: "accepted", exchange_order_id: "X2" }),
      update("a", "PARTIALLY_FILLED", { filled_quantity: 1 }, { event: "fill", trade_id: "t1" }),
    ];
    const first = await store.applyUpdates(batch);
    assertEquals(first.map((r) => r.event?.seq), [3, 3, 4]);
    // The same batch again: all recognised, nothing written.
    const again = await store.applyUpdates(batch);
    assertEquals(again.map((r) => r.event), [null, null, null]);
    assertEquals(again.map((r) => [r.record.id, r.record.status]), [
      ["a", "PARTIALLY_FILLED"],
      ["b", "ACCEPTED"],
      ["a", "PARTIALLY_FILLED"],
    ]);
    // The batch again with newer updates behind it: the replayed prefix is skipped, the rest written.
    const more = [
      ...batch,
      update("a", "FILLED", { filled_quantity: 2, volume_left: 0 }, { event: "fill", trade_id: "t2" }),
      update("b", "CANCELED", { last_msg: "已撤单" }, { event: "canceled" }),
    ];
    const third = await store.applyUpdates(more);
    assertEquals(third.map((r) => r.event?.seq ?? null), [null, null, null, 5, 4]);
    assertEquals((await eventsOf(sql, "a")).map((e) => [e[0], e[1]]), [
      [1, "RECEIVED"],
      [2, "SUBMITTED"],
      [3, "ACCEPTED"],
      [4, "PARTIALLY_FILLED"],
      [5, "FILLED"],
    ]);
    assertEquals((await eventsOf(sql, "b")).map((e) => e[1]), [
      "RECEIVED",
      "SUBMITTED",
      "ACCEPTED",
      "CANCELED",
    ]);
    // A different update with the same status is not mistaken for a replay.
    const late = await store.applyUpdates([
      update("b", "CANCELED", { filled_quantity: 1 }, { event: "fill", trade_id: "t9" }),
    ]);
    assertEquals(late[0].event?.seq, 5);
    assertEquals(late[0].record.filled_quantity, 1);
  });
});

Deno.test("applyUpdates: a failing update rolls back the whole batch and the error names the order", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]);
    const before = await store.getOrder("a");
    const err = await assertRejects(() =>
      store.applyUpdates([
        update("a", "ACCEPTED", { exchange_order_id: "X" }, { event: "accepted" }),
        // filled_quantity 3 > volume 2: order_history_filled_within_volume.
        update("b", "FILLED", { filled_quantity: 3 }, { event: "fill" }),
      ])
    );
    assert(err instanceof OrderStoreError);
    assertEquals(err.orderId, "b");
    assertMatch(err.message, /order b → FILLED/);
    assertMatch(err.message, /order_history_filled_within_volume/);
    assertEquals(err.pg?.code, "23514");
    assertEquals(await store.getOrder("a"), before);
    const [n] = await sql`select count(*) as n from order_event`;
    assertEquals(n.n, 4);

    // a value the column cannot hold (a data error, not a constraint): the full path's error, which names
    // the orders of the failing statement
    const data = await assertRejects(() =>
      store.applyUpdates([
        update("a", "ACCEPTED", {}, { event: "accepted" }),
        update("b", "FILLED", { filled_quantity: 2 ** 40 }, { event: "fill" }),
      ])
    );
    assert(data instanceof OrderStoreError);
    assertEquals(data.pg?.code, "22003");
    assertMatch(data.message, /updating orders a, b/);
    assertEquals(await store.getOrder("a"), before);

    const unknown = await assertRejects(() =>
      store.applyUpdates([
        update("a", "ACCEPTED", {}, { event: "accepted" }),
        update("nope", "FILLED", {}, {}),
      ])
    );
    assert(unknown instanceof OrderStoreError);
    assertEquals(unknown.orderId, "nope");
    assertMatch(unknown.message, /order nope does not exist/);
    const other = await assertRejects(() =>
      store.applyUpdates([{ ...update("a", "ACCEPTED", {}, {}), portfolio_id: "x" }])
    );
    assertMatch(other.message, /belongs to portfolio x/);
    assertEquals((await store.getOrder("a"))?.record.status, "SUBMITTED");
  });
});

Deno.test("applyUpdates: a failed batch leaves no trade and no open transaction, and the pool keeps working", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]);
    const inTransaction = async () => {
      const [r] = await sql`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%'`;
      return r.n as number;
    };
    // fails in the second step (COMMIT already sent, answered ROLLBACK), then in the first (no such order)
    for (
      const bad of [
        update("b", "FILLED", { filled_quantity: 3 }, { event: "fill" }),
        update("nope", "FILLED", {}, {}),
      ]
    ) {
      for (let k = 0; k < 4; k++) { // more than the pool's 3 connections: each one is returned clean
        await assertRejects(() =>
          store.applyUpdates([update("a", "ACCEPTED", {}, { event: "accepted" }), bad], {
            trades: [{ trade: trade(`T${k}`), order_id: "a" }],
          })
        );
      }
    }
    assertEquals(await inTransaction(), 0);
    const [t] = await sql`select count(*)::int as n from trade`;
    assertEquals(t.n, 0);
    assertEquals((await store.getOrder("a"))?.record.status, "SUBMITTED");
    // the same connections then commit a good batch, trades with it
    const applied = await store.applyUpdates([update("a", "ACCEPTED", {}, { event: "accepted" })], {
      trades: [{ trade: trade("T9"), order_id: "a" }],
    });
    assertEquals(applied.map((a) => [a.record.status, a.event?.seq]), [["ACCEPTED", 3]]);
    assertEquals((await store.tradesOf("a")).map((x) => x.trade_id), ["T9"]);
    assertEquals(await inTransaction(), 0);
  });
});

Deno.test("applyUpdates: the one-statement path returns the rows and events as read back, fills committed with them", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]);
    // no transaction is opened for it (the full path's is counted)
    let transactions = 0;
    const begin = sql.begin.bind(sql);
    (sql as { begin: unknown }).begin = (...args: Parameters<typeof begin>) => {
      transactions++;
      return begin(...args);
    };
    const applied = await store.applyUpdates([
      update("a", "FILLED", { filled_quantity: 2, volume_left: 0, avg_fill_price: 3500.5 }, {
        event: "fill",
        trade_id: "T1",
      }),
      update("b", "ACCEPTED", { exchange_order_id: "X-b", last_msg: "未成交" }, { event: "accepted" }),
    ], { trades: [{ trade: trade("T1", { volume: 2 }), order_id: "a" }] });
    assertEquals(transactions, 0);
    for (const [k, id] of ["a", "b"].entries()) {
      const stored = await store.getOrder(id);
      assertEquals(applied[k].record, stored?.record);
      assertEquals(applied[k].event, stored?.events.at(-1));
      assertEquals(applied[k].event?.seq, 3);
    }
    assertEquals((await store.tradesOf("a")).map((t) => [t.trade_id, t.volume]), [["T1", 2]]);
    // two updates of one order in a batch take the full path
    await store.applyUpdates([
      update("b", "ACCEPTED", { last_msg: "1" }, { event: "m1" }),
      update("b", "ACCEPTED", { last_msg: "2" }, { event: "m2" }),
    ]);
    assertEquals(transactions, 1);
    assertEquals((await store.getOrder("b"))?.events.map((e) => e.seq), [1, 2, 3, 4, 5]);
  });
});

Deno.test("applyUpdates: an event appended by another writer is not overwritten or skipped: the next seq follows it", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a")]);
    await store.applyUpdates([update("a", "ACCEPTED", {}, { event: "accepted" })]); // seq 3, now known
    // another session appends seq 4 (a previous lease holder's late write, say)
    await sql`insert into order_event (portfolio_id, id, seq, status, msg)
      values ('demo', 'a', 4, 'ACCEPTED', '{"event":"elsewhere"}')`;
    const applied = await store.applyUpdates([update("a", "CANCELED", {}, { event: "canceled" })]);
    assertEquals(applied.map((x) => [x.record.status, x.event?.seq]), [["CANCELED", 5]]);
    const seqs = await sql`select seq, status from order_event where id = 'a' order by seq`;
    assertEquals(seqs.map((r) => [r.seq, r.status]), [
      [1, "RECEIVED"],
      [2, "SUBMITTED"],
      [3, "ACCEPTED"],
      [4, "ACCEPTED"],
      [5, "CANCELED"],
    ]);
    // and a conflicting request (an event on an existing order) is followed the same way
    await store.recordIntents([submitted("a", "other-hash")]);
    const next = await store.applyUpdates([update("a", "CANCELED", { last_msg: "x" }, { event: "late" })]);
    assertEquals(next[0].event?.seq, 7);
  });
});

Deno.test("applyUpdates: the one-statement path locks orders in id order, as the full path does (no deadlock)", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b")]); // both known: the next batch is one statement
    const other = postgres({ ...SERVER, database: sql.options.database, max: 1, onnotice: () => {} });
    try {
      const holder = await other.reserve();
      try {
        await holder`set deadlock_timeout = '100ms'`;
        await holder`begin`;
        await holder`select 1 from order_history where id = 'a' for update`;
        // listed b before a: taking b first while the holder, which has a, waits for b would deadlock
        const batch = store.applyUpdates([
          update("b", "ACCEPTED", {}, { event: "accepted-b" }),
          update("a", "ACCEPTED", {}, { event: "accepted-a" }),
        ]).then((r) => r.map((x) => x.record.id), (e) => `batch failed: ${e.message}`);
        await new Promise((r) => setTimeout(r, 200));
        const second = await holder`select 1 from order_history where id = 'b' for update`
          .then(() => "ok", (e) => `holder failed: ${e.message}`);
        await holder`rollback`;
        assertEquals([await batch, second], [["b", "a"], "ok"]);
      } finally {
        holder.release();
      }
    } finally {
      await other.end();
    }
  });
});

/**
 * Hold order `id`'s row in another session, start `batch`, end the batch's session from outside while it
 * waits on that lock, then let the row go. The holder and the watcher use a client of their own: a
 * connection reserved from the store's pool would meet postgres.js's reserved-connection faults
 * (porsager/postgres#1208), which the store never uses. postgres.js may write the ended session's ROLLBACK
 * on its closed socket, a known stray error that the service's process guard keeps from ending the process
 * (lib/process_guards.ts): installed here as in the service.
 */
async function killWhileWaiting<T>(
  sql: Database,
  id: string,
  batch: () => Promise<T>,
): Promise<PromiseSettledResult<T>> {
  const removeGuards = installProcessGuards();
  const other = postgres({ ...SERVER, database: sql.options.database, max: 2, onnotice: () => {} });
  try {
    const blocker = await other.reserve();
    try {
      await blocker`begin`;
      await blocker`select 1 from order_history where id = ${id} for update`;
      const running = batch();
      running.catch(() => {});
      let pid: number | null = null;
      for (let i = 0; i < 500 && pid === null; i++) {
        const [r] = await other`
          select pid from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
        pid = (r?.pid as number | undefined) ?? null;
        if (pid === null) await new Promise((res) => setTimeout(res, 10));
      }
      assert(pid !== null, "the batch never waited on the lock");
      await other`select pg_terminate_backend(${pid})`;
      await new Promise((res) => setTimeout(res, 50));
      await blocker`rollback`;
      const [outcome] = await Promise.allSettled([running]);
      return outcome;
    } finally {
      blocker.release();
    }
  } finally {
    await other.end();
    await new Promise((res) => setTimeout(res, 50)); // let a stray write fire while the guard is installed
    removeGuards();
  }
}

Deno.test("applyUpdates: a batch whose connection is killed mid-transaction writes nothing, or once, never twice", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a"), submitted("b"), submitted("c")]);
    const events = async (id: string) =>
      (await sql`select seq, status from order_event where id = ${id} order by seq`).map((
        r,
      ) => [r.seq, r.status]);

    // The one-statement path (each order once, its newest event known) is cut. The session ended, not a
    // refusal: the store forgets every event it knew (the server that comes back might have lost commits)
    // and throws; the outbox sends the batch again, on the full path, and the event is there exactly once.
    let transactions = 0;
    const begin = sql.begin.bind(sql);
    (sql as { begin: unknown }).begin = (...args: Parameters<typeof begin>) => {
      transactions++;
      return begin(...args);
    };
    const accepted = update("a", "ACCEPTED", { exchange_order_id: "X" }, { event: "accepted" });
    const first = await killWhileWaiting(sql, "a", () => store.applyUpdates([accepted]));
    assertEquals(first.status, "rejected");
    assert((first as PromiseRejectedResult).reason instanceof OrderStoreError);
    assertEquals(transactions, 0, "no second attempt on a lost connection");
    await store.applyUpdates([accepted]);
    assertEquals(transactions, 1, "the retry reads the events");
    const again = await store.applyUpdates([accepted]); // a replay: skipped
    assertEquals(again.map((x) => [x.record.status, x.event]), [["ACCEPTED", null]]);
    assertEquals(await events("a"), [[1, "RECEIVED"], [2, "SUBMITTED"], [3, "ACCEPTED"]]);
    // c was known too, and is forgotten with the rest: its next update reads its events
    await store.applyUpdates([update("c", "ACCEPTED", {}, { event: "accepted" })]);
    assertEquals(transactions, 3);

    // Both paths cut (the full path: two updates of one order): nothing is written, the error is the store's.
    const cut = await killWhileWaiting(sql, "b", () =>
      store.applyUpdates([
        update("b", "ACCEPTED", { exchange_order_id: "Y" }, { event: "accepted" }),
        update("b", "ACCEPTED", { last_msg: "m" }, { event: "update" }),
      ]));
    assertEquals(cut.status, "rejected");
    assert(
      (cut as PromiseRejectedResult).reason instanceof OrderStoreError,
      String((cut as PromiseRejectedResult).reason),
    );
    assertEquals((await store.getOrder("b"))?.record.status, "SUBMITTED");
    assertEquals(await events("b"), [[1, "RECEIVED"], [2, "SUBMITTED"]]);

    // the pool recovered: both orders take their next batch
    const applied = await store.applyUpdates([
      update("a", "FILLED", { filled_quantity: 2, volume_left: 0 }, { event: "fill" }),
      update("b", "ACCEPTED", { exchange_order_id: "Y" }, { event: "accepted" }),
    ]);
    assertEquals(applied.map((x) => [x.record.id, x.record.status, x.event?.seq]), [["a", "FILLED", 4], [
      "b",
      "ACCEPTED",
      3,
    ]]);
  });
});

Deno.test("applyUpdates: concurrent batches on one order get distinct consecutive seqs", async () => {
  await withStore(async (store, sql) => {
    await store.recordIntents([submitted("a")]);
    await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          store.applyUpdates([update("a", "ACCEPTED", { last_msg: `m${i}` }, { event: "update", i })]),
      ),
    );
    const seqs = await sql`select seq from order_event where id = 'a' order by seq`;
    assertEquals(seqs.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

function trade(id: string, overrides: Partial<BrokerTradeView> = {}): BrokerTradeView {
  return {
    trade_id: id,
    broker_order_id: "TBC_a",
    exchange_trade_id: id,
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    price: 3500,
    volume: 1,
    commission: 1.23,
    trade_time_ms: Date.UTC(2025, 11, 24, 2, 0, 0, 500),
    ...overrides,
  };
}

Deno.test("recordTrades: dedup by trade id (in a batch and across calls); tradesOf; fillsOf rebuilds a ledger", async () => {
  await withStore(async (store) => {
    await store.recordIntents([submitted("a")]);
    const first = await store.recordTrades([
      { trade: trade("TBC_a|1"), order_id: "a" },
      { trade: trade("TBC_a|1"), order_id: "a" },
      {
        trade: trade("TBC_a|2", { price: 3501.5, trade_time_ms: Date.UTC(2025, 11, 24, 2, 0, 1) }),
        order_id: "a",
      },
    ]);
    assertEquals(first, ["TBC_a|1", "TBC_a|2"]);
    const second = await store.recordTrades([
      { trade: trade("TBC_a|2"), order_id: "a" },
      { trade: trade("EXT|1", { broker_order_id: "SERVER.1" }), order_id: null },
    ]);
    assertEquals(second, ["EXT|1"]);
    const trades = await store.tradesOf("a");
    assertEquals(trades.map((t) => [t.trade_id, t.price, t.volume, t.commission, t.trade_date_time]), [
      ["TBC_a|1", 3500, 1, 1.23, "2025-12-24T02:00:00.500000Z"],
      ["TBC_a|2", 3501.5, 1, 1.23, "2025-12-24T02:00:01.000000Z"],
    ]);
    const fills = await store.fillsOf("TBC_a");
    assertEquals(fills, [
      { trade_id: "TBC_a|1", price: 3500, volume: 1 },
      { trade_id: "TBC_a|2", price: 3501.5, volume: 1 },
    ]);
    const ledger = FillLedger.from(fills);
    assertEquals([ledger.filled, ledger.avgPrice], [2, 3500.75]);
    assertEquals(await store.fillsOf("SERVER.1"), [{ trade_id: "EXT|1", price: 3500, volume: 1 }]);
    assertEquals(await store.recordTrades([]), []);
  });
});

function externalView(overrides: Partial<BrokerOrderView> = {}): BrokerOrderView {
  return externalOrderView({ exchange_order_id: "   8812", insert_time_ms: 1766541600000, ...overrides });
}

Deno.test("recordExternalOrder: source external, id = broker order id, one event, idempotent", async () => {
  await withStore(async (store) => {
    const first = await store.recordExternalOrder(externalView(), { trading_day: "20251224" });
    assertEquals(first.created, true);
    const r = first.record;
    assertEquals(
      [
        r.id,
        r.broker_order_id,
        r.source,
        r.status,
        r.exchange_order_id,
        r.volume,
        r.volume_left,
        r.limit_price,
      ],
      ["SERVER.123.abc.1", "SERVER.123.abc.1", "external", "ACCEPTED", "8812", 4, 4, 2890],
    );
    assertEquals(r.trading_day, "20251224");
    const again = await store.recordExternalOrder(externalView({ volume_left: 0, status: "FINISHED" }));
    assertEquals(again, { created: false, record: r });
    const got = await store.getOrder("SERVER.123.abc.1");
    assertEquals(got?.events.map((e) => [e.seq, e.status, e.msg]), [[1, "ACCEPTED", {
      event: "external",
      broker_order_id: "SERVER.123.abc.1",
      exchange_order_id: "8812",
      broker_status: "ALIVE",
      volume_left: 4,
      filled_quantity: 0,
      last_msg: "未成交",
    }]]);
    // With fills: a partly filled then canceled external order.
    const ledger = FillLedger.from([{ trade_id: "e1", price: 2891, volume: 1 }]);
    const canceled = await store.recordExternalOrder(
      externalView({
        broker_order_id: "SERVER.124.abc.1",
        status: "FINISHED",
        volume_left: 3,
        last_msg: "已撤单",
      }),
      { fills: ledger },
    );
    assertEquals(
      [canceled.record.status, canceled.record.filled_quantity, canceled.record.avg_fill_price],
      ["CANCELED", 1, 2891],
    );
    // An id that is one of our orders' broker ids is never recorded as external.
    await store.recordIntents([submitted("mine")]);
    const ours = await store.recordExternalOrder(externalView({ broker_order_id: "TBC_mine" }));
    assertEquals([ours.created, ours.record.id, ours.record.source], [false, "mine", "rest"]);
    assertEquals((await store.getOrderByBrokerId("TBC_mine"))?.id, "mine");
  });
});

Deno.test("listOrders: newest first, status and symbol filters, limit, exact paging; openOrders", async () => {
  await withStore(async (store) => {
    await store.recordIntents([submitted("o1")]);
    await store.recordIntents([submitted("o2", "h", { symbol: "DCE.m2605" })]);
    // One transaction: o3, o4 and o5 share created_at.
    await store.recordIntents([
      submitted("o3"),
      submitted("o4"),
      submitted("o5", "h", { symbol: "DCE.m2605" }),
    ]);
    await store.applyUpdates([
      update("o1", "FILLED", { filled_quantity: 2, volume_left: 0 }, { event: "fill" }),
      update("o4", "CANCELED", {}, { event: "canceled" }),
      update("o5", "UNKNOWN", {}, { event: "unknown" }),
    ]);
    const all = await store.listOrders();
    assertEquals(all.map((o) => o.id), ["o5", "o4", "o3", "o2", "o1"]);
    assertEquals((await store.listOrders({ status: "SUBMITTED" })).map((o) => o.id), ["o3", "o2"]);
    assertEquals((await store.listOrders({ symbol: "DCE.m2605" })).map((o) => o.id), ["o5", "o2"]);
    assertEquals((await store.listOrders({ symbol: "DCE.m2605", status: "UNKNOWN" })).map((o) => o.id), [
      "o5",
    ]);
    assertEquals((await store.listOrders({ symbol: "CZCE.SR605" })).length, 0);

    // Paging by (created_at, id): 2 per page, no gaps, no repeats, despite equal timestamps.
    const pages: string[][] = [];
    let cursor: { before?: string; beforeId?: string } = {};
    for (let i = 0; i < 4; i++) {
      const page = await store.listOrders({ limit: 2, ...cursor });
      if (page.length === 0) break;
      pages.push(page.map((o) => o.id));
      const last = page[page.length - 1];
      cursor = { before: last.created_at, beforeId: last.id };
    }
    assertEquals(pages, [["o5", "o4"], ["o3", "o2"], ["o1"]]);
    // `before` alone: strictly older.
    const o3 = all[2];
    assertEquals((await store.listOrders({ before: o3.created_at })).map((o) => o.id), ["o2", "o1"]);
    // Limit clamped to 1..1000.
    assertEquals((await store.listOrders({ limit: 0 })).length, 1);
    assertEquals((await store.listOrders({ limit: 5000 })).length, 5);

    assertEquals((await store.openOrders()).map((o) => [o.id, o.status]), [
      ["o2", "SUBMITTED"],
      ["o3", "SUBMITTED"],
      ["o5", "UNKNOWN"],
    ]);
    assertEquals(await store.getOrder("missing"), null);
  });
});

Deno.test("portfolios are isolated", async () => {
  await withStore(async (store, sql) => {
    const other = new OrderStore(sql, { portfolioId: "other" });
    await store.recordIntents([submitted("same")]);
    const [r] = await other.recordIntents([{
      ...submitted("same"),
      request: request("same", { portfolio_id: "other" }),
      broker_order_id: "TBC_other_same",
    }]);
    assertEquals(r.outcome, "created");
    assertEquals((await other.listOrders()).map((o) => [o.portfolio_id, o.id]), [["other", "same"]]);
    assertEquals((await store.getOrder("same"))?.record.portfolio_id, "demo");
  });
});

/** The distinct `$n` placeholders of a statement, ascending. */
function placeholders(text: string): number[] {
  return [...new Set([...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

Deno.test("the fixed statements number their parameters 1…n without gaps, as the store fills them", () => {
  for (const n of [1, 2, 7]) {
    const expected = Array.from({ length: n * INTENT_COLUMNS.length + 5 }, (_, i) => i + 1);
    assertEquals(placeholders(intentStatement(n)), expected);
    assertEquals(intentStatement(n), intentStatement(n)); // built once, the same text every time
  }
  for (const m of [0, 1, 3]) {
    const expected = Array.from({ length: 6 + m * TRADE_COLUMNS_IN.length }, (_, i) => i + 1);
    assertEquals(placeholders(knownUpdateStatement(m)), expected);
  }
  assert(!knownUpdateStatement(0).includes("insert into trade"));
});
