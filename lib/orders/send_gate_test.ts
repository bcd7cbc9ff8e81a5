/**
 * SendGate on a hand-driven broker: connection refusals, checks in order, the exact price a check hands
 * back being what is reserved and sent, and the undo of what a check spent when an order is not sent.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { brokerState, FakeBroker, snapshot } from "../../tests/helpers/fake_broker.ts";
import { insertRequest } from "../../tests/helpers/orders.ts";
import type { BrokerInsert, SendResult } from "../broker/types.ts";
import { type InsertCheck, SendGate } from "./send_gate.ts";
import { brokerInsertOf } from "./rules/test_fixtures.ts";
import type { InsertRequest, OrderRecord } from "./types.ts";

/** A ready fake broker that records what is sent; `refuse` makes the next sends fail. */
class SendingBroker extends FakeBroker {
  sent: BrokerInsert[] = [];
  cancels: string[] = [];
  refuse = false;

  constructor() {
    super();
    this.emit({ type: "state", state: brokerState(true) });
    this.emit({ type: "snapshot", snapshot: snapshot({}) });
  }

  override insert(order: BrokerInsert): SendResult {
    if (this.refuse) return { ok: false, reason: "NOT_CONNECTED", message: "socket closed" };
    this.sent.push(structuredClone(order));
    return { ok: true };
  }

  override cancel(brokerOrderId: string): SendResult {
    this.cancels.push(brokerOrderId);
    return { ok: true };
  }
}

function request(id: string, limit_price: number | null = 3400.0000000001): InsertRequest {
  return insertRequest(id, {
    limit_price,
    price_type: limit_price === null ? "ANY" : "LIMIT",
    time_condition: limit_price === null ? "IOC" : "GFD",
  });
}

const insert = brokerInsertOf;

/** A check that spends one of `budget` tokens per pass (undo gives it back) and snaps to whole yuan. */
function budgetCheck(budget: { left: number }): InsertCheck {
  return (req) => {
    if (budget.left <= 0) return { code: "INSERT_RATE", field: "$", message: "no token" };
    budget.left--;
    return {
      warnings: [],
      ...(req.limit_price !== null ? { limit_price: Math.round(req.limit_price) } : {}),
      undo: () => budget.left++,
    };
  };
}

Deno.test("SendGate: the price a check hands back is the one reserved and sent, exactly", () => {
  const broker = new SendingBroker();
  const gate = new SendGate(broker, { insertChecks: [budgetCheck({ left: 10 })] });
  const r = request("a");
  const o = insert(r);
  assertEquals(o.limit_price, 3400.0000000001);
  const d = gate.decideInsert(r, o);
  assert(d.ok);
  assertEquals(o.limit_price, 3400);
  assertEquals(gate.pending()[0].limit_price, 3400);
  assert(gate.sendInsert(o).ok);
  assertEquals(broker.sent.map((s) => s.limit_price), [3400]);
  assertEquals(JSON.stringify(broker.sent[0].limit_price), "3400");
  // A market order has no price to set.
  const m = insert(request("m", null));
  assert(gate.decideInsert(request("m", null), m).ok);
  assertEquals(m.limit_price, undefined);
});

Deno.test("SendGate: what a check spent is given back when the order is released, refused later or not sent", () => {
  const broker = new SendingBroker();
  const budget = { left: 2 };
  let refuseLater = false;
  const later: InsertCheck = () =>
    refuseLater ? { code: "KILL_SWITCH", field: "$", message: "halted" } : null;
  const gate = new SendGate(broker, { insertChecks: [budgetCheck(budget), later] });
  const sent: string[] = [];
  const gateWithHook = new SendGate(broker, {
    insertChecks: [budgetCheck(budget), later],
    onSent: (_kind, id) => sent.push(id),
  });

  // Released (a duplicate order id, a database failure): the token comes back, the reservation goes.
  const a = insert(request("a"));
  assert(gate.decideInsert(request("a"), a).ok);
  assertEquals(budget.left, 1);
  gate.release(a.broker_order_id);
  assertEquals([budget.left, gate.pending().length], [2, 0]);
  // Releasing again gives nothing more back.
  gate.release(a.broker_order_id);
  assertEquals(budget.left, 2);

  // A later check refuses: the earlier check's spending is undone at once.
  refuseLater = true;
  const b = insert(request("b"));
  const refused = gate.decideInsert(request("b"), b);
  assert(!refused.ok);
  assertEquals(refused.refusal.code, "KILL_SWITCH");
  assertEquals(budget.left, 2);
  refuseLater = false;

  // The send finds the connection gone: given back.
  broker.refuse = true;
  const c = insert(request("c"));
  assert(gateWithHook.decideInsert(request("c"), c).ok);
  assert(!gateWithHook.sendInsert(c).ok);
  assertEquals([budget.left, gateWithHook.pending().length, sent.length], [2, 0, 0]);
  broker.refuse = false;

  // Sent: spent for good; a release after the send (nothing left to undo) gives nothing back.
  const d = insert(request("d"));
  assert(gateWithHook.decideInsert(request("d"), d).ok);
  assert(gateWithHook.sendInsert(d).ok);
  assertEquals([budget.left, sent], [1, [d.broker_order_id]]);
  gateWithHook.release(d.broker_order_id);
  assertEquals(budget.left, 1);

  // Two decisions on one id (a duplicate arriving while the first is recorded): releasing the duplicate
  // gives back one token, the first is sent and keeps its own.
  budget.left = 2;
  const e = insert(request("e"));
  assert(gate.decideInsert(request("e"), e).ok);
  assert(gate.decideInsert(request("e"), insert(request("e"))).ok);
  assertEquals(budget.left, 0);
  gate.release(e.broker_order_id);
  assertEquals(budget.left, 1);
  assert(gate.sendInsert(e).ok);
  assertEquals(budget.left, 1);
});

Deno.test("SendGate: not connected or not leader refuses before any check, spending nothing", () => {
  const broker = new SendingBroker();
  const budget = { left: 1 };
  let leader = false;
  const gate = new SendGate(broker, { insertChecks: [budgetCheck(budget)], isLeader: () => leader });
  const d = gate.decideInsert(request("a"), insert(request("a")));
  assert(!d.ok);
  assertEquals(d.refusal.code, "NOT_LEADER");
  leader = true;
  broker.emit({ type: "state", state: brokerState(false, { phase: "syncing" }) });
  const r = gate.decideInsert(request("a"), insert(request("a")));
  assert(!r.ok);
  assertEquals(r.refusal.code, "RECONCILING");
  assertEquals(budget.left, 1);
});

Deno.test("SendGate: cancel checks see the order's record; a passed cancel is sent", () => {
  const broker = new SendingBroker();
  const seen: (string | null)[] = [];
  const gate = new SendGate(broker, {
    cancelChecks: [(o) => {
      seen.push(o.symbol);
      return null;
    }],
  });
  const record = { broker_order_id: "TBC.x", symbol: "SHFE.au2606" } as OrderRecord;
  assert(gate.decideCancel(record).ok);
  assert(gate.sendCancel(record).ok);
  assertEquals([seen, broker.cancels], [["SHFE.au2606"], ["TBC.x"]]);
});
