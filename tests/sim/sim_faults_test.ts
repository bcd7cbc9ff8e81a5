/**
 * The sim's fault injection, seen from the real tqsdk client: insert faults (socket dropped before or after
 * the order, order swallowed), duplicated and delayed frames, refused logins and a snapshot in two parts.
 */
import { assert, assertEquals } from "../assert.ts";
import { type Sim, startSim } from "../../lib/sim/mod.ts";
import { openTqClient, settle, type TqClient } from "../helpers/tq_client.ts";
import { insertPacket, rawLogin, tradeOf } from "./raw_diff.ts";
import { controlSim } from "../helpers/external_sim.ts";

const RB = "SHFE.rb2605";

async function simWith(fn: (sim: Sim) => Promise<void>): Promise<void> {
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 3,
    tickMs: 0,
    frozenClock: true,
    accounts: [{ user: "demo", password: "demo", balance: 10_000_000 }],
  });
  try {
    await fn(sim);
  } finally {
    await settle(20);
    await sim.close();
  }
}

const post = (sim: Sim, path: string, body: unknown) => controlSim(sim, path, body);

function seen(client: TqClient, id: string): Record<string, unknown> | undefined {
  const o = client.tq.getOrder({ ...client.account, order_id: id });
  return o && o.insert_date_time ? o : undefined;
}

Deno.test("sim faults: a socket dropped after insert keeps the order; one dropped before never has it", async () => {
  await simWith(async (sim) => {
    await post(sim, "/sim/quote", {
      symbol: RB,
      bid_price1: 3500,
      ask_price1: 3501,
      upper_limit: 4000,
      lower_limit: 3000,
    });
    const client = await openTqClient(sim.baseUrl, { user: "demo", password: "demo" });
    try {
      await post(sim, "/sim/faults", { insert_faults: ["drop_after"] });
      client.sendTrade(insertPacket("demo", "kept-1", 3490));
      await client.waitFor("relogin", () => client.notifies.filter((n) => n.code === 401).length >= 2);
      const kept = await client.waitFor("order in new snapshot", () => seen(client, "kept-1"));
      assertEquals(kept.status, "ALIVE");

      await post(sim, "/sim/faults", { insert_faults: ["drop_before"] });
      client.sendTrade(insertPacket("demo", "lost-1", 3490));
      await client.waitFor("relogin", () => client.notifies.filter((n) => n.code === 401).length >= 3);
      await client.waitFor("logged in", () => client.tq.isLogined(client.account));
      await settle(100);
      assertEquals(seen(client, "lost-1"), undefined);
      const state = await (await fetch(`${sim.baseUrl}/sim/account?user=demo`)).json();
      assert(state.orders["kept-1"]);
      assertEquals(state.orders["lost-1"], undefined);

      await post(sim, "/sim/faults", { insert_faults: ["ignore"] });
      client.sendTrade(insertPacket("demo", "swallowed", 3490));
      await settle(150);
      assertEquals(seen(client, "swallowed"), undefined);
    } finally {
      client.close();
    }
  });
});

Deno.test("sim faults: duplicated and delayed frames leave the client's view correct", async () => {
  await simWith(async (sim) => {
    await post(sim, "/sim/quote", {
      symbol: RB,
      bid_price1: 3500,
      ask_price1: 3501,
      upper_limit: 4000,
      lower_limit: 3000,
    });
    await post(sim, "/sim/faults", { duplicate: true, delay_ms: 30 });
    const client = await openTqClient(sim.baseUrl, { user: "demo", password: "demo" });
    try {
      client.sendTrade(insertPacket("demo", "dup-1", 3501));
      const o = await client.waitFor("filled", () => {
        const x = seen(client, "dup-1");
        return x?.status === "FINISHED" ? x : undefined;
      });
      assertEquals(o.last_msg, "全部成交");
      await client.waitFor(
        "position",
        () => client.tq.getPosition({ ...client.account, symbol: RB }).volume_long === 1,
      );
      const trades = Object.keys(client.tq.getTrades(client.account));
      assertEquals(trades, ["dup-1|1"]);
      // every notify arrived twice
      assertEquals(client.notifies.filter((n) => n.code === 406).length, 2);
    } finally {
      client.close();
    }
  });
});

