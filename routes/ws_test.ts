import { assert, assertEquals } from "../tests/assert.ts";
import { account, brokerState, position, snapshot } from "../tests/helpers/fake_broker.ts";
import { openWs } from "../tests/helpers/ws_client.ts";
import { createApiApp, startHttpServer } from "../lib/http/server.ts";
import { LiveView } from "../lib/stream/live_view.ts";
import { StreamHub, type StreamMessage } from "../lib/stream/hub.ts";
import { wsRoutes } from "./ws.ts";

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("GET /ws: snapshot, then changes; client close unsubscribes; hub close closes with 1001", async () => {
  const view = new LiveView();
  view.apply({ type: "state", state: brokerState(true) });
  view.apply({
    type: "snapshot",
    snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_today: 1 })] }),
  });
  const hub = new StreamHub(view);
  const app = createApiApp();
  app.route("/", wsRoutes(hub));
  const server = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  try {
    const plain = await fetch(`${server.url}/ws`);
    assertEquals(plain.status, 426);
    assertEquals(await plain.json(), { error: "expected a WebSocket upgrade" });

    const a = await openWs(`${server.url.replace("http", "ws")}/ws`);
    const snap = await a.next<StreamMessage>();
    assert(snap.type === "snapshot");
    assertEquals(snap.positions.map((p) => p.net), [1]);
    assertEquals(snap.status.ready, true);
    assertEquals(hub.clientCount, 1);

    view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 4 }) });
    view.apply({ type: "account", account: account(42) });
    const m1 = await a.next<StreamMessage>();
    const m2 = await a.next<StreamMessage>();
    assert(m1.type === "position" && m2.type === "account");
    assertEquals(m1.position.net, 4);
    assertEquals(m2.account.balance, 42);

    await a.close();
    await until(() => hub.clientCount === 0);

    const b = await openWs(`${server.url.replace("http", "ws")}/ws`);
    assertEquals((await b.next<StreamMessage>()).type, "snapshot");
    hub.close();
    const ev = await b.closed;
    assertEquals([ev.code, ev.reason], [1001, "server shutting down"]);
  } finally {
    hub.close();
    await server.close();
  }
});
