/**
 * `GET /health`: 200 `{"status":"ok"|"degraded", …}`, 503 when the service cannot trade (see
 * `lib/http/health.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import type { BrokerState } from "../lib/broker/types.ts";
import { buildHealth, type HealthComponentFn, type MarketSource } from "../lib/http/health.ts";

/** Dependencies of {@link healthRoutes}. */
export interface HealthRouteDeps {
  /** The broker's current state (`broker.state()`). */
  brokerState: () => BrokerState;
  /** Other components by name (`redis`, `database`, `rabbitmq`, …). */
  components?: Record<string, HealthComponentFn>;
  /** Instruments and exchange time, for the `market` part (absent: no market part). */
  market?: MarketSource;
}

/** The `/health` router. */
export function healthRoutes(deps: HealthRouteDeps): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    const { httpStatus, report } = await buildHealth(deps.brokerState(), deps.components, {
      market: deps.market,
    });
    c.header("Cache-Control", "no-store");
    return c.json(report, httpStatus);
  });
  return app;
}