Deno.test("sim faults: refused logins, then a snapshot delivered in two parts", async () => {
  await simWith(async (sim) => {
    await post(sim, "/sim/faults", { refuse_login: true });
    const refused = await openTqClient(sim.baseUrl, { user: "demo", password: "demo", noWait: true });
    try {
      const n = await refused.waitFor("refusal", () => refused.notifies.find((x) => x.code === 403));
      assertEquals(n.content, "用户登录失败!");
      assertEquals(refused.tq.isLogined(refused.account), false);
    } finally {
      refused.close();
    }
    await post(sim, "/sim/quote", {
      symbol: RB,
      bid_price1: 3500,
      ask_price1: 3501,
      upper_limit: 4000,
      lower_limit: 3000,
    });
    sim.engine().insertOrder("demo", insertPacket("demo", "resting-1", 3490));
    await post(sim, "/sim/faults", { reset: true, split_snapshot: true });
    // on the wire: the first part is marked incomplete and has no orders; the second completes it
    const raw = await rawLogin(sim.baseUrl, "demo", "demo");
    try {
      raw.send({ aid: "peek_message" });
      const part1 = await raw.waitFor(
        "first part",
        (f) => tradeOf(f, "demo")?.accounts ? tradeOf(f, "demo") : undefined,
      );
      assertEquals(part1.trade_more_data, true);
      assertEquals(part1.orders, undefined);
      assertEquals(
        (part1.accounts as Record<string, Record<string, unknown>>).CNY.static_balance,
        10_000_000,
      );
      const from = raw.mark();
      raw.send({ aid: "peek_message" });
      const part2 = await raw.waitFor(
        "second part",
        (f) => tradeOf(f, "demo")?.trade_more_data === false && tradeOf(f, "demo"),
        { from },
      );
      assertEquals(Object.keys(part2.orders as Record<string, unknown>), ["resting-1"]);
    } finally {
      await raw.close();
    }
    // tqsdk: logged in only once both parts are merged
    const client = await openTqClient(sim.baseUrl, { user: "demo", password: "demo" });
    try {
      assert(client.tq.isLogined(client.account));
      assertEquals(client.tq.getOrder({ ...client.account, order_id: "resting-1" })?.status, "ALIVE");
    } finally {
      client.close();
    }
  });
});

Deno.test("sim control API refuses bad input with the field named", async () => {
  await simWith(async (sim) => {
    const bad = async (path: string, body: unknown) => {
      const res = await fetch(`${sim.baseUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
      const json = await res.json();
      return { status: res.status, error: String(json.error) };
    };
    assertEquals(await bad("/sim/quote", { symbol: "SHFE.none" }), {
      status: 404,
      error: "unknown symbol SHFE.none",
    });
    assertEquals(
      (await bad("/sim/quote", { symbol: RB, ask_price1: "x" })).error,
      'ask_price1: expected a finite number, "-" or null',
    );
    assertEquals((await bad("/sim/quote", { symbol: RB, bogus: 1 })).error, "bogus: not a quote field");
    assertEquals((await bad("/sim/faults", { delay_ms: -5 })).error, "delay_ms: 0..60000");
    const notJson = await fetch(`${sim.baseUrl}/sim/faults`, { method: "POST", body: "{" });
    assertEquals(notJson.status, 400);
    await notJson.body?.cancel();
    const list = await (await fetch(`${sim.baseUrl}/broker-list.json`)).json();
    assertEquals(Object.keys(list).sort(), ["sim", "快期模拟"].sort());
    assert(String(list["快期模拟"].url).endsWith("/trade"));
    const symbols = await (await fetch(`${sim.baseUrl}/t/md/symbols/latest.json`)).json();
    assertEquals(symbols[RB].class, "FUTURE");
    assertEquals(symbols[RB].expired, false);
  });
});
