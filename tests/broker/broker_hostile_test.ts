/**
 * Hostile frames on the real trade socket (a tiny DIFF server that logs in like the sim, then misbehaves):
 * prototype-pollution keys, JavaScript instead of JSON, numbers that overflow, a frame that breaks tqsdk's
 * own handler. Nothing runs, nothing is polluted, the broker stays up (reconnecting when tqsdk's tree may be
 * damaged) and keeps working.
 */
import { assert, assertEquals } from "../assert.ts";
import { createBroker } from "../../lib/broker/mod.ts";
import { Recorder, sleep, tqConfig } from "./env.ts";

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
