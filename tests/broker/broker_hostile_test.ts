/**
 * Hostile frames on the real trade socket (a tiny DIFF server that logs in like the sim, then misbehaves):
 * prototype-pollution keys, JavaScript instead of JSON, numbers that overflow, a frame that breaks tqsdk's
 * own handler. Nothing runs, nothing is polluted, the broker stays up (reconnecting when tqsdk's tree may be
 * damaged) and keeps working. Then the same kinds of frames injected on the real sim's trade and
 * market-data sockets, followed to the output: positions, the Redis keys and the stream hub's messages
 * are exactly what they were.
 */
import { assert, assertEquals } from "../assert.ts";
import { createBroker } from "../../lib/broker/mod.ts";
import { positionKey } from "../../lib/sinks/redis_positions.ts";
import { book, control, Recorder, sleep, tqConfig, withSim } from "./env.ts";
import { demoOrder, type Pipeline, until, withPipeline } from "./pipeline.ts";

const USER = "u1";

interface DiffServer {
  baseUrl: string;
  /** Send raw text on the latest logged-in trade socket. */
  sendTrade(text: string): void;
  logins: number;
  close(): Promise<void>;
}

function snapshotFrame(balance: number): string {
  return JSON.stringify({
    aid: "rtn_data",
    data: [{
      trade: {
        [USER]: {
          user_id: USER,
          trading_day: "20251224",
          accounts: {
            CNY: { currency: "CNY", balance, available: balance, margin: 0, static_balance: balance },
          },
          positions: {},
          orders: {},
          trades: {},
          trade_more_data: false,
        },
      },
    }],
  });
}

function startDiffServer(): DiffServer {
  const sockets = new Set<WebSocket>();
  let trade: WebSocket | null = null;
  const state = { logins: 0 };
  let port = 0;
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req): Response => {
    const url = new URL(req.url);
    const base = `ws://127.0.0.1:${port}`;
    if (url.pathname === "/broker-list.json") {
      return Response.json({ "快期模拟": { url: `${base}/trade`, category: ["TQ"] } });
    }
    if (url.pathname === "/t/md/symbols/latest.json") return Response.json({});
    if (url.pathname === "/trade" || url.pathname === "/t/md/front/mobile") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      if (url.pathname === "/t/md/front/mobile") {
        socket.onopen = () => socket.send('{"aid":"rsp_login","account_id":"","session_id":"MDSESSION"}');
        return response;
      }
      let peeked = false;
      let pending: string[] = [];
      const flush = () => {
        if (peeked && pending.length > 0 && socket.readyState === WebSocket.OPEN) {
          peeked = false;
          socket.send(pending.shift()!);
        }
      };
      socket.onopen = () => socket.send(JSON.stringify({ aid: "rtn_brokers", brokers: ["快期模拟"] }));
      socket.onmessage = (ev) => {
        const p = JSON.parse(ev.data);
        if (p.aid === "peek_message") {
          peeked = true;
          flush();
        } else if (p.aid === "req_login") {
          state.logins++;
          trade = socket;
          socket.send(JSON.stringify({
            aid: "rtn_data",
            data: [{ notify: { n1: { type: "MESSAGE", level: "INFO", code: 401, content: "登录成功" } } }],
          }));
          socket.send(JSON.stringify({
            aid: "rtn_data",
            data: [{ trade: { [USER]: { session: { user_id: USER, trading_day: "20251224" } } } }],
          }));
          pending = [snapshotFrame(10_000_000)];
        }
      };
      return response;
    }
    return new Response("not found", { status: 404 });
  });
  port = server.addr.port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    sendTrade(text) {
      trade?.send(text);
    },
    get logins() {
      return state.logins;
    },
    async close() {
      for (const s of sockets) s.close();
      await server.shutdown();
    },
  };
}

