/**
 * `/orders` of a running service (real sim, PostgreSQL): the HTTP request id (`X-Request-ID` when valid,
 * else the generated one) is what `order_event` records as `request_id` for a submit and a cancel;
 * `http.max_body_bytes` above 64 KiB is honoured by `POST /orders`; the path and query parameters accept
 * what the OpenAPI document says they accept.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  apiUrl,
  eventually,
  insertRequest,
  setBook,
  startTestService,
  testConfig,
  testNames,
  testSql,
} from "../helpers/service.ts";
import type { Service } from "../../lib/service.ts";

async function call(
  service: Service,
  method: string,
  path: string,
  options: { body?: string; requestId?: string } = {},
): Promise<{ status: number; json: Record<string, unknown>; requestId: string | null }> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.requestId !== undefined) headers["x-request-id"] = options.requestId;
  const res = await fetch(`${apiUrl(service)}${path}`, { method, headers, body: options.body });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), requestId: res.headers.get("x-request-id") };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("orders: order_event carries the request id of the HTTP request (submit and cancel)", async () => {
  const names = testNames("reqid");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { redis: false, rabbitmq: false }));
    const sql = testSql(db);
    const eventOf = async (id: string, event: string) => {
      const rows = await sql`select msg from order_event where id = ${id} order by seq`;
      return rows.map((r) => JSON.parse(r.msg)).find((m) => m.event === event);
    };
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      const body = (id: string) => JSON.stringify(insertRequest(names, id, { limit_price: 3400 }));

      // the client's valid id
      const given = await call(service, "POST", "/orders", { body: body("r-1"), requestId: "desk-42:abc" });
      assertEquals([given.status, given.requestId], [202, "desk-42:abc"]);
      assertEquals((await eventOf("r-1", "received")).request_id, "desk-42:abc");
      // none given: the generated one, as answered in X-Request-ID
      const generated = await call(service, "POST", "/orders", { body: body("r-2") });
      assertEquals(generated.status, 202);
      assertMatch(generated.requestId ?? "", UUID);
      assertEquals((await eventOf("r-2", "received")).request_id, generated.requestId);
      // an invalid one (a space) is replaced, never recorded as sent
      const invalid = await call(service, "POST", "/orders", { body: body("r-3"), requestId: "has space" });
      assertEquals(invalid.status, 202);
      assertMatch(invalid.requestId ?? "", UUID);
      assertEquals((await eventOf("r-3", "received")).request_id, invalid.requestId);
      // an envelope's own request_id is kept
      const envelope = JSON.stringify({
        type: "SUBMIT",
        request_id: "env-7",
        payload: insertRequest(names, "r-4", { limit_price: 3400 }),
      });
      assertEquals(
        (await call(service, "POST", "/orders", { body: envelope, requestId: "hdr-7" })).status,
        202,
      );
      assertEquals((await eventOf("r-4", "received")).request_id, "env-7");

      await eventually("r-1 and r-2 accepted", async () => {
        const rows = await sql`select status from order_history where id in ('r-1', 'r-2')`;
        return rows.length === 2 && rows.every((r) => r.status === "ACCEPTED");
      });
      // cancels: the checked id, not the raw header
      const cancel = await call(service, "DELETE", "/orders/r-1", { requestId: "cancel-1" });
      assertEquals([cancel.status, cancel.requestId], [202, "cancel-1"]);
      // (a cancel's event is written through the tracker's outbox: soon after the answer)
      const cancelled = await eventually("r-1 cancel event", () => eventOf("r-1", "cancel_requested"));
      assertEquals(cancelled.request_id, "cancel-1");
      const raw = "x".repeat(129); // too long: not a valid request id
      const replaced = await call(service, "DELETE", "/orders/r-2", { requestId: raw });
      assertEquals(replaced.status, 202);
      assertMatch(replaced.requestId ?? "", UUID);
      const second = await eventually("r-2 cancel event", () => eventOf("r-2", "cancel_requested"));
      assertEquals(second.request_id, replaced.requestId);
    } finally {
      await service.lifecycle.stop();
      await sql.end();
    }
  });
});

Deno.test("orders: http.max_body_bytes above 64 KiB is honoured; the parameters match the document", async () => {
  const names = testNames("bodylim");
  await withTestDatabase(async (db) => {
    const config = testConfig(names, db, { redis: false, rabbitmq: false });
    config.http.max_body_bytes = 256 * 1024;
    const service = await startTestService(config);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      // a valid order padded with whitespace to 100 KiB: over the old fixed 64 KiB, under the setting
      const order = JSON.stringify(insertRequest(names, "big-1", { limit_price: 3400 }));
      const padded = order.slice(0, -1) + " ".repeat(100 * 1024) + "}";
      const big = await call(service, "POST", "/orders", { body: padded });
      assertEquals(big.status, 202, JSON.stringify(big.json));
      // over the setting: 413 naming it
      const tooBig = order.slice(0, -1) + " ".repeat(257 * 1024) + "}";
      const refused = await call(service, "POST", "/orders", { body: tooBig });
      assertEquals([refused.status, refused.json.error], [413, `$: body exceeds ${256 * 1024} bytes`]);

      // GET /orders/{order_id} takes any recorded id (split children too), as documented
      const doc = await (await fetch(`${apiUrl(service)}/openapi.json`)).json();
      const pattern = new RegExp(doc.paths["/orders/{order_id}"].get.parameters[0].schema.pattern);
      for (const id of ["big-1~closetoday", "EXT:12345"]) {
        assert(pattern.test(id));
        assertEquals((await call(service, "GET", `/orders/${encodeURIComponent(id)}`)).status, 404, id);
      }
      assertEquals((await call(service, "GET", "/orders/big-1")).status, 200);
      const deletePattern = new RegExp(doc.paths["/orders/{order_id}"].delete.parameters[0].schema.pattern);
      assert(!deletePattern.test("big-1~closetoday"));
      const badDelete = await call(service, "DELETE", `/orders/${encodeURIComponent("big-1~closetoday")}`);
      assertEquals(badDelete.status, 400);
      assertMatch(String(badDelete.json.error), /^order_id: /);
      // the query string: what the schema documents, and its bounds
      const limit = doc.paths["/orders"].get.parameters.find((p: { name: string }) => p.name === "limit");
      assertEquals([limit.schema.type, limit.schema.minimum, limit.schema.maximum], ["integer", 1, 1000]);
      assertEquals((await call(service, "GET", "/orders?limit=1000&status=ACCEPTED")).status, 200);
      const over = await call(service, "GET", "/orders?limit=1001");
      assertEquals([over.status, over.json.error], [400, "limit: expected an integer 1..1000"]);
      const status = await call(service, "GET", "/orders?status=accepted");
      assertEquals(status.status, 400);
      assertMatch(String(status.json.error), /^status: expected one of RECEIVED, /);
      const listed = await call(service, "GET", "/orders?symbol=SHFE.rb2605&limit=5");
      assertEquals((listed.json.orders as { id: string }[]).map((o) => o.id), ["big-1"]);
    } finally {
      await service.lifecycle.stop();
    }
  });
});
