/**
 * `sandbox` and `real` run modes: authentication at a local Keycloak double (checks the form, returns a
 * JWT built here), the sim playing the brokers `快期模拟` and `H期货`.
 */
import { spyOnWsSends } from "../helpers/ws_spy.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import type { Sim } from "../../lib/sim/mod.ts";
import { createBroker, deriveBrokerOrderId, resolveBrokerOptions } from "../../lib/broker/mod.ts";
import { TqBroker } from "../../lib/broker/tq_broker.ts";
import type { BrokerInsert } from "../../lib/broker/types.ts";
import { makeTestJwt, TOKEN_PATH } from "../../lib/broker/auth.ts";
import { book, control, Recorder, tqConfig, withSim } from "./env.ts";

const SUB = "4bb2a0dc-26d1-43f5-9d67-sandbox";
const ACCOUNTS = [
  { user: SUB, password: SUB, balance: 10_000_000 },
  { user: "8001", password: "real-pw", balance: 500_000 },
];
const BROKERS = ["快期模拟", "H期货"];
/** H期货 plays a CTP broker: a statement to confirm each trading day, orders refused until then. */
const SETTLEMENT_BROKERS = ["H期货"];

interface AuthDouble {
  url: string;
  forms: Record<string, string>[];
  /** Seconds until the issued tokens expire. */
  ttlS: number;
  /** Answer 401 while true. */
  refuse: boolean;
  close(): Promise<void>;
}

function startAuth(): AuthDouble {
  const double = {
    forms: [] as Record<string, string>[],
    ttlS: 3600,
    refuse: false,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const form = Object.fromEntries(new URLSearchParams(await req.text()));
    double.forms.push(form);
    const ok = new URL(req.url).pathname === TOKEN_PATH && req.method === "POST" &&
      req.headers.get("content-type") === "application/x-www-form-urlencoded" &&
      form.grant_type === "password" && form.username === "alice" && form.password === "alice-pw" &&
      form.client_id === "shinny_tq";
    if (!ok || double.refuse) {
      return Response.json({ error: "invalid_grant", error_description: "Invalid user credentials" }, {
        status: 401,
      });
    }
    const exp = Math.floor(Date.now() / 1000) + double.ttlS;
    return Response.json({ access_token: makeTestJwt({ sub: SUB, exp, grants: { features: ["futr"] } }) });
  });
  return Object.assign(double, {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  });
}

function modeConfig(sim: Sim, auth: AuthDouble, tq: Record<string, unknown>) {
  const ws = sim.baseUrl.replace(/^http/, "ws");
  return tqConfig({
    username: "alice",
    password: "alice-pw",
    auth_url: auth.url,
    broker_list_url: `${sim.baseUrl}/broker-list.json`,
    symbols_url: `${sim.baseUrl}/t/md/symbols/latest.json`,
    md_url: `${ws}/t/md/front/mobile`,
    ...tq,
  });
}

/** Record the URLs of the sockets that sent, and the frames sent, meanwhile. */
async function spyWebSockets(fn: (urls: string[], sent: string[]) => Promise<void>): Promise<void> {
  await spyOnWsSends(async (frames) => {
    const view = <T>(pick: (f: { url: string; data: string }) => T, unique: boolean) =>
      new Proxy([] as T[], {
        get(target, key, receiver) {
          target.length = 0;
          for (const f of frames) {
            const v = pick(f);
            if (!unique || !target.includes(v)) target.push(v);
          }
          return Reflect.get(target, key, receiver);
        },
      });
    await fn(view((f) => f.url, true), view((f) => f.data, false));
  });
}

