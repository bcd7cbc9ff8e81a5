import { assert, assertEquals } from "../tests/assert.ts";
import { brokerState } from "../tests/helpers/fake_broker.ts";
import { rejectReasonCode, ServiceMetrics } from "./metrics.ts";
import { deriveBrokerOrderId } from "./broker/order_ids.ts";
import type { OrderRecord, OrderUpdate } from "./orders/types.ts";

function values(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function update(id: string, status: OrderUpdate["status"], fields: OrderUpdate["fields"] = {}): OrderUpdate {
  return { portfolio_id: "pf", id, status, fields, event: {} };
}

Deno.test("metrics: latency from intake to send, ack and first fill with a hand clock", async () => {
  let now = 1_000_000;
  const m = new ServiceMetrics({ portfolioId: "pf", processMetrics: false, now: () => now });
  const bid = deriveBrokerOrderId("pf", "o1");
  const record = { broker_order_id: bid } as OrderRecord;
  m.intake("o1");
  now += 4; // 4 ms to send
  m.sent("insert", bid);
  now += 30; // 30 ms to the broker's answer
  m.orderUpdate(record, update("o1", "ACCEPTED"));
  now += 200; // 230 ms after send: the first fill
  m.orderUpdate(record, update("o1", "PARTIALLY_FILLED", { filled_quantity: 1 }));
  m.orderUpdate(record, update("o1", "FILLED", { filled_quantity: 2 })); // not a first fill
  const v = values(await m.render());
  assertEquals(v.get("tbc_order_intake_to_send_seconds_count"), 1);
  assertEquals(v.get("tbc_order_intake_to_send_seconds_sum"), 0.004);
  assertEquals(v.get('tbc_order_intake_to_send_seconds_bucket{le="0.005"}'), 1);
  assertEquals(v.get('tbc_order_intake_to_send_seconds_bucket{le="0.0025"}'), 0);
  assertEquals(v.get("tbc_order_send_to_ack_seconds_sum"), 0.03);
  assertEquals(v.get("tbc_order_send_to_first_fill_seconds_sum"), 0.23);
  assertEquals(v.get("tbc_order_send_to_first_fill_seconds_count"), 1);
  assertEquals(v.get('tbc_order_updates_total{status="FILLED"}'), 1);
  assertEquals(m.pendingCount, 0); // finished orders are forgotten
});

Deno.test("metrics: broker state, reconnects as a counter, broker rejects by reason", async () => {
  const m = new ServiceMetrics({ portfolioId: "pf", processMetrics: false });
  m.brokerState(brokerState(true, { reconnects: 0 }));
  m.brokerState(brokerState(false, { reconnects: 2, phase: "backoff", alarm: true }));
  m.brokerState(brokerState(true, { reconnects: 3 }));
  const bid = deriveBrokerOrderId("pf", "o2");
  m.intake("o2");
  m.sent("insert", bid);
  m.orderUpdate(
    { broker_order_id: bid } as OrderRecord,
    update("o2", "REJECTED", { reject_reason: "some text" }),
  );
  const v = values(await m.render());
  assertEquals(v.get("tbc_broker_connected"), 1);
  assertEquals(v.get("tbc_broker_reconnects_total"), 3);
  assertEquals(v.get('tbc_broker_phase{phase="ready"}'), 1);
  assertEquals(v.get('tbc_broker_phase{phase="backoff"}'), 0);
  assertEquals(v.get('tbc_order_rejects_total{stage="broker",reason="BROKER"}'), 1);
  assertEquals(v.get("tbc_order_send_to_ack_seconds_count"), 1); // a reject is the broker's answer
});

Deno.test("metrics: scrape-time sources (snapshot age, sinks, ws)", async () => {
  const now = 5_000_000;
  const m = new ServiceMetrics({ portfolioId: "pf", processMetrics: false, now: () => now });
  let redis = { ok: true, failures: 0 };
  m.setSources({
    confirmedAt: () => now - 2500,
    ws: () => ({ clients: 3, messages_sent: 10 }),
    redis: () => redis,
  });
  let v = values(await m.render());
  assertEquals(v.get("tbc_snapshot_age_seconds"), 2.5);
  assertEquals(v.get("tbc_ws_clients"), 3);
  assertEquals(v.get("tbc_ws_messages_total"), 10);
  assertEquals(v.get('tbc_sink_up{sink="redis"}'), 1);
  assertEquals(v.get('tbc_sink_up{sink="rabbitmq"}'), undefined); // not configured: not listed
  redis = { ok: false, failures: 4 };
  m.rabbitmqState(true);
  m.rabbitmqState(false);
  v = values(await m.render());
  assertEquals(v.get('tbc_sink_errors_total{sink="redis"}'), 4);
  assertEquals(v.get('tbc_sink_errors_total{sink="rabbitmq"}'), 1);
  assertEquals(v.get('tbc_sink_up{sink="redis"}'), 0);
  m.setSources({ confirmedAt: () => 0 });
  assertEquals(values(await m.render()).get("tbc_snapshot_age_seconds"), -1);
});

Deno.test("metrics: a ready view's snapshot age is 0 however the clock moves during the scrape", async () => {
  let clock = 5_000_000;
  const m = new ServiceMetrics({ portfolioId: "pf", processMetrics: false, now: () => clock++ });
  m.setSources({ confirmedAt: (now) => now }); // ready: confirmed at the moment asked about
  assertEquals(values(await m.render()).get("tbc_snapshot_age_seconds"), 0);
});

Deno.test("metrics: reject reason labels stay bounded", () => {
  assertEquals(rejectReasonCode("NOT_AT_BROKER: never reached the gateway"), "NOT_AT_BROKER");
  assertEquals(rejectReasonCode("资金不足"), "BROKER");
  assertEquals(rejectReasonCode(null), "BROKER");
  assert(rejectReasonCode("x".repeat(100) + ":") === "BROKER");
});

Deno.test("metrics: burst seconds of a real BurstMonitor are read at scrape time", async () => {
  const { BurstMonitor } = await import("./orders/rules/supervision.ts");
  const burst = new BurstMonitor();
  const m = new ServiceMetrics({ portfolioId: "pf", processMetrics: false });
  let v = values(await m.render());
  assertEquals(v.get("tbc_order_burst_seconds_today"), 0); // no source yet
  m.setSources({ bursts: () => burst.stats() });
  const at = Date.UTC(2025, 11, 24, 2, 0, 0); // 10:00 Beijing
  for (let i = 0; i < 9; i++) burst.record(at + i);
  v = values(await m.render());
  assertEquals(v.get("tbc_order_burst_seconds_today"), 0);
  assertEquals(v.get("tbc_order_actions_max_per_second_today"), 9);
  burst.record(at + 500); // the 10th action of that second
  for (let i = 0; i < 12; i++) burst.record(at + 1000 + i); // a second burst second
  v = values(await m.render());
  assertEquals(v.get("tbc_order_burst_seconds_today"), 2);
  assertEquals(v.get("tbc_order_actions_max_per_second_today"), 12);
  assertEquals(v.get("tbc_order_actions_today"), 22);
  assertEquals(v.get("tbc_order_burst_trigger_reached"), 0);
});
