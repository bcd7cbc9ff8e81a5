import { assertEquals } from "../../tests/assert.ts";
import { brokerState } from "../../tests/helpers/fake_broker.ts";
import { buildHealth, tqHealth } from "./health.ts";

Deno.test("tqHealth: times as ISO, unknown times as null", () => {
  const h = tqHealth(brokerState(false, { since: 0, last_data_at: 0, phase: "connecting" }));
  assertEquals([h.ok, h.state, h.since, h.last_data_at, h.last_error], [
    false,
    "connecting",
    null,
    null,
    null,
  ]);
  const r = tqHealth(brokerState(true, { since: Date.UTC(2025, 11, 24, 1, 0, 0) }));
  assertEquals([r.ok, r.since], [true, "2025-12-24T01:00:00.000Z"]);
});

Deno.test("buildHealth: verdicts", async () => {
  const ready = brokerState(true);
  assertEquals((await buildHealth(ready)).httpStatus, 200);
  assertEquals((await buildHealth(ready)).report.status, "ok");
  // a disabled component does not degrade
  assertEquals((await buildHealth(ready, { redis: () => ({ enabled: false }) })).report.status, "ok");
  const down = await buildHealth(ready, { redis: () => ({ ok: false }) });
  assertEquals([down.httpStatus, down.report.status, down.report.can_trade], [200, "degraded", true]);
  const blocked = await buildHealth(ready, { database: () => ({ ok: false, blocks_trading: true }) });
  assertEquals([blocked.httpStatus, blocked.report.can_trade], [503, false]);
  const notReady = await buildHealth(brokerState(false), { redis: () => ({ ok: true }) });
  assertEquals([notReady.httpStatus, notReady.report.status], [503, "degraded"]);
  // "tq" cannot be overridden by a component
  const r = await buildHealth(ready, { tq: () => ({ ok: false }) });
  assertEquals((r.report.components.tq as { ok: boolean }).ok, true);
});
