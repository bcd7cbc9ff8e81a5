import { assertEquals } from "../../tests/assert.ts";
import { order, position } from "../../tests/helpers/fake_broker.ts";
import { insertRequest } from "../../tests/helpers/orders.ts";
import { aggregateSplit, childOrderId, normalizeOffset, planCloseSplit } from "./close_split.ts";
import type { InsertRequest, OrderRecord } from "./types.ts";

function close(volume: number, extra: Partial<InsertRequest> = {}): InsertRequest {
  return insertRequest("c1", { direction: "SELL", offset: "CLOSE", volume, ...extra });
}

const children = (plan: ReturnType<typeof planCloseSplit>) =>
  plan.kind === "split" ? plan.children.map((c) => [c.suffix, c.offset, c.volume]) : plan;

Deno.test("planCloseSplit: today first, then yesterday, net of frozen lots; zero-volume children omitted", () => {
  const p = position("SHFE.rb2605", { long_today: 2, long_his: 3 }, { long_frozen_today: 1 });
  assertEquals(children(planCloseSplit(close(2), { position: p, unseen: [] })), [
    ["closetoday", "CLOSETODAY", 1],
    ["close", "CLOSE", 1],
  ]);
  // Exactly the closable total (1 + 3) passes; one more is refused.
  assertEquals(children(planCloseSplit(close(4), { position: p, unseen: [] })), [
    ["closetoday", "CLOSETODAY", 1],
    ["close", "CLOSE", 3],
  ]);
  const refused = planCloseSplit(close(5), { position: p, unseen: [] });
  assertEquals(refused.kind, "refuse");
  if (refused.kind === "refuse") {
    assertEquals([refused.refusal.code, refused.refusal.field], ["INSUFFICIENT_POSITION", "volume"]);
    assertEquals(
      refused.refusal.message,
      "SELL CLOSE 5 SHFE.rb2605: only 4 long lot(s) closable (today 2 − frozen 1, yesterday 3 − frozen 0)",
    );
  }
  // Only today's lots needed: one child.
  assertEquals(children(planCloseSplit(close(1), { position: p, unseen: [] })), [[
    "closetoday",
    "CLOSETODAY",
    1,
  ]]);
  // No today's lots free: only CLOSE.
  const hisOnly = position("SHFE.rb2605", { long_today: 1, long_his: 2 }, { long_frozen_today: 1 });
  assertEquals(children(planCloseSplit(close(2), { position: hisOnly, unseen: [] })), [[
    "close",
    "CLOSE",
    2,
  ]]);
});

Deno.test("planCloseSplit: BUY closes the short side; unseen pending closes count as frozen", () => {
  const p = position("INE.sc2606", { short_today: 2, short_his: 2, long_today: 9 });
  const buy = close(3, { symbol: "INE.sc2606", direction: "BUY" });
  assertEquals(children(planCloseSplit(buy, { position: p, unseen: [] })), [
    ["closetoday", "CLOSETODAY", 2],
    ["close", "CLOSE", 1],
  ]);
  const unseen = [
    order("x1", { symbol: "INE.sc2606", direction: "BUY", offset: "CLOSETODAY", volume_left: 1 }),
    order("x2", { symbol: "INE.sc2606", direction: "BUY", offset: "CLOSE", volume_left: 1 }),
    // not counted: other direction, other symbol, finished
    order("x3", { symbol: "INE.sc2606", direction: "SELL", offset: "CLOSETODAY", volume_left: 5 }),
    order("x4", { symbol: "SHFE.rb2605", direction: "BUY", offset: "CLOSE", volume_left: 5 }),
    order("x5", {
      symbol: "INE.sc2606",
      direction: "BUY",
      offset: "CLOSE",
      volume_left: 1,
      status: "FINISHED",
    }),
  ];
  assertEquals(
    children(planCloseSplit(close(2, { symbol: "INE.sc2606", direction: "BUY" }), { position: p, unseen })),
    [
      ["closetoday", "CLOSETODAY", 1],
      ["close", "CLOSE", 1],
    ],
  );
  assertEquals(planCloseSplit(buy, { position: p, unseen }).kind, "refuse");
  // Flat: refused.
  assertEquals(planCloseSplit(close(1), { position: undefined, unseen: [] }).kind, "refuse");
});

