/**
 * loadCancelCounts against the real local PostgreSQL: orders and their events written by the OrderStore as
 * the service writes them; a new PreTradeRules restored from the counts refuses at the same count as the
 * instance that counted the cancels live.
 */
import { assert, assertEquals, assertRejects } from "../../../tests/assert.ts";
import { insertRequest } from "../../../tests/helpers/orders.ts";
import { withTestDatabase } from "../../../tests/helpers/pg.ts";
import { parseConfig } from "../../config.ts";
import type { InsertRequest } from "../../orders/types.ts";
import { PreTradeRules, type RiskRulesConfig } from "../../orders/rules/mod.ts";
import { closeDatabase, connectDatabase, type Database } from "./connect.ts";
import { migrate } from "./migrate.ts";
import { type NewOrder, OrderStore } from "./order_store.ts";
import { loadCancelCounts } from "./cancel_counts.ts";

const RB = "SHFE.rb2605";
const AU = "SHFE.au2606";
const TODAY = "20251224";

function intent(
  id: string,
  options: { symbol?: string; day?: string; parent?: string; broker?: boolean; portfolio?: string } = {},
): NewOrder {
  const portfolio = options.portfolio ?? "demo";
  const request: InsertRequest = insertRequest(id, {
    portfolio_id: portfolio,
    symbol: options.symbol ?? RB,
    direction: "SELL",
    offset: "CLOSE",
  });
  const broker = options.broker ?? true;
  return {
    request,
    status: "SUBMITTED",
    source: options.parent ? "split" : "rest",
    broker_order_id: broker ? `TBC_${portfolio}_${id}` : null,
    request_hash: `h-${id}`,
    trading_day: options.day ?? TODAY,
    parent_id: options.parent ?? null,
    events: [{ status: "RECEIVED", msg: { event: "received", source: "rest" } }],
  };
}

let requests = 0;

/** The event the executor records for a cancel sent (or refused), as the tracker writes it. */
async function cancelEvent(store: OrderStore, portfolio: string, id: string, event: string): Promise<void> {
  const request_id = `req-${++requests}`;
  await store.applyUpdates([{
    portfolio_id: portfolio,
    id,
    status: "ACCEPTED",
    fields: {},
    event: event === "cancel_requested"
      ? { event, request_id }
      : { event, request_id, code: "CANCEL_RATE", field: "$", message: "x" },
  }]);
}

function risk(limit: number): RiskRulesConfig {
  return parseConfig(
    `risk: {cancel_limit_per_contract: ${limit}, cancel_warn_per_contract: ${limit}, cancel_rate_per_s: 1000, ` +
      `cancel_burst: 1000}`,
    "t",
    { env: {} },
  ).risk;
}

async function withSql(fn: (sql: Database) => Promise<void>): Promise<void> {
  await withTestDatabase(async (db) => {
    const sql = await connectDatabase(db, { max: 2 });
    try {
      await migrate(sql);
      await fn(sql);
    } finally {
      await closeDatabase(sql);
    }
  });
}

Deno.test("loadCancelCounts: cancels sent per trading day and contract; refused ones, split parents, other portfolios and old orders do not count", async () => {
  await withSql(async (sql) => {
    const store = new OrderStore(sql, { portfolioId: "demo" });
    const other = new OrderStore(sql, { portfolioId: "other" });
    await store.recordIntents([
      intent("a"),
      intent("b"),
      intent("c"),
      intent("g", { symbol: AU }),
      intent("y", { day: "20251223" }),
      intent("r"),
      intent("p", { broker: false }),
      intent("p~close", { parent: "p" }),
      intent("old"),
    ]);
    await other.recordIntents([intent("a", { portfolio: "other" })]);
    for (const id of ["a", "b", "c", "c", "g", "y", "p", "p~close", "old"]) {
      await cancelEvent(store, "demo", id, "cancel_requested");
    }
    await cancelEvent(store, "demo", "r", "cancel_refused");
    await cancelEvent(other, "other", "a", "cancel_requested");
    await sql`update order_history set created_at = now() - interval '10 days' where id = 'old'`;

    // rb today: a, b, c twice (each cancel sent counts), the split child (not its parent) = 5.
    assertEquals(await loadCancelCounts(sql, { portfolioId: "demo" }), {
      [TODAY]: { [RB]: 5, [AU]: 1 },
      "20251223": { [RB]: 1 },
    });
    assertEquals(await loadCancelCounts(sql, { portfolioId: "demo", tradingDay: TODAY }), {
      [TODAY]: { [RB]: 5, [AU]: 1 },
    });
    assertEquals(await loadCancelCounts(sql, { portfolioId: "other" }), { [TODAY]: { [RB]: 1 } });
    // A longer look back reaches the old order too.
    assertEquals(
      (await loadCancelCounts(sql, { portfolioId: "demo", tradingDay: TODAY, lookbackDays: 30 }))[TODAY][RB],
      6,
    );
    assertEquals(await loadCancelCounts(sql, { portfolioId: "nobody" }), {});
    assert((await assertRejects(() => loadCancelCounts(sql, { portfolioId: "" }))) instanceof TypeError);
    const badLookback = await assertRejects(() =>
      loadCancelCounts(sql, { portfolioId: "demo", lookbackDays: 0 })
    );
    assert(badLookback instanceof RangeError);
  });
});

Deno.test("loadCancelCounts: a new rules instance restored from PostgreSQL refuses at the same count as the live one", async () => {
  await withSql(async (sql) => {
    const store = new OrderStore(sql, { portfolioId: "demo" });
    const limit = 3;
    const live = new PreTradeRules(risk(limit));
    const ctx = (symbol: string) => ({ symbol, tradingDay: TODAY, nowMs: Date.now() });
    // The live instance sends cancels until its counter refuses; each one sent is recorded as the
    // executor records it.
    let sent = 0;
    await store.recordIntents([0, 1, 2, 3, 4].map((k) => intent(`o${k}`)));
    while (live.checkCancel(ctx(RB)).ok) {
      live.recordCancel(ctx(RB));
      await cancelEvent(store, "demo", `o${sent}`, "cancel_requested");
      sent++;
    }
    assertEquals(sent, limit);

    // "Restart": a fresh instance counts nothing until restored.
    const restarted = new PreTradeRules(risk(limit));
    assert(restarted.checkCancel(ctx(RB)).ok);
    restarted.restoreCancelCounts(await loadCancelCounts(sql, { portfolioId: "demo" }));
    const refused = restarted.checkCancel(ctx(RB));
    assert(!refused.ok);
    assertEquals(refused.refusal.code, "CANCEL_LIMIT");
    assertEquals(refused, live.checkCancel(ctx(RB)));
    // Another contract, and another trading day, still have their budget.
    assert(restarted.checkCancel(ctx(AU)).ok);
    assert(restarted.checkCancel({ ...ctx(RB), tradingDay: "20251225" }).ok);
    // Restoring again (a takeover) counts nothing twice.
    restarted.restoreCancelCounts(await loadCancelCounts(sql, { portfolioId: "demo" }));
    assertEquals(restarted.cancelCounter.count(RB, TODAY), limit);
  });
});