Deno.test("broker (sandbox): authenticates, logs in as the token's sub at 快期模拟, passes the token", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      await spyWebSockets(async (urls, sent) => {
        const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
        const rec = new Recorder(broker);
        try {
          await broker.start();
          await broker.waitReady(5000);
          assertEquals(rec.of("snapshot")[0].snapshot.account.balance, 10_000_000);
          assertEquals(auth.forms.length, 1);
          const trade = urls.find((u) => u.includes("/trade"))!;
          const token = new URL(trade).searchParams.get("access_token")!;
          assertEquals(JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub, SUB);
          const login = sent.map((s) => JSON.parse(s)).find((p) => p.aid === "req_login");
          assertEquals(login, { aid: "req_login", bid: "快期模拟", user_name: SUB, password: SUB });
          assertEquals(sent.filter((s) => s.includes("confirm_settlement")), []);
          // a long-lived token is reused on reconnect
          const from = rec.mark();
          await control(sim, "/sim/drop", { kind: "trade" });
          await rec.wait("snapshot", () => true, "snapshot after drop", { from });
          assertEquals(auth.forms.length, 1);
        } finally {
          await broker.stop();
          rec.close();
        }
      });
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (sandbox): a token within 60 s of expiry is renewed on reconnect", async () => {
  const auth = startAuth();
  auth.ttlS = 30;
  try {
    await withSim(async (sim) => {
      const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
      const rec = new Recorder(broker);
      try {
        await broker.start();
        await broker.waitReady(5000);
        assertEquals(auth.forms.length, 1);
        const from = rec.mark();
        await control(sim, "/sim/drop", { kind: "trade" });
        await rec.wait("snapshot", () => true, "snapshot after drop", { from });
        assertEquals(auth.forms.length, 2);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (sandbox): a refused authentication is reported without the password and retried", async () => {
  const auth = startAuth();
  auth.refuse = true;
  try {
    await withSim(async (sim) => {
      const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
      const rec = new Recorder(broker);
      try {
        await broker.start();
        const e = await rec.wait("state", (e) => e.state.attempts >= 2, "two failed attempts");
        assertEquals(e.state.last_error?.code, 401);
        assertMatch(e.state.last_error!.message, /^auth failed \(401, .*Invalid user credentials/);
        assert(!e.state.last_error!.message.includes("alice-pw"));
        assertEquals(e.state.phase, "backoff");
        auth.refuse = false;
        await broker.waitReady(5000);
        assert(auth.forms.length >= 3);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (real): authenticates, logs in to the broker account, confirms the settlement", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      await spyWebSockets(async (urls, sent) => {
        const broker = createBroker(
          modeConfig(sim, auth, {
            run_mode: "real",
            broker: "H期货",
            account: "8001",
            account_password: "real-pw",
          }),
        );
        const rec = new Recorder(broker);
        try {
          await broker.start();
          await broker.waitReady(5000);
          assertEquals(rec.of("snapshot")[0].snapshot.account.balance, 500_000);
          assertEquals(auth.forms.length, 1);
          assert(urls.some((u) => u.includes("/trade?access_token=ey")));
          const packets = sent.map((s) => JSON.parse(s));
          const iLogin = packets.findIndex((p) => p.aid === "req_login");
          const iConfirm = packets.findIndex((p) => p.aid === "confirm_settlement");
          assertEquals(packets[iLogin], {
            aid: "req_login",
            bid: "H期货",
            user_name: "8001",
            password: "real-pw",
          });
          assert(iConfirm > iLogin, "confirm_settlement after req_login");
          assertEquals(packets[iConfirm], { aid: "confirm_settlement" });
          // after a reconnect: a new login and a new confirmation
          const from = rec.mark();
          await control(sim, "/sim/drop", { kind: "trade" });
          await rec.wait("snapshot", () => true, "snapshot after drop", { from });
          const again = sent.map((s) => JSON.parse(s));
          assertEquals(again.filter((p) => p.aid === "req_login").length, 2);
          assertEquals(again.filter((p) => p.aid === "confirm_settlement").length, 2);
          // the broker took the confirmation: an order is accepted, not refused with CTP 42
          await broker.waitReady(5000);
          await book(sim, "SHFE.rb2605", 3500, 3501);
          const from2 = rec.mark();
          assertEquals(broker.insert(realBuy("after-confirm", 3490)), { ok: true });
          const o = await rec.wait("order", (e) => e.order.status === "ALIVE", "order ALIVE", {
            from: from2,
          });
          assertEquals(o.order.last_msg, "报单成功");
        } finally {
          await broker.stop();
          rec.close();
        }
      });
    }, { accounts: ACCOUNTS, brokers: BROKERS, settlementBrokers: SETTLEMENT_BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (real): a broker missing from the broker list is a clear error", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      const broker = createBroker(
        modeConfig(sim, auth, { run_mode: "real", broker: "N期货", account: "8001", account_password: "x" }),
      );
      const rec = new Recorder(broker);
      try {
        await broker.start();
        const e = await rec.wait("state", (e) => e.state.last_error !== null, "error");
        assertMatch(e.state.last_error!.message, /^broker "N期货" is not in the broker list from http/);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

function realBuy(id: string, price: number): BrokerInsert {
  return {
    broker_order_id: deriveBrokerOrderId("8001", id),
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    limit_price: price,
    time_condition: "GFD",
    volume_condition: "ANY",
  };
}

Deno.test("broker (real): ready only once the settlement confirmation stands; a refusal is retried; a new trading day confirms again", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      await book(sim, "SHFE.rb2605", 3500, 3501);
      // the server refuses confirmations at first (OTG-CTP 336)
      await control(sim, "/sim/faults", { refuse_settlement: true });
      const broker = new TqBroker({
        ...resolveBrokerOptions(
          modeConfig(sim, auth, {
            run_mode: "real",
            broker: "H期货",
            account: "8001",
            account_password: "real-pw",
          }),
        ),
        settlementWaitMs: 400,
        random: () => 0.5,
      });
      const rec = new Recorder(broker);
      try {
        await broker.start();
        // the login and a complete snapshot are not enough: the statement is shown, the refusal ends the try
        const statement = await rec.wait("notice", (e) => e.notice.code === 325, "settlement statement");
        assertEquals(statement.notice.type, "SETTLEMENT");
        const refused = await rec.wait(
          "state",
          (e) => e.state.last_error?.code === 336,
          "refusal reported",
        );
        assertEquals(
          refused.state.last_error!.message,
          "settlement confirmation refused (336): 当前时间不支持确认结算单",
        );
        assertEquals(rec.of("snapshot"), []);
        assertEquals(rec.of("state").some((e) => e.state.ready), false);

        // confirmations accepted again: on the next attempt it confirms, waits, then is ready
        await control(sim, "/sim/faults", { reset: true });
        const from = rec.mark();
        const confirming = await rec.wait("state", (e) => e.state.phase === "confirming", "confirming", {
          from,
        });
        assertEquals(confirming.state.ready, false);
        const early = broker.insert(realBuy("too-early", 3490));
        assertEquals(early.ok ? "sent" : early.reason, "RECONCILING");
        const ready = await rec.wait("state", (e) => e.state.ready, "ready", { from });
        assert(ready.state.since - confirming.state.since >= 350, "waited for the confirmation to stand");
        const o1 = rec.mark();
        assertEquals(broker.insert(realBuy("confirmed", 3490)), { ok: true });
        assertEquals(
          (await rec.wait("order", (e) => e.order.status === "ALIVE", "accepted", { from: o1 })).order
            .last_msg,
          "报单成功",
        );

        // the night session is a new trading day: the broker refuses orders until it is confirmed again
        await control(sim, "/sim/clock", { set: "2025-12-24T21:00:00+08:00" });
        await control(sim, "/sim/settle", {});
        await rec.wait("state", (e) => e.state.trading_day === "20251225", "new trading day");
        await book(sim, "SHFE.rb2605", 3500, 3501);
        const o2 = rec.mark();
        assertEquals(broker.insert(realBuy("unconfirmed", 3490)), { ok: true });
        const notice = await rec.wait("notice", (e) => e.notice.code === 42, "CTP 42", { from: o2 });
        assertEquals(notice.notice.content, "下单失败,CTP:结算结果未确认");
        await rec.wait("state", (e) => !e.state.ready && e.state.phase === "confirming", "confirming again", {
          from: o2,
        });
        const snap = await rec.wait("snapshot", () => true, "ready again", { from: o2 });
        const refusedOrder = snap.snapshot.orders[deriveBrokerOrderId("8001", "unconfirmed")];
        assertEquals([refusedOrder.status, refusedOrder.last_msg], ["FINISHED", "CTP:结算结果未确认"]);
        const o3 = rec.mark();
        assertEquals(broker.insert(realBuy("reconfirmed", 3490)), { ok: true });
        const ok = await rec.wait("order", (e) => e.order.status === "ALIVE", "accepted again", { from: o3 });
        assertEquals(ok.order.broker_order_id, deriveBrokerOrderId("8001", "reconfirmed"));
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS, settlementBrokers: SETTLEMENT_BROKERS });
  } finally {
    await auth.close();
  }
});