Deno.test("planCloseSplit: only CLOSE on SHFE/INE is split; normalizeOffset sends CLOSETODAY as CLOSE elsewhere", () => {
  const p = position("DCE.m2605", { long_today: 1 });
  assertEquals(planCloseSplit(close(1, { symbol: "DCE.m2605" }), { position: p, unseen: [] }).kind, "as_is");
  assertEquals(planCloseSplit(close(1, { offset: "CLOSETODAY" }), { position: p, unseen: [] }).kind, "as_is");
  assertEquals(planCloseSplit(close(1, { offset: "OPEN" }), { position: p, unseen: [] }).kind, "as_is");
  assertEquals(normalizeOffset("DCE.m2605", "CLOSETODAY"), "CLOSE");
  assertEquals(normalizeOffset("CZCE.SR605", "CLOSETODAY"), "CLOSE");
  assertEquals(normalizeOffset("SHFE.rb2605", "CLOSETODAY"), "CLOSETODAY");
  assertEquals(normalizeOffset("INE.sc2606", "CLOSETODAY"), "CLOSETODAY");
  assertEquals(normalizeOffset("DCE.m2605", "OPEN"), "OPEN");
  assertEquals(childOrderId("abc-1", "closetoday"), "abc-1~closetoday");
});

function child(id: string, fields: Partial<OrderRecord>): OrderRecord {
  return {
    portfolio_id: "demo",
    id,
    status: "SUBMITTED",
    symbol: "SHFE.rb2605",
    direction: "SELL",
    offset: "CLOSE",
    volume: 2,
    limit_price: 3500,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    filled_quantity: 0,
    volume_left: 2,
    avg_fill_price: null,
    exchange_order_id: null,
    broker_order_id: `b-${id}`,
    last_msg: null,
    reject_reason: null,
    source: "split",
    request_hash: null,
    parent_id: "p",
    trading_day: "20251224",
    created_at: "",
    updated_at: "",
    ...fields,
  };
}

Deno.test("aggregateSplit: status and fills of the parent from its children", () => {
  const agg = (...c: OrderRecord[]) => {
    const a = aggregateSplit(c);
    return [a.status, a.filled_quantity, a.volume_left, a.avg_fill_price];
  };
  assertEquals(agg(child("a", {}), child("b", {})), ["SUBMITTED", 0, 4, null]);
  assertEquals(agg(child("a", { status: "ACCEPTED" }), child("b", {})), ["ACCEPTED", 0, 4, null]);
  assertEquals(agg(child("a", { status: "UNKNOWN" }), child("b", {})), ["UNKNOWN", 0, 4, null]);
  // 1 @ 3500 + 2 @ 3503 → 3 lots, avg 3502
  const f1 = child("a", {
    status: "PARTIALLY_FILLED",
    filled_quantity: 1,
    volume_left: 1,
    avg_fill_price: 3500,
  });
  const f2 = child("b", { status: "FILLED", filled_quantity: 2, volume_left: 0, avg_fill_price: 3503 });
  assertEquals(agg(f1, f2), ["PARTIALLY_FILLED", 3, 1, 3502]);
  const f1done = {
    ...f1,
    status: "FILLED" as const,
    filled_quantity: 2,
    volume_left: 0,
    avg_fill_price: 3500,
  };
  assertEquals(agg(f1done, f2), ["FILLED", 4, 0, 3501.5]);
  assertEquals(agg(f1done, child("b", { status: "CANCELED" })), ["CANCELED", 2, 2, 3500]);
  const rejected = aggregateSplit([
    f1done,
    child("b", { status: "REJECTED", reject_reason: "NOT_AT_BROKER: x" }),
  ]);
  assertEquals([rejected.status, rejected.reject_reason], ["REJECTED", "b: NOT_AT_BROKER: x"]);
  assertEquals(agg(child("a", { status: "CANCELED" }), child("b", {})), ["ACCEPTED", 0, 4, null]);
});
