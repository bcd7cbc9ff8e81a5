import { Hono } from "hono";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import { applyHttpMiddleware, type RequestInfo } from "./middleware.ts";
import { createApiApp } from "./server.ts";

function app(options: { cors?: string[]; token?: string; seen?: RequestInfo[] } = {}): Hono {
  const a = createApiApp();
  applyHttpMiddleware(a, {
    tokens: { token: options.token ?? "" },
    corsOrigins: options.cors ?? [],
    maxBodyBytes: 1024,
    onRequest: (info) => options.seen?.push(info),
  });
  a.post("/orders", async (c) => c.json({ bytes: (await c.req.text()).length }));
  a.get("/orders/:id", (c) => c.json({ id: c.req.param("id") }));
  a.get("/boom", () => {
    throw new Error("boom");
  });
  return a;
}

Deno.test("middleware: X-Request-ID is echoed when valid, generated otherwise", async () => {
  const a = app();
  const given = await a.request("/orders/x", { headers: { "x-request-id": "req-123" } });
  assertEquals(given.headers.get("x-request-id"), "req-123");
  const made = await a.request("/orders/x");
  assertMatch(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const bad = await a.request("/orders/x", { headers: { "x-request-id": "has space" } });
  assert(bad.headers.get("x-request-id") !== "has space");
  // errors and unknown routes answer JSON, with the id too
  const boom = await a.request("/boom", { headers: { "x-request-id": "r-2" } });
  assertEquals([boom.status, await boom.json(), boom.headers.get("x-request-id")], [500, {
    error: "internal error",
  }, "r-2"]);
  const missing = await a.request("/nope");
  assertEquals(missing.status, 404);
  assertEquals((await missing.json()).error, "not found");
});

Deno.test("middleware: body size limit answers 413 JSON", async () => {
  const a = app();
  const ok = await a.request("/orders", { method: "POST", body: "x".repeat(1024) });
  assertEquals([ok.status, await ok.json()], [200, { bytes: 1024 }]);
  const big = await a.request("/orders", { method: "POST", body: "x".repeat(1025) });
  assertEquals(big.status, 413);
  assertMatch((await big.json()).error, /exceeds 1024 bytes/);
  // without Content-Length (streamed) too
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode("y".repeat(800)));
      c.enqueue(new TextEncoder().encode("y".repeat(800)));
      c.close();
    },
  });
  const streamed = await a.request(
    "/orders",
    { method: "POST", body: stream, duplex: "half" } as RequestInit,
  );
  assertEquals(streamed.status, 413);
});

Deno.test("middleware: CORS is off unless origins are configured", async () => {
  const off = await app().request("/orders/x", { headers: { origin: "https://evil.example" } });
  assertEquals(off.headers.get("access-control-allow-origin"), null);
  const a = app({ cors: ["https://desk.example"], token: "t" });
  const pre = await a.request("/orders", {
    method: "OPTIONS",
    headers: {
      origin: "https://desk.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  assertEquals(pre.status, 204); // the preflight carries no token and is answered before auth
  assertEquals(pre.headers.get("access-control-allow-origin"), "https://desk.example");
  assertMatch(pre.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  const other = await a.request("/orders/x", {
    headers: { origin: "https://evil.example", authorization: "Bearer t" },
  });
  assertEquals(other.headers.get("access-control-allow-origin"), null);
});

Deno.test("middleware: the access log has method, path, status and request id, never a token or query", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [{ category: ["tbc"], sinks: ["mem"], lowestLevel: "debug" }, {
      category: ["logtape", "meta"],
      sinks: [],
    }],
  });
  try {
    const seen: RequestInfo[] = [];
    const a = app({ token: "sekret-token-1", seen });
    await a.request("/orders/abc?access_token=sekret-token-2", {
      headers: { authorization: "Bearer sekret-token-1", "x-request-id": "rid-9" },
    });
    await a.request("/orders/abc", { headers: { authorization: "Bearer wrong-sekret" } });
    const lines = records.filter((r) => r.category.includes("access"));
    assertEquals(lines.length, 2);
    const text = JSON.stringify(lines.map((r) => [r.message, r.properties]));
    assert(!text.includes("sekret"), text);
    assertEquals(lines[0].properties.path, "/orders/abc");
    assertEquals(lines[0].properties.status, 200);
    assertEquals(lines[0].properties.request_id, "rid-9");
    assertEquals(lines[0].properties.principal, "token");
    assertEquals(lines[1].properties.status, 401);
    assertEquals(seen.map((s) => [s.method, s.route, s.status]), [["GET", "/orders/:id", 200], [
      "GET",
      "unmatched",
      401,
    ]]);
  } finally {
    await reset();
  }
});
