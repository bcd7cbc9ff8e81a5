import { assertEquals, assertMatch } from "../tests/assert.ts";
import { ServiceMetrics } from "../lib/metrics.ts";
import { metricsRoutes } from "./metrics.ts";

Deno.test("GET /metrics: Prometheus text with the service's metrics", async () => {
  const metrics = new ServiceMetrics({ portfolioId: "pf", processMetrics: false });
  metrics.httpRequest({ method: "GET", route: "/x", status: 200, durationMs: 3, requestId: "r" });
  const res = await metricsRoutes(metrics).request("/metrics");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  assertMatch(await res.text(), /tbc_http_requests_total\{method="GET",route="\/x",status="200"\} 1/);
});
