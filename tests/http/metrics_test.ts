/**
 * `GET /metrics` of a running service moves when orders flow: outcomes, reject reasons, the three latency
 * histograms, order updates, broker connection, WebSocket clients, HTTP requests, process metrics.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  eventually,
  insertRequest,
  setBook,
  startTestService,
  testConfig,
  testNames,
} from "../helpers/service.ts";
import type { Service } from "../../lib/service.ts";

/** Parse the Prometheus text format into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(service: Service): Promise<Map<string, number>> {
  const res = await fetch(`${service.http!.url}/metrics`);
  assertEquals(res.status, 200);
  assert((res.headers.get("content-type") ?? "").startsWith("text/plain"));
  return parse(await res.text());
}

Deno.test("metrics: counters and latency histograms move when orders flow", async () => {
  const names = testNames("metrics");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { rabbitmq: false, redis: false }));
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      const before = await scrape(service);
      assertEquals(before.get("tbc_broker_connected"), 1);
      assertEquals(before.get('tbc_broker_phase{phase="ready"}'), 1);
      assertEquals(before.get('tbc_orders_total{source="rest",outcome="accepted"}') ?? 0, 0);
      assertEquals(before.get("tbc_order_intake_to_send_seconds_count"), 0);
      assert((before.get("process_resident_memory_bytes") ?? 0) > 0, "process metrics missing");
      assertEquals(before.get("tbc_ws_clients"), 0);

      await setBook(service);
      // one that fills at once, one that rests, one refused by a rule (volume over the limit)
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "m-fill", { limit_price: 3501 }))).status,
        202,
      );
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "m-rest", { limit_price: 3400 }))).status,
        202,
      );
      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "m-big", { volume: 1000 }))).status,
        400,
      );
      assertEquals((await api(service, "POST", "/orders", { symbol: "bad" })).status, 400);
      const ws = new WebSocket(service.http!.url.replace("http:", "ws:") + "/ws");
      await new Promise((r) => ws.onmessage = r);

      const after = await eventually("fill and ack observed", async () => {
        const m = await scrape(service);
        return (m.get("tbc_order_send_to_first_fill_seconds_count") ?? 0) >= 1 &&
            (m.get("tbc_order_send_to_ack_seconds_count") ?? 0) >= 2
          ? m
          : null;
      });
      assertEquals(after.get('tbc_orders_total{source="rest",outcome="accepted"}'), 2);
      assertEquals(after.get('tbc_orders_total{source="rest",outcome="refused"}'), 1);
      assertEquals(after.get('tbc_orders_total{source="rest",outcome="invalid"}'), 1);
      assertEquals(after.get('tbc_order_rejects_total{stage="intake",reason="VOLUME_RANGE"}'), 1);
      assertEquals(after.get('tbc_order_rejects_total{stage="intake",reason="INVALID_REQUEST"}'), 1);
      assertEquals(after.get("tbc_order_intake_to_send_seconds_count"), 2);
      assertEquals(after.get("tbc_order_send_to_ack_seconds_count"), 2);
      assertEquals(after.get("tbc_order_send_to_first_fill_seconds_count"), 1);
      assert((after.get("tbc_order_intake_to_send_seconds_sum") ?? 0) > 0);
      assertEquals(after.get('tbc_order_updates_total{status="FILLED"}'), 1);
      assertEquals(after.get("tbc_ws_clients"), 1);
      assert((after.get("tbc_ws_messages_total") ?? 0) >= 1);
      assertEquals(after.get("tbc_snapshot_age_seconds"), 0); // ready: the view is current
      assert((after.get('tbc_http_requests_total{method="POST",route="/orders",status="202"}') ?? 0) === 2);
      assertEquals(after.get('tbc_sink_up{sink="postgresql"}'), 1);

      // /health: the sim's clock (10:00 on a Wednesday) is inside SHFE.rb2605's day session
      const health = await api(service, "GET", "/health");
      assertEquals([health.status, health.json.status, health.json.market], [200, "ok", "open"]);
      assertEquals((health.json.market_detail as { in_session: string[] }).in_session, ["SHFE.rb2605"]);

      // a cancel of the resting order
      assertEquals((await api(service, "DELETE", "/orders/m-rest")).status, 202);
      const cancelled = await eventually("cancel counted", async () => {
        const m = await scrape(service);
        return (m.get('tbc_order_updates_total{status="CANCELED"}') ?? 0) >= 1 ? m : null;
      });
      assertEquals(cancelled.get('tbc_cancels_total{outcome="sent"}'), 1);
      ws.close();
    } finally {
      await service.lifecycle.stop();
    }
  });
});
