import { assertEquals } from "../tests/assert.ts";
import { brokerState } from "../tests/helpers/fake_broker.ts";
import type { BrokerState } from "../lib/broker/types.ts";
import { healthRoutes } from "./health.ts";

async function get(state: BrokerState, components = {}) {
  const res = await healthRoutes({ brokerState: () => state, components }).request("/health");
  return { status: res.status, body: await res.json() };
}

Deno.test("GET /health: 200 ok when the broker is ready; tq fields; absent components disabled", async () => {
  const { status, body } = await get(
    brokerState(true, { reconnects: 2, last_data_at: Date.UTC(2025, 11, 24, 2) }),
  );
  assertEquals(status, 200);
  assertEquals(body.status, "ok");
  assertEquals(body.can_trade, true);
  assertEquals(body.components.tq, {
    ok: true,
    state: "ready",
    since: new Date(1_766_541_600_000).toISOString(),
    last_data_at: "2025-12-24T02:00:00.000Z",
    trading_day: "20251224",
    ready: true,
    reconnects: 2,
    attempts: 0,
    alarm: false,
    last_error: null,
  });
  assertEquals(body.components.redis, { enabled: false });
  assertEquals(body.components.database, { enabled: false });
  assertEquals(body.components.rabbitmq, { enabled: false });
});

Deno.test("GET /health: 503 degraded when the broker is not ready", async () => {
  const { status, body } = await get(
    brokerState(false, { alarm: true, last_error: { code: 401, message: "login refused", at: 1000 } }),
  );
  assertEquals(status, 503);
  assertEquals(body.status, "degraded");
  assertEquals(body.can_trade, false);
  assertEquals(body.components.tq.state, "backoff");
  assertEquals(body.components.tq.alarm, true);
  assertEquals(body.components.tq.last_error, {
    code: 401,
    message: "login refused",
    at: "1970-01-01T00:00:01.000Z",
  });
});

Deno.test("GET /health: plugged-in components; redis down = 200 degraded; a trading-critical one = 503", async () => {
  const redisDown = () => ({ ok: false, connected: false, dirty: true });
  let r = await get(brokerState(true), { redis: redisDown, database: () => ({ ok: true }) });
  assertEquals([r.status, r.body.status, r.body.can_trade], [200, "degraded", true]);
  assertEquals(r.body.components.redis, { ok: false, connected: false, dirty: true });
  assertEquals(r.body.components.database, { ok: true });

  r = await get(brokerState(true), { database: () => ({ ok: false, blocks_trading: true }) });
  assertEquals([r.status, r.body.status, r.body.can_trade], [503, "degraded", false]);

  r = await get(brokerState(true), {
    rabbitmq: () => Promise.reject(new Error("boom")),
    metrics_extra: () => ({ ok: true, n: 1 }),
  });
  assertEquals(r.status, 200);
  assertEquals(r.body.components.rabbitmq, { ok: false, error: "boom" });
  assertEquals(r.body.components.metrics_extra, { ok: true, n: 1 });
  assertEquals(r.body.status, "degraded");
});
