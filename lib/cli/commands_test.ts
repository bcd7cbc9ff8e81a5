import { assertEquals } from "../../tests/assert.ts";
import { buildRequest, render, table } from "./commands.ts";
import { resolveTarget, serviceUrl } from "./client.ts";

Deno.test("cli: requests, target resolution and tables", () => {
  assertEquals(buildRequest("orders", [], { status: "FILLED", limit: "5" }, "pf"), {
    method: "GET",
    path: "/orders?status=FILLED&limit=5",
  });
  assertEquals(buildRequest("cancel", ["a:b"], {}, "pf"), { method: "DELETE", path: "/orders/a%3Ab" });
  const submit = buildRequest("submit", [], {
    symbol: "SHFE.rb2605",
    direction: "sell",
    offset: "closetoday",
    volume: "3",
    "order-id": "x1",
  }, "pf");
  assertEquals(submit.body, {
    symbol: "SHFE.rb2605",
    direction: "SELL",
    offset: "CLOSETODAY",
    volume: 3,
    order_id: "x1",
    portfolio_id: "pf",
  });
  assertEquals(serviceUrl({ host: "0.0.0.0", port: 8080 }), "http://127.0.0.1:8080");
  assertEquals(serviceUrl({ host: "::1", port: 1 }), "http://[::1]:1");
  const http = { host: "127.0.0.1", port: 8080, token: "from-config" };
  assertEquals(resolveTarget({}, { http, env: () => undefined }), {
    url: "http://127.0.0.1:8080",
    token: "from-config",
  });
  assertEquals(
    resolveTarget({}, { http, env: (n) => n === "BROKER_CONNECT_TOKEN" ? "env" : undefined }).token,
    "env",
  );
  assertEquals(resolveTarget({ token: "flag", url: "http://h:1/" }, { http, env: () => "env" }), {
    url: "http://h:1",
    token: "flag",
  });
  assertEquals(table([["a", "bb"], ["ccc", 1]]), ["a    bb", "ccc  1"]);
});

Deno.test("cli: short output of answers", () => {
  assertEquals(render("orders", { method: "GET" }, { orders: [] }), ["no orders"]);
  assertEquals(
    render("kill-switch", { method: "PUT" }, { kill_switch: { symbol: "", mode: "HALT", reason: "r" } }),
    [
      "kill switch HALT: r",
    ],
  );
  assertEquals(
    render("positions", { method: "GET" }, [{
      symbol: "A.b1",
      net: -1,
      long: 0,
      short: 1,
      last_price: 2,
      float_profit: 0,
    }]),
    [
      "symbol  net  long  short  last  float_pl",
      "A.b1    -1   0     1      2     0",
    ],
  );
});
