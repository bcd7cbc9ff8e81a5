/**
 * The pre-trade rules plugged into a real SendGate over a hand-driven broker (instrument and quote from
 * the sim's catalogue): the exact tick price is what is sent, a token spent for an order not sent comes
 * back, and a cancel counts under the contract of the order's record even before the broker shows it.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { brokerState, FakeBroker, snapshot } from "../../tests/helpers/fake_broker.ts";
import type { BrokerInsert, InstrumentView, QuoteView, SendResult } from "../broker/types.ts";
import { parseConfig } from "../config.ts";
import { preTradeChecks } from "./pre_trade.ts";
import { PreTradeRules } from "./rules/mod.ts";
import { bj, brokerInsertOf, instrument, quote } from "./rules/test_fixtures.ts";
import { SendGate } from "./send_gate.ts";
import type { InsertRequest, OrderRecord } from "./types.ts";

const WED_10 = bj("2025-12-24 10:00:00");
const RB = "SHFE.rb2605";
const AU = "SHFE.au2606";

/** A ready broker knowing rb and au (band 3000…4000 and 500…600), recording what is sent. */
class MarketBroker extends FakeBroker {
  sent: BrokerInsert[] = [];
  cancels: string[] = [];

  constructor() {
    super();
    this.emit({ type: "state", state: brokerState(true) });
    this.emit({ type: "snapshot", snapshot: snapshot({}) });
  }

  override instrument(symbol: string): InstrumentView | undefined {
    return symbol === RB || symbol === AU ? instrument(symbol) : undefined;
  }

  override quote(symbol: string): QuoteView | undefined {
    const ins = this.instrument(symbol);
    if (ins === undefined) return undefined;
    const band = symbol === RB
      ? { lower_limit: 3000, upper_limit: 4000 }
      : { lower_limit: 500, upper_limit: 600 };
    return quote(ins, WED_10, band);
  }

  override insert(order: BrokerInsert): SendResult {
    this.sent.push(structuredClone(order));
    return { ok: true };
  }

  override cancel(brokerOrderId: string): SendResult {
    this.cancels.push(brokerOrderId);
    return { ok: true };
  }
}

function risk(yaml: string) {
  return parseConfig(`risk: ${yaml}`, "t", { env: {} }).risk;
}

function setup(yaml = "{}") {
  const broker = new MarketBroker();
  const rules = new PreTradeRules(risk(yaml));
  const checks = preTradeChecks(rules, {
    broker,
    portfolioId: "demo",
    now: () => WED_10,
    tradingDay: () => "20251224",
  });
  const gate = new SendGate(broker, {
    insertChecks: checks.insert,
    cancelChecks: checks.cancel,
    onSent: checks.onSent,
  });
  return { broker, rules, gate };
}

function request(id: string, symbol: string, limit_price: number): InsertRequest {
  return {
    order_id: id,
    portfolio_id: "demo",
    symbol,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    timestamp_ms: null,
    request_id: null,
  };
}

const insert = brokerInsertOf;

/** Decide and send; the decision's code when refused. */
function place(gate: SendGate, r: InsertRequest): string {
  const o = insert(r);
  const d = gate.decideInsert(r, o);
  if (!d.ok) return d.refusal.code;
  assert(gate.sendInsert(o).ok);
  return "sent";
}

Deno.test("pre-trade: a drifted price within tolerance goes out as the exact tick multiple", () => {
  const { broker, gate } = setup();
  const au = [0.02, 0.02, 0.02, 0.02].reduce((a, b) => a + b, 562); // 562.0799999999999
  assertEquals(place(gate, request("rb", RB, 3400.0000000001)), "sent");
  assertEquals(place(gate, request("au", AU, au)), "sent");
  assertEquals(place(gate, request("rb-bad", RB, 3400.5)), "PRICE_TICK");
  assertEquals(broker.sent.map((o) => o.limit_price), [3400, 562.08]);
  assertEquals(JSON.stringify(broker.sent.map((o) => o.limit_price)), "[3400,562.08]");
});

Deno.test("pre-trade: an insert token spent on an order that is not sent after all comes back", () => {
  const { gate } = setup("{insert_rate_per_s: 0.001, insert_burst: 1}");
  const a = request("a", RB, 3400);
  const o = insert(a);
  assert(gate.decideInsert(a, o).ok);
  // e.g. the same order id was already recorded: the executor releases the reservation.
  gate.release(o.broker_order_id);
  assertEquals(place(gate, request("b", RB, 3400)), "sent");
  assertEquals(place(gate, request("c", RB, 3400)), "INSERT_RATE");
});

Deno.test("pre-trade: a cancel counts under the symbol of the order's record, shown by the broker or not", () => {
  const { broker, rules, gate } = setup("{cancel_limit_per_contract: 1, cancel_warn_per_contract: 1}");
  // The broker does not show this order yet (sent, not seen): its record knows the contract.
  const record = { id: "x", broker_order_id: "TBC.x", symbol: AU } as OrderRecord;
  assertEquals(broker.order("TBC.x"), undefined);
  assert(gate.decideCancel(record).ok);
  assert(gate.sendCancel(record).ok);
  assertEquals(rules.cancelCounter.count(AU, "20251224"), 1);
  assertEquals(rules.cancelCounter.count("", "20251224"), 0);
  const again = gate.decideCancel({ ...record, id: "y", broker_order_id: "TBC.y" });
  assert(!again.ok);
  assertEquals(again.refusal.code, "CANCEL_LIMIT");
  // Another contract still has its budget.
  assert(gate.decideCancel({ ...record, id: "z", broker_order_id: "TBC.z", symbol: RB }).ok);
  assertEquals(broker.cancels, ["TBC.x"]);
});
