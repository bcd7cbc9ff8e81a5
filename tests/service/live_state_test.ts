/**
 * The account mirror end to end: a WebSocket client of the service sees the snapshot then each change; a
 * dropped trade connection refuses sends while reconciling and rebuilds Redis from the new snapshot (a
 * position closed while disconnected is zeroed); the shipped config runs with no external server.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  apiUrl,
  cleanupRedis,
  eventually,
  insertRequest,
  setBook,
  simControl,
  startTestService,
  testConfig,
  testNames,
  testRedis,
} from "../helpers/service.ts";

const RB = "SHFE.rb2605";

Deno.test("live state: /ws gives the snapshot then each change; a reconnect rebuilds Redis, zeroing what closed meanwhile", async () => {
  const names = testNames("live");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { rabbitmq: false }));
    const redis = testRedis();
    const messages: Record<string, unknown>[] = [];
    let ws: WebSocket | null = null;
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      ws = new WebSocket(`${apiUrl(service).replace(/^http/, "ws")}/ws`);
      ws.onmessage = (ev) => messages.push(JSON.parse(ev.data));
      await eventually("snapshot message", () => messages.find((m) => m.type === "snapshot"));
      assertEquals(messages[0].type, "snapshot");
      assertEquals((messages[0].account as Record<string, number>).balance, 10_000_000);

      assertEquals(
        (await api(service, "POST", "/orders", insertRequest(names, "w-1", { limit_price: 3501, volume: 3 })))
          .status,
        202,
      );
      const pos = await eventually(
        "position message",
        () =>
          messages.find((m) => m.type === "position" && (m.position as Record<string, unknown>)?.net === 3),
      );
      assertEquals((pos.position as Record<string, unknown>).symbol, RB);
      assert(messages.some((m) => m.type === "order"), "order change streamed");
      assert(messages.some((m) => m.type === "account"), "account change streamed");
      const key = `TQ_Position_PortfolioId_${names.portfolio}_Symbol_${RB}`;
      await eventually("redis 3", async () => (await redis.get(key)) === "3");

      // the trade connection drops and cannot log in for a while
      await simControl(service, "/sim/faults", { refuse_login: true });
      await simControl(service, "/sim/drop", { kind: "trade" });
      await eventually("not ready", () => !service.broker?.state().ready);
      const refused = await api(
        service,
        "POST",
        "/orders",
        insertRequest(names, "w-2", { limit_price: 3400 }),
      );
      assertEquals(refused.status, 503);
      await eventually(
        "status streamed",
        () =>
          messages.find((m) => m.type === "status" && (m.status as Record<string, unknown>)?.ready === false),
      );
      // meanwhile the position is closed at the exchange (as another terminal would)
      service.sim!.engine().insertOrder("demo", {
        aid: "insert_order",
        user_id: "demo",
        order_id: "other-terminal-close",
        exchange_id: "SHFE",
        instrument_id: "rb2605",
        direction: "SELL",
        offset: "CLOSETODAY",
        volume: 3,
        price_type: "LIMIT",
        limit_price: 3500,
        volume_condition: "ANY",
        time_condition: "GFD",
      });
      await simControl(service, "/sim/faults", { reset: true });
      await eventually("ready again", () => service.broker?.state().ready);
      await eventually("redis zeroed from the new snapshot", async () => (await redis.get(key)) === "0");
      const ttl = await redis.ttl(key);
      assert(ttl > 3500, `ttl ${ttl}`);
      const positions = await api(service, "GET", "/positions");
      const rb = (positions.json as unknown as Record<string, unknown>[]).find((p) => p.symbol === RB);
      assertEquals(rb?.net, 0);
      await eventually(
        "zero streamed",
        () =>
          messages.find((m) =>
            (m.type === "position" && (m.position as Record<string, unknown>)?.net === 0) ||
            (m.type === "snapshot" && messages.indexOf(m) > 0)
          ),
      );
      // the other terminal's order is recorded as external (its write goes through the tracker's outbox)
      await eventually("the other terminal's order recorded as external", async () => {
        const external = await api(service, "GET", "/orders?limit=10");
        const ids = (external.json.orders as Record<string, unknown>[]).map((o) => `${o.id}:${o.source}`);
        return ids.includes("other-terminal-close:external");
      });
    } finally {
      ws?.close();
      await service.lifecycle.stop();
      await cleanupRedis(redis, names.portfolio);
    }
  });
});

Deno.test("live state: serve with the shipped config runs with no external server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tbc_shipped_" });
  const shipped = await Deno.readTextFile(new URL("../../config.yaml", import.meta.url));
  const free = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  };
  const httpPort = free();
  const simPort = free();
  // the shipped file, with only its two ports moved off the defaults so parallel tests cannot collide
  const config = shipped.replace("  port: 8080", `  port: ${httpPort}`).replace(
    "  port: 7788",
    `  port: ${simPort}`,
  );
  assert(config !== shipped && config.includes(`port: ${httpPort}`) && config.includes(`port: ${simPort}`));
  await Deno.writeTextFile(`${dir}/config.yaml`, config);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, "serve"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const health = await eventually("healthy", async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
        const body = await res.json();
        return res.status === 200 ? body : null;
      } catch {
        return null;
      }
    }, 60_000);
    assertEquals(health.status, "ok");
    assertEquals(health.components.tq.state, "ready");
    assertEquals(health.components.redis, { enabled: false });
    const res = await fetch(`http://127.0.0.1:${httpPort}/account`);
    assertEquals((await res.json()).balance, 10_000_000);
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    assertEquals(status.code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});
