/**
 * The sim's wire protocol, asserted directly over raw WebSockets (no tqsdk merge in between): the
 * market-data socket's `rsp_login`, peek gating, `ins_list` echo, full quote then diffs and `"-"`; trade
 * accounts isolated from each other, two connections of one account seeing each other's orders; the
 * CTP-like settlement confirmation; the control API's raw-frame injection.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import {
  type Frame,
  insertPacket,
  notifiesOf,
  patches,
  RawDiffSocket,
  rawLogin,
  tradeOf,
} from "../../tests/sim/raw_diff.ts";
import { type Sim, startSim } from "./mod.ts";
import { controlSim } from "../../tests/helpers/external_sim.ts";

const RB = "SHFE.rb2605";
const M = "DCE.m2605";

async function withSim(fn: (sim: Sim) => Promise<void>, settlementBrokers?: string[]): Promise<void> {
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 11,
    tickMs: 0,
    frozenClock: true,
    accounts: [
      { user: "alice", password: "a-pw", balance: 1_000_000 },
      { user: "bob", password: "b-pw", balance: 2_000_000 },
    ],
    brokers: ["sim", "H期货"],
    settlementBrokers,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

const post = (sim: Sim, path: string, body: unknown) => controlSim(sim, path, body);

function quotesOf(f: Frame): Record<string, Frame> {
  const out: Record<string, Frame> = {};
  for (const p of patches(f)) {
    for (const [k, v] of Object.entries((p.quotes ?? {}) as Record<string, Frame>)) {
      out[k] = { ...out[k], ...v };
    }
  }
  return out;
}

function ordersIn(s: RawDiffSocket, user: string): Set<string> {
  const ids = new Set<string>();
  for (const f of s.frames) {
    for (const id of Object.keys((tradeOf(f, user)?.orders ?? {}) as Frame)) ids.add(id);
  }
  return ids;
}

Deno.test("sim md socket: rsp_login on open, rtn_data only after a peek, ins_list echo, full quote then diffs, '-'", async () => {
  await withSim(async (sim) => {
    const md = await RawDiffSocket.open(sim.mdUrl);
    try {
      // rsp_login arrives unasked, before any peek; nothing else does
      const login = await md.waitFor("rsp_login", (f) => f.aid === "rsp_login" && f);
      assertEquals(login, { aid: "rsp_login", account_id: "", session_id: "MDSESSION" });
      assertEquals(md.frames.length, 1);
      assertEquals(await md.after(150, 1), []);

      // the first peek gets the initial tree
      md.send({ aid: "peek_message" });
      const first = await md.waitFor("first rtn_data", (f) => f.aid === "rtn_data" && f);
      assertEquals(first, {
        aid: "rtn_data",
        data: [{ account_id: "", ins_list: "", mdhis_more_data: false }, {}],
      });

      // a subscription is answered only on the next peek
      const list = `${RB},${M}`;
      let from = md.mark();
      md.send({ aid: "subscribe_quote", ins_list: list });
      assertEquals(await md.after(150, from), []);
      md.send({ aid: "peek_message" });
      const sub = await md.waitFor("quotes", (f) => Object.keys(quotesOf(f)).length > 0 && f, { from });
      assertEquals(patches(sub).find((p) => "ins_list" in p)?.ins_list, list);
      const full = quotesOf(sub);
      assertEquals(Object.keys(full).sort(), [M, RB].sort());
      // the full quote: every field the market holds, "-" for what has no value yet, null for empty levels
      assertEquals(full[RB], sim.market.quote(RB));
      assertEquals([full[RB].settlement, full[RB].close], ["-", "-"]);
      assert(Object.keys(full[RB]).length >= 40, `full quote has ${Object.keys(full[RB]).length} fields`);
      assertEquals(full[RB].ask_price10, null);
      assert(typeof full[RB].upper_limit === "number" && typeof full[RB].lower_limit === "number");

      // a held peek is answered by the next change, with only the changed fields
      from = md.mark();
      md.send({ aid: "peek_message" });
      assertEquals(await md.after(100, from), []);
      await post(sim, "/sim/quote", { symbol: RB, last_price: 3100, bid_price1: 3099, close: "-" });
      const diff = await md.waitFor("diff", (f) => quotesOf(f)[RB] && f, { from });
      assertEquals(quotesOf(diff), { [RB]: { last_price: 3100, bid_price1: 3099, close: "-" } });

      // changes made while no peek is outstanding wait for one, and arrive merged into one frame
      from = md.mark();
      await post(sim, "/sim/quote", { symbol: RB, last_price: 3101 });
      await post(sim, "/sim/quote", { symbol: M, last_price: 2800, settlement: "-" });
      assertEquals(await md.after(100, from), []);
      md.send({ aid: "peek_message" });
      const merged = await md.waitFor("merged diff", (f) => Object.keys(quotesOf(f)).length === 2 && f, {
        from,
      });
      assertEquals(quotesOf(merged), {
        [RB]: { last_price: 3101 },
        [M]: { last_price: 2800, settlement: "-" },
      });
      assertEquals(md.frames.length, from + 1);

      // a symbol dropped from the list gets no more updates; a new list replaces the old one
      from = md.mark();
      md.send({ aid: "subscribe_quote", ins_list: M });
      md.send({ aid: "peek_message" });
      const echo = await md.waitFor("echo", (f) => patches(f).some((p) => p.ins_list === M) && f, { from });
      assertEquals(quotesOf(echo), {});
      from = md.mark();
      md.send({ aid: "peek_message" });
      await post(sim, "/sim/quote", { symbol: RB, last_price: 3102 });
      assertEquals(await md.after(150, from), []);
    } finally {
      await md.close();
    }
  });
});

Deno.test("sim trade sockets: two accounts at once are isolated; two connections of one account see each other's orders", async () => {
  await withSim(async (sim) => {
    await post(sim, "/sim/quote", {
      symbol: RB,
      bid_price1: 3500,
      ask_price1: 3501,
      last_price: 3500,
      upper_limit: 4000,
      lower_limit: 3000,
    });
    const a1 = await rawLogin(sim.baseUrl, "alice", "a-pw");
    const a2 = await rawLogin(sim.baseUrl, "alice", "a-pw");
    const b = await rawLogin(sim.baseUrl, "bob", "b-pw");
    try {
      // each gets its own account's snapshot only
      for (
        const [s, user, balance] of [[a1, "alice", 1_000_000], [a2, "alice", 1_000_000], [
          b,
          "bob",
          2_000_000,
        ]] as const
      ) {
        s.send({ aid: "peek_message" });
        const snap = await s.waitFor(
          `${user} snapshot`,
          (f) => tradeOf(f, user)?.trade_more_data === false && f,
        );
        assertEquals(((tradeOf(snap, user)!.accounts as Frame).CNY as Frame).balance, balance);
        assertEquals(Object.keys(patches(snap)[0].trade as Frame), [user]);
      }
      const keepPeeking = (s: RawDiffSocket) => {
        const from = s.mark();
        s.send({ aid: "peek_message" });
        return from;
      };
      // an order from one alice connection shows on the other; bob sees nothing of it
      let fa1 = keepPeeking(a1), fa2 = keepPeeking(a2), fb = keepPeeking(b);
      a2.send(insertPacket("alice", "from-a2"));
      await a1.waitFor("a2's order on a1", (f) => (tradeOf(f, "alice")?.orders as Frame)?.["from-a2"], {
        from: fa1,
      });
      await a2.waitFor("a2's order on a2", (f) => (tradeOf(f, "alice")?.orders as Frame)?.["from-a2"], {
        from: fa2,
      });
      fa1 = keepPeeking(a1);
      fa2 = keepPeeking(a2);
      a1.send(insertPacket("alice", "from-a1"));
      await a2.waitFor("a1's order on a2", (f) => (tradeOf(f, "alice")?.orders as Frame)?.["from-a1"], {
        from: fa2,
      });
      await a1.waitFor("a1's order on a1", (f) => (tradeOf(f, "alice")?.orders as Frame)?.["from-a1"], {
        from: fa1,
      });
      // alice's notifies (417 下单成功) go to both alice connections, never to bob
      const inserted = (s: RawDiffSocket) =>
        s.frames.flatMap(notifiesOf).filter((n) => n.code === 417).length;
      assertEquals([inserted(a1), inserted(a2), inserted(b)], [2, 2, 0]);

      // bob's order is bob's alone
      b.send(insertPacket("bob", "from-b"));
      await b.waitFor("bob's order", (f) => (tradeOf(f, "bob")?.orders as Frame)?.["from-b"], { from: fb });
      // with a peek outstanding on bob's connection, another alice order reaches alice only
      fb = keepPeeking(b);
      fa1 = keepPeeking(a1);
      a2.send(insertPacket("alice", "from-a2-again"));
      await a1.waitFor("a2's 2nd order", (f) => (tradeOf(f, "alice")?.orders as Frame)?.["from-a2-again"], {
        from: fa1,
      });
      assertEquals(await b.after(100, fb), []);
      for (const s of [a1, a2]) {
        assert(!ordersIn(s, "alice").has("from-b"));
        assert(s.frames.every((f) => tradeOf(f, "bob") === undefined));
      }
      assertEquals([...ordersIn(b, "bob")], ["from-b"]);
      assert(b.frames.every((f) => tradeOf(f, "alice") === undefined));
      // and the engine agrees: each account holds its own orders
      assertEquals(Object.keys(sim.engine().snapshot("alice").orders).sort(), [
        "from-a1",
        "from-a2",
        "from-a2-again",
      ]);
      assertEquals(Object.keys(sim.engine().snapshot("bob").orders), ["from-b"]);
      // an alice connection cannot place an order for bob (user_id must start with the login user)
      const fb2 = b.mark(); // bob's peek is still outstanding
      fa1 = keepPeeking(a1);
      a1.send(insertPacket("bob", "spoofed"));
      const refusal = await a1.waitFor("408", (f) => notifiesOf(f).find((n) => n.code === 408), {
        from: fa1,
      });
      assertEquals(refusal.content, "下单, 已被服务器拒绝, 原因:下单指令中的用户名错误");
      assertEquals(await b.after(100, fb2), []);
      assertEquals(sim.engine().snapshot("bob").orders.spoofed, undefined);
    } finally {
      await Promise.all([a1.close(), a2.close(), b.close()]);
    }
  });
});

Deno.test("sim settlement (CTP-like broker): statement notify, orders refused with 42 until confirmed, a silent confirmation", async () => {
  await withSim(async (sim) => {
    await post(sim, "/sim/quote", {
      symbol: RB,
      bid_price1: 3500,
      ask_price1: 3501,
      last_price: 3500,
      upper_limit: 4000,
      lower_limit: 3000,
    });
    const s = await rawLogin(sim.baseUrl, "alice", "a-pw", "H期货");
    try {
      const statement = await s.waitFor("325", (f) => notifiesOf(f).find((n) => n.code === 325));
      assertEquals([statement.type, statement.level], ["SETTLEMENT", "INFO"]);
      s.send({ aid: "peek_message" });
      await s.waitFor("snapshot", (f) => tradeOf(f, "alice")?.trade_more_data === false);

      let from = s.mark();
      s.send({ aid: "peek_message" });
      s.send(insertPacket("alice", "before-confirm"));
      const refused = await s.waitFor("42", (f) => notifiesOf(f).find((n) => n.code === 42), { from });
      assertEquals([refused.level, refused.content], ["WARNING", "下单失败,CTP:结算结果未确认"]);
      const order = await s.waitFor(
        "refused order",
        (f) => (tradeOf(f, "alice")?.orders as Record<string, Frame>)?.["before-confirm"],
        { from },
      );
      assertEquals([order.status, order.last_msg, order.exchange_order_id], [
        "FINISHED",
        "CTP:结算结果未确认",
        "",
      ]);

      // the confirmation is answered with nothing at all (a peek is outstanding)
      from = s.mark();
      s.send({ aid: "peek_message" });
      s.send({ aid: "confirm_settlement" });
      assertEquals(await s.after(150, from), []);
      s.send(insertPacket("alice", "after-confirm"));
      const ok = await s.waitFor("417", (f) => notifiesOf(f).find((n) => n.code === 417), { from });
      assertEquals(ok.content, "下单成功");

      // confirmed for the day on every connection: a second login is not shown the statement again
      const again = await rawLogin(sim.baseUrl, "alice", "a-pw", "H期货");
      try {
        assertEquals((await again.after(100, 0)).flatMap(notifiesOf).map((n) => n.code), [401]);
      } finally {
        await again.close();
      }
      // a broker without the requirement never asks
      const plain = await rawLogin(sim.baseUrl, "bob", "b-pw", "sim");
      try {
        assertEquals((await plain.after(100, 0)).flatMap(notifiesOf).map((n) => n.code), [401]);
      } finally {
        await plain.close();
      }
      // the refuse_settlement fault answers a confirmation with 336
      await post(sim, "/sim/faults", { refuse_settlement: true });
      from = s.mark();
      s.send({ aid: "confirm_settlement" });
      const n336 = await s.waitFor("336", (f) => notifiesOf(f).find((n) => n.code === 336), { from });
      assertEquals([n336.level, n336.content], ["WARNING", "当前时间不支持确认结算单"]);
    } finally {
      await s.close();
    }
  }, ["H期货"]);
});

Deno.test("sim control: /sim/inject sends a raw frame ungated; /sim/release sends a held snapshot part", async () => {
  await withSim(async (sim) => {
    const md = await RawDiffSocket.open(sim.mdUrl);
    const t = await rawLogin(sim.baseUrl, "alice", "a-pw");
    try {
      await md.waitFor("rsp_login", (f) => f.aid === "rsp_login");
      const raw = '{"aid":"rtn_data","data":[{"quotes":{"SHFE.rb2605":{"last_price":1e400}}}]}';
      assertEquals(await post(sim, "/sim/inject", { kind: "md", text: raw }), { sent: 1 });
      const got = await md.waitFor("injected", (f) => f.aid === "rtn_data" && f);
      assertEquals(quotesOf(got)[RB].last_price, Infinity); // the text arrived exactly as given
      assertEquals(await post(sim, "/sim/inject", { kind: "trade", user: "bob", text: "{}" }), { sent: 0 });
      assertEquals(await post(sim, "/sim/inject", { kind: "trade", user: "alice", text: "alert(1)" }), {
        sent: 1,
      });
      const res = await fetch(`${sim.baseUrl}/sim/inject`, { method: "POST", body: '{"kind":"md"}' });
      assertEquals([res.status, (await res.json()).error], [400, "text: expected a string (the raw frame)"]);

      await post(sim, "/sim/faults", { split_snapshot: true, hold_snapshot: true });
      const held = await rawLogin(sim.baseUrl, "alice", "a-pw");
      try {
        held.send({ aid: "peek_message" });
        const part1 = await held.waitFor("part 1", (f) => tradeOf(f, "alice")?.trade_more_data === true && f);
        assertEquals(tradeOf(part1, "alice")!.orders, undefined);
        const from = held.mark();
        held.send({ aid: "peek_message" });
        assertEquals(await held.after(150, from), []);
        assertEquals(await post(sim, "/sim/release", {}), { released: 1 });
        const part2 = await held.waitFor(
          "part 2",
          (f) => tradeOf(f, "alice")?.trade_more_data === false && f,
          {
            from,
          },
        );
        assertEquals(tradeOf(part2, "alice")!.orders, {});
      } finally {
        await held.close();
      }
    } finally {
      await Promise.all([md.close(), t.close()]);
    }
  });
});
