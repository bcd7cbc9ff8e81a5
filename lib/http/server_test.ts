/**
 * The whole live-state path over real HTTP: fake broker → LiveView → StreamHub → routes on a server on
 * port 0, read with fetch and a real WebSocket client.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import {
  account,
  brokerState,
  FakeBroker,
  order,
  position,
  snapshot,
} from "../../tests/helpers/fake_broker.ts";
import { openWs } from "../../tests/helpers/ws_client.ts";
import { accountRoutes } from "../../routes/account.ts";
import { healthRoutes } from "../../routes/health.ts";
import { positionRoutes } from "../../routes/positions.ts";
import { wsRoutes } from "../../routes/ws.ts";
import { connectLiveView, LiveView } from "../stream/live_view.ts";
import { StreamHub, type StreamMessage } from "../stream/hub.ts";
import { createApiApp, startHttpServer } from "./server.ts";

Deno.test("http: health, positions, account, 404 and /ws over a real server", async () => {
  const broker = new FakeBroker();
  const view = new LiveView();
  const detach = connectLiveView(broker, view);
  const hub = new StreamHub(view);
  let redisOk = true;
  const app = createApiApp();
  app.route(
    "/",
    healthRoutes({ brokerState: () => broker.state(), components: { redis: () => ({ ok: redisOk }) } }),
  );
  app.route("/", positionRoutes(view));
  app.route("/", accountRoutes(view));
  app.route("/", wsRoutes(hub));
  app.get("/boom", () => {
    throw new Error("kaput");
  });
  const server = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  try {
    assert(server.port > 0);
    // before login: cannot trade
    let res = await fetch(`${server.url}/health`);
    assertEquals(res.status, 503);
    assertEquals((await res.json()).components.tq.state, "stopped");
    res = await fetch(`${server.url}/positions`);
    assertEquals(res.status, 503);
    await res.body?.cancel();

    broker.emit({ type: "state", state: brokerState(true) });
    broker.emit({
      type: "snapshot",
      snapshot: snapshot({
        positions: [position("SHFE.rb2605", { long_today: 2 }), position("DCE.m2605", { short_his: 1 })],
        orders: [order("o1")],
        account: account(1_000_000),
      }),
    });
    res = await fetch(`${server.url}/health`);
    assertEquals(res.status, 200);
    const health = await res.json();
    assertEquals(health.status, "ok");
    assertEquals(health.components.redis, { ok: true });
    assertEquals(health.components.tq.ready, true);

    redisOk = false;
    res = await fetch(`${server.url}/health`);
    assertEquals([res.status, (await res.json()).status], [200, "degraded"]);

    res = await fetch(`${server.url}/positions`);
    assertEquals(res.headers.get("content-type"), "application/json");
    assertEquals((await res.json()).map((p: { symbol: string; net: number }) => [p.symbol, p.net]), [
      ["DCE.m2605", -1],
      ["SHFE.rb2605", 2],
    ]);
    assertEquals((await (await fetch(`${server.url}/account`)).json()).balance, 1_000_000);

    res = await fetch(`${server.url}/nope`);
    assertEquals(res.status, 404);
    assertEquals(await res.json(), { error: "not found", path: "/nope" });
    res = await fetch(`${server.url}/boom`);
    assertEquals(res.status, 500);
    assertEquals(await res.json(), { error: "internal error" });

    // WebSocket: snapshot, then changes as the broker emits them
    const ws = await openWs(`ws://127.0.0.1:${server.port}/ws`);
    const snap = await ws.next<StreamMessage>();
    assert(snap.type === "snapshot");
    assertEquals(snap.positions.map((p) => p.symbol), ["DCE.m2605", "SHFE.rb2605"]);
    assertEquals(snap.orders.map((o) => o.broker_order_id), ["o1"]);
    assertEquals(snap.account?.balance, 1_000_000);
    broker.emit({ type: "order", order: order("o1", { volume_left: 0, status: "FINISHED" }) });
    broker.emit({ type: "position", position: position("SHFE.rb2605", { long_today: 3 }) });
    broker.emit({ type: "state", state: brokerState(false) });
    const o = await ws.next<StreamMessage>();
    const p = await ws.next<StreamMessage>();
    const s = await ws.next<StreamMessage>();
    assert(o.type === "order" && o.order.status === "FINISHED");
    assert(p.type === "position" && p.position.net === 3);
    assert(s.type === "status" && s.status.ready === false && s.status.phase === "backoff");
    await ws.close();
  } finally {
    hub.close();
    detach();
    await server.close();
  }
});

Deno.test("http: the abort signal stops the server; close() is idempotent; a taken port rejects", async () => {
  const app = createApiApp();
  app.get("/x", (c) => c.json({ ok: true }));
  const ac = new AbortController();
  const server = await startHttpServer(app, { host: "127.0.0.1", port: 0, signal: ac.signal });
  assertEquals(await (await fetch(`${server.url}/x`)).json(), { ok: true });
  await assertRejects(() => startHttpServer(app, { host: "127.0.0.1", port: server.port }));
  ac.abort();
  await server.finished;
  await assertRejects(() => fetch(`${server.url}/x`));
  await server.close();
  await server.close();
});