Deno.test("broker: hostile frames change nothing they should not and the broker stays up", async () => {
  const server = startDiffServer();
  const g = globalThis as Record<string, unknown>;
  let alerted = 0;
  const savedAlert = g.alert;
  g.alert = () => alerted++;
  // sim mode pointed at our own server (it serves the same URLs as the sim)
  const real = createBroker(tqConfig({ account: USER, account_password: "pw" }), {
    simBaseUrl: server.baseUrl,
  });
  const rec = new Recorder(real);
  try {
    await real.start();
    await real.waitReady(5000);
    assertEquals(real.snapshot()!.account.balance, 10_000_000);
    const from = rec.mark();

    // 1. prototype pollution, at the root and inside an order
    server.sendTrade(
      `{"aid":"rtn_data","data":[{"__proto__":{"polluted":1},"trade":{"${USER}":{"orders":{"x":{"__proto__":{"p":1}}}}}}]}`,
    );
    // 2. JavaScript instead of JSON (tqsdk would eval it)
    server.sendTrade("alert(1)");
    server.sendTrade("(function(){ globalThis.hacked = 1; alert(2); })()");
    // 3. a string crafted to break out of tqsdk's eval('(' + data + ')')
    server.sendTrade(JSON.stringify({
      aid: "rtn_data",
      data: [{ notify: { n2: { level: "INFO", code: 1, content: '"}); globalThis.hacked = 1; ({"' } } }],
    }));
    // 4. numbers that overflow, and a huge finite one
    server.sendTrade(
      `{"aid":"rtn_data","data":[{"trade":{"${USER}":{"accounts":{"CNY":{"balance":1e400,"available":1e308}}}}}]}`,
    );
    const acct = await rec.wait("account", () => true, "account after the number frame", { from });
    await sleep(30);

    assertEquals(({} as Record<string, unknown>).polluted, undefined);
    assertEquals(({} as Record<string, unknown>).p, undefined);
    assertEquals(Object.getOwnPropertyNames(Object.prototype).includes("polluted"), false);
    assertEquals(alerted, 0);
    assertEquals(g.hacked, undefined);
    // the empty object left of order "x" did not become an order
    assertEquals(rec.events.slice(from).filter((e) => e.type === "order"), []);
    assertEquals(real.snapshot()!.orders, {});
    // the crafted notify arrived as plain text
    const notice = rec.of("notice").find((n) => n.notice.code === 1)!;
    assertEquals(notice.notice.content, '"}); globalThis.hacked = 1; ({"');
    // an overflowing number is "unknown" (NaN), never Infinity or a made-up value; 1e308 is kept
    assert(Number.isNaN(acct.account.balance));
    assertEquals(acct.account.available, 1e308);
    assert(real.state().ready);
    assertEquals(server.logins, 1);

    // 5. a frame that breaks tqsdk's handler ("data": null): contained, and a fresh session replaces the
    //    possibly damaged tree
    const from2 = rec.mark();
    server.sendTrade('{"aid":"rtn_data","data":null}');
    const snap = await rec.wait("snapshot", () => true, "fresh snapshot after the broken frame", {
      from: from2,
    });
    assertEquals(snap.snapshot.account.balance, 10_000_000);
    assertEquals(server.logins, 2);
    assert(real.state().ready);
    assertEquals(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    await real.stop();
    rec.close();
    g.alert = savedAlert;
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// The real sim, frames injected on its market-data and trade sockets: what reaches Redis and the stream hub
// ---------------------------------------------------------------------------------------------------------

const RB = "SHFE.rb2605";

/** Redis keys of the pipeline's portfolio and their values, the meta key's timestamps left out. */
async function redisDump(p: Pipeline): Promise<Record<string, unknown>> {
  p.writer.refresh();
  await p.writer.flushed();
  const out: Record<string, unknown> = {};
  for (const key of (await p.redis.keys(`*PortfolioId_${p.portfolio}*`)).sort()) {
    const raw = (await p.redis.get(key))!;
    if (raw.startsWith("{")) {
      const { updated_at: _u, written_at: _w, ...rest } = JSON.parse(raw);
      out[key] = rest;
    } else {
      out[key] = raw;
    }
  }
  return out;
}

function assertUnpolluted(): void {
  for (const key of ["polluted", "p", "x", "hacked"]) {
    assertEquals(({} as Record<string, unknown>)[key], undefined, key);
  }
  assertEquals((globalThis as Record<string, unknown>).hacked, undefined);
  assertEquals(Object.getOwnPropertyNames(Object.prototype).includes("polluted"), false);
  // an inherited name in a frame (`toString`) must not let the merge write into the shared built-in
  assertEquals(Object.getOwnPropertyNames(Object.prototype.toString).includes("pos_long_today"), false);
}

Deno.test("broker: hostile frames on the sim's trade socket leave positions, Redis and the hub unchanged", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("h-1", { volume: 2 })), { ok: true });
      await until("redis 2", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "2");
      const before = await redisDump(p);
      const position = p.broker.position(RB);
      const fromMsg = p.messages.length;
      const fromEv = p.rec.mark();
      const inject = (text: string) => control(sim, "/sim/inject", { kind: "trade", user: "demo", text });
      // prototype keys at every level of the positions
      await inject(
        `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":{"__proto__":{"polluted":1},"${RB}":{"__proto__":{"pos_long_today":99},"constructor":{"prototype":{"x":1}}}}}}}]}`,
      );
      // positions named like prototype keys
      await inject(
        `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":{"constructor":{"pos_long_today":5},"toString":{"pos_long_today":1.5}}}}}]}`,
      );
      // JavaScript instead of JSON, and a string built to break out of tqsdk's eval('(' + data + ')')
      await inject(`(function(){ globalThis.hacked = 1; })()`);
      await inject(
        JSON.stringify({
          aid: "rtn_data",
          data: [{
            trade: { demo: { positions: { [RB]: { instrument_id: '"}}}); globalThis.hacked = 1; ({"' } } } },
          }],
        }),
      );
      // huge numbers: overflowing lots and money, a huge finite lot count
      await inject(
        `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":{"${RB}":{"pos_long_today":1e400,"volume_long_today":9e300,"float_profit":-1e400}}}}}]}`,
      );
      await until(
        "the huge-number frame handled",
        () =>
          p.logs.some((r) => r.properties.field === "pos_long_today" && r.properties.value === "Infinity"),
      );
      assertUnpolluted();
      // the lots, and so the net, are what they were; Redis holds exactly what it held
      const after = p.broker.position(RB)!;
      assertEquals(
        [after.long_today, after.long_his, after.short_today, after.short_his, after.net],
        [position!.long_today, position!.long_his, position!.short_today, position!.short_his, 2],
      );
      assert(Number.isNaN(after.float_profit)); // money that overflowed is unknown, never a number
      assertEquals(p.broker.position("constructor"), undefined);
      assertEquals(p.broker.position("toString"), undefined); // a fraction with no good value: not published
      assertEquals(await redisDump(p), before);
      for (const m of p.messages.slice(fromMsg)) {
        if (m.type === "position") assertEquals([m.position.symbol, m.position.net], [RB, 2]);
      }
      assertEquals(p.rec.events.slice(fromEv).filter((e) => e.type === "snapshot"), []);
      assert(p.broker.state().ready);
      // and it still trades
      assertEquals(p.broker.insert(demoOrder("h-2")), { ok: true });
      await until("redis 3", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "3");
    });
  });
});

