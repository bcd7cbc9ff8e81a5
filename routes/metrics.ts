/**
 * `GET /metrics`: the Prometheus text exposition of the service's registry (`lib/metrics.ts`). Public
 * (no token), like `/health`: it holds counts and timings, no account data.
 *
 * @module
 */
import { Hono } from "hono";
import type { ServiceMetrics } from "../lib/metrics.ts";

/** The `/metrics` router. */
export function metricsRoutes(metrics: ServiceMetrics): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const text = await metrics.render();
    return c.body(text, 200, { "Content-Type": metrics.contentType, "Cache-Control": "no-store" });
  });
  return app;
}