Deno.test("broker: hostile frames on the sim's market-data socket change no quote wrongly, no position, no Redis key", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("m-1", { volume: 2 })), { ok: true });
      await until("redis 2", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "2");
      p.broker.subscribeQuotes([RB]);
      await until("quote", () => p.broker.quote(RB)?.last_price === 3500);
      const before = await redisDump(p);
      const fromMsg = p.messages.length;
      const g = globalThis as Record<string, unknown>;
      let alerted = 0;
      const savedAlert = g.alert;
      g.alert = () => alerted++;
      try {
        const inject = (text: string) => control(sim, "/sim/inject", { kind: "md", text });
        await inject(`alert(1)`);
        await inject(
          `{"aid":"rtn_data","data":[{"quotes":{"__proto__":{"polluted":1},"${RB}":{"__proto__":{"x":1}}}}]}`,
        );
        // trade data on the md socket must not reach the account
        await inject(
          `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":{"${RB}":{"pos_long_today":99,"volume_long_today":99}}}}}]}`,
        );
        await inject(
          `{"aid":"rtn_data","data":[{"quotes":{"${RB}":{"last_price":1e400,"ask_price1":-1e400,"bid_price1":1e308}}}]}`,
        );
        const q = await until("the huge-number quote", () => {
          const v = p.broker.quote(RB);
          return v?.bid_price1 === 1e308 ? v : undefined;
        });
        // an overflowing price reaches tqsdk as null: never Infinity. tqsdk's merge deletes the field (the
        // ask is then unknown), except last_price, a prototype accessor it cannot delete (the last price
        // stays). A huge finite price is passed as it is.
        assertEquals([q.last_price, q.ask_price1], [3500, null]);
        assertUnpolluted();
        assertEquals(alerted, 0);
        assertEquals(p.broker.position(RB)?.net, 2);
        assertEquals(await redisDump(p), before);
        assertEquals(p.messages.slice(fromMsg).filter((m) => m.type === "position"), []);
        assert(p.broker.state().ready);
        // the md socket still works: the next real quote arrives
        await control(sim, "/sim/quote", { symbol: RB, last_price: 3321 });
        await until("real quote after the hostile ones", () => p.broker.quote(RB)?.last_price === 3321);
      } finally {
        g.alert = savedAlert;
      }
    });
  });
});
