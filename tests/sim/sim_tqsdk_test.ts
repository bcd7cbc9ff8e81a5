/**
 * The real npm `tqsdk` client against the sim exchange over WebSocket: login, quotes, orders, fills,
 * cancels, every reject reason, SHFE close-today/yesterday, arithmetic and reconnects.
 */
import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import { type Sim, startSim } from "../../lib/sim/mod.ts";
import { buildCatalogue } from "../../lib/sim/catalogue.ts";
import type { SymbolsFile } from "../../lib/diff/types.ts";
import { openTqClient, settle, type TqClient } from "../helpers/tq_client.ts";
import { controlSim } from "../helpers/external_sim.ts";

const RB = "SHFE.rb2605";
const M = "DCE.m2605";

interface Env {
  sim: Sim;
  client: TqClient;
}

async function withSim(
  fn: (env: Env) => Promise<void>,
  options: { clock?: string; user?: string; catalogue?: SymbolsFile } = {},
): Promise<void> {
  const sim = await startSim({
    catalogue: options.catalogue,
    host: "127.0.0.1",
    port: 0,
    clock: options.clock ?? "2025-12-24T10:00:00+08:00",
    seed: 7,
    tickMs: 0,
    frozenClock: true,
    accounts: [
      { user: "demo", password: "demo", balance: 10_000_000 },
      { user: "poor", password: "poor", balance: 1_000 },
    ],
  });
  let client: TqClient | undefined;
  try {
    const user = options.user ?? "demo";
    client = await openTqClient(sim.baseUrl, { user, password: user });
    await fn({ sim, client });
  } finally {
    client?.close();
    await settle(20);
    await sim.close();
  }
}

const control = controlSim;

/** Put an exact one-tick book on a symbol (with wide limits unless given). */
function book(
  sim: Sim,
  symbol: string,
  bid: number,
  ask: number,
  extra: Record<string, number> = {},
): Promise<Record<string, unknown>> {
  return control(sim, "/sim/quote", {
    symbol,
    bid_price1: bid,
    ask_price1: ask,
    bid_volume1: 10,
    ask_volume1: 10,
    last_price: bid,
    upper_limit: 4000,
    lower_limit: 3000,
    ...extra,
  });
}

let seq = 0;
function oid(tag: string): string {
  return `T${++seq}_${tag}`;
}

function insert(client: TqClient, fields: Record<string, unknown>): string {
  const order_id = (fields.order_id as string | undefined) ?? oid("o");
  const [exchange_id, instrument_id] = String(fields.symbol ?? RB).split(".");
  const packet: Record<string, unknown> = {
    aid: "insert_order",
    user_id: client.account.user_id,
    order_id,
    exchange_id,
    instrument_id,
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    price_type: "LIMIT",
    volume_condition: "ANY",
    time_condition: "GFD",
    ...fields,
  };
  delete packet.symbol;
  client.sendTrade(packet);
  return order_id;
}

function order(client: TqClient, id: string): Record<string, unknown> | undefined {
  const o = client.tq.getOrder({ ...client.account, order_id: id });
  return o && o.insert_date_time ? o : undefined;
}

function finished(client: TqClient, id: string): Promise<Record<string, unknown>> {
  return client.waitFor(`order ${id} FINISHED`, () => {
    const o = order(client, id);
    return o?.status === "FINISHED" ? o : undefined;
  });
}

function alive(client: TqClient, id: string): Promise<Record<string, unknown>> {
  return client.waitFor(`order ${id} ALIVE`, () => {
    const o = order(client, id);
    return o?.status === "ALIVE" && o.exchange_order_id ? o : undefined;
  });
}

function notifyFor(client: TqClient, code: number): Promise<Record<string, unknown>> {
  return client.waitFor(`notify ${code}`, () => client.notifies.find((n) => n.code === code));
}

function position(client: TqClient, symbol: string): Record<string, number> {
  return client.tq.getPosition({ ...client.account, symbol }) as Record<string, number>;
}

function account(client: TqClient): Record<string, number> {
  return client.tq.getAccount(client.account) as Record<string, number>;
}

Deno.test("sim: tqsdk logs in, loads the catalogue and receives subscribed quotes", async () => {
  await withSim(async ({ sim, client }) => {
    assert(client.tq.isLogined(client.account));
    assert(client.notifies.some((n) => n.code === 401 && n.level === "INFO" && n.content === "登录成功"));
    await book(sim, RB, 3500, 3501);
    client.tq.subscribeQuote([RB, "SHFE.nope9999"]);
    const quote = await client.waitFor("rb quote", () => {
      const q = client.tq.getQuote(RB);
      return q.ask_price1 === 3501 ? q : undefined;
    });
    assertEquals(quote.bid_price1, 3500);
    assertEquals(quote.upper_limit, 4000);
    assertEquals(quote.price_tick, 1);
    assertEquals(quote.volume_multiple, 10);
    await book(sim, RB, 3502, 3503);
    await client.waitFor("quote diff", () => client.tq.getQuote(RB).ask_price1 === 3503);
    const acc = account(client);
    assertEquals(acc.balance, 10_000_000);
    assertEquals(acc.available, 10_000_000);
  });
});

Deno.test("sim: a wrong password gets a WARNING notify and no session", async () => {
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 1,
    tickMs: 0,
    frozenClock: true,
    accounts: [{ user: "demo", password: "demo", balance: 1e7 }],
  });
  const client = await openTqClient(sim.baseUrl, { user: "demo", password: "wrong", noWait: true });
  try {
    const n = await client.waitFor("login failure", () => client.notifies.find((x) => x.level === "WARNING"));
    assert(n.code === 402 || n.code === 403, `code ${n.code}`);
    await settle(50);
    assertEquals(client.tq.isLogined(client.account), false);
  } finally {
    client.close();
    await settle(20);
    await sim.close();
  }
});

Deno.test("sim: a limit order rests, then fills at its own price when the book crosses", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    const id = insert(client, { limit_price: 3495, volume: 2 });
    const o = await alive(client, id);
    assertEquals(o.exchange_order_id, id);
    assertEquals(o.last_msg, "报单成功");
    assertEquals(o.volume_left, 2);
    await notifyFor(client, 417);
    await book(sim, RB, 3490, 3494);
    const done = await finished(client, id);
    assertEquals(done.volume_left, 0);
    assertEquals(done.last_msg, "全部成交");
    const trades = Object.values(client.tq.getTrades(client.account)).filter((t) => t.order_id === id);
    assertEquals(trades.length, 1);
    assertEquals(trades[0].price, 3495);
    assertEquals(trades[0].volume, 2);
    assertEquals(trades[0].trade_id, `${id}|2`);
    await notifyFor(client, 406);
    assertEquals(position(client, RB).volume_long_today, 2);
  });
});

Deno.test("sim: immediate fill, then close-today, with hand-computed account arithmetic", async () => {
  await withSim(async ({ sim, client }) => {
    // rb: multiplier 10, margin 2433.6 per lot, commission 3.042 per lot (sandbox 2025 values).
    await book(sim, RB, 3500, 3501);
    const open = insert(client, { limit_price: 3501, volume: 2 });
    const filled = await finished(client, open);
    assertEquals(filled.last_msg, "全部成交");
    await client.waitFor("position", () => position(client, RB).volume_long === 2);
    let pos = position(client, RB);
    assertEquals(pos.volume_long_today, 2);
    assertEquals(pos.pos_long_today, 2);
    assertEquals(pos.open_price_long, 3501);
    assertAlmostEquals(pos.margin_long, 4867.2, 1e-6);
    assertAlmostEquals(pos.float_profit_long, -20, 1e-6); // (3500 - 3501) * 2 * 10
    let acc = account(client);
    assertAlmostEquals(acc.commission, 6.084, 1e-6);
    assertAlmostEquals(acc.margin, 4867.2, 1e-6);
    assertAlmostEquals(acc.balance, 10_000_000 - 6.084 - 20, 1e-6);
    assertAlmostEquals(acc.available, 10_000_000 - 6.084 - 20 - 4867.2, 1e-6);
    assertAlmostEquals(acc.risk_ratio, 4867.2 / (10_000_000 - 6.084 - 20), 1e-9);

    await book(sim, RB, 3510, 3511);
    await client.waitFor("revaluation", () => Math.abs(account(client).position_profit - 180) < 1e-6);
    acc = account(client);
    assertAlmostEquals(acc.balance, 10_000_000 - 6.084 + 180, 1e-6);

    const close = insert(client, { direction: "SELL", offset: "CLOSETODAY", limit_price: 3510, volume: 1 });
    await finished(client, close);
    await client.waitFor("closed one", () => position(client, RB).volume_long === 1);
    pos = position(client, RB);
    assertEquals(pos.volume_long_today, 1);
    acc = account(client);
    assertAlmostEquals(acc.close_profit, 90, 1e-6); // (3510 - 3501) * 1 * 10
    assertAlmostEquals(acc.commission, 9.126, 1e-6);
    assertAlmostEquals(acc.position_profit, 90, 1e-6);
    assertAlmostEquals(acc.margin, 2433.6, 1e-6);
    assertAlmostEquals(acc.balance, 10_000_000 + 90 - 9.126 + 90, 1e-6);
    assertAlmostEquals(acc.available, 10_000_000 + 90 - 9.126 + 90 - 2433.6, 1e-6);
  });
});

Deno.test("sim: an IOC order that cannot trade is cancelled at once; a cancel request cancels", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    const ioc = insert(client, { limit_price: 3499, time_condition: "IOC" });
    const o = await finished(client, ioc);
    assertEquals(o.last_msg, "已撤单报单已提交");
    assertEquals(o.volume_left, 1);

    const rest = insert(client, { limit_price: 3490 });
    await alive(client, rest);
    await client.waitFor("frozen margin", () => account(client).frozen_margin > 0);
    client.tq.cancelOrder({ ...client.account, order_id: rest });
    const c = await finished(client, rest);
    assertEquals(c.last_msg, "已撤单");
    await notifyFor(client, 419);
    await client.waitFor("margin released", () => account(client).frozen_margin === 0);

    client.tq.cancelOrder({ ...client.account, order_id: "no-such-order" });
    await notifyFor(client, 420);
  });
});

/** The catalogue with one option on rb (not a future: the sim trades futures only). */
function catalogueWithOption(): SymbolsFile {
  const catalogue = buildCatalogue(Date.parse("2025-12-24T10:00:00+08:00"));
  catalogue["SHFE.rb2605C3500"] = {
    ...catalogue[RB],
    class: "OPTION",
    instrument_id: "SHFE.rb2605C3500",
    ins_id: "rb2605C3500",
    ins_name: "螺纹2605购3500",
  };
  return catalogue;
}

Deno.test("sim: every reject reason is a FINISHED order with its reason and an OTG notify", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501, { upper_limit: 3600, lower_limit: 3400 });
    await book(sim, M, 2700, 2701, { upper_limit: 2900, lower_limit: 2500 });
    // notify code and content as OTG's sim back end sends them (tradersim.cpp), last_msg as the order keeps it
    const cases: {
      name: string;
      fields: Record<string, unknown>;
      code: number;
      content: string;
      lastMsg: string;
    }[] = [
      {
        name: "unknown instrument",
        fields: { symbol: "SHFE.zz9999", limit_price: 1 },
        code: 409,
        content: "下单, 已被服务器拒绝, 原因:合约不合法",
        lastMsg: "合约不合法",
      },
      {
        name: "not a future",
        fields: { symbol: "SHFE.rb2605C3500", limit_price: 100 },
        code: 410,
        content: "下单, 已被服务器拒绝, 原因:模拟交易只支持期货合约",
        lastMsg: "模拟交易只支持期货合约",
      },
      {
        name: "zero volume",
        fields: { limit_price: 3500, volume: 0 },
        code: 411,
        content: "下单, 已被服务器拒绝, 原因:下单手数应该大于0",
        lastMsg: "下单手数应该大于0",
      },
      {
        name: "volume over max_limit_order_volume (500)",
        fields: { limit_price: 3500, volume: 501 },
        code: 411,
        content: "下单,已被服务器拒绝,原因:下单手数超过单笔最大下单手数",
        lastMsg: "下单手数超过单笔最大下单手数",
      },
      {
        name: "off tick",
        fields: { limit_price: 3500.5 },
        code: 412,
        content: "下单,已被服务器拒绝, 原因:下单价格不是价格单位的整倍数",
        lastMsg: "下单价格不是价格单位的整倍数",
      },
      {
        name: "market order on SHFE",
        fields: { price_type: "ANY", time_condition: "IOC", limit_price: undefined },
        code: 412,
        content: "下单,已被服务器拒绝,原因:交易所不支持市价单",
        lastMsg: "交易所不支持市价单",
      },
      {
        name: "above upper limit",
        fields: { limit_price: 3601 },
        code: 404,
        content: "下单,已被服务器拒绝,原因:已撤单报单被拒绝价格超出涨停板",
        lastMsg: "已撤单报单被拒绝价格超出涨停板",
      },
      {
        name: "below lower limit",
        fields: { limit_price: 3399 },
        code: 405,
        content: "下单,已被服务器拒绝,原因:已撤单报单被拒绝价格跌破跌停板",
        lastMsg: "已撤单报单被拒绝价格跌破跌停板",
      },
      {
        name: "close without position (DCE)",
        fields: { symbol: M, direction: "SELL", offset: "CLOSE", limit_price: 2700 },
        code: 416,
        content: "下单,已被服务器拒绝,原因:平仓手数超过持仓量",
        lastMsg: "平仓手数不足",
      },
      {
        name: "close today without position (SHFE)",
        fields: { direction: "SELL", offset: "CLOSETODAY", limit_price: 3500 },
        code: 414,
        content: "下单,已被服务器拒绝,原因:平今手数超过今仓持仓量",
        lastMsg: "平今仓手数不足",
      },
      {
        name: "close yesterday without position (SHFE)",
        fields: { direction: "SELL", offset: "CLOSE", limit_price: 3500 },
        code: 415,
        content: "下单,已被服务器拒绝,原因:平昨手数超过昨仓持仓量",
        lastMsg: "平昨仓手数不足",
      },
      {
        name: "wrong user_id prefix",
        fields: { user_id: "someone-else", limit_price: 3500 },
        code: 408,
        content: "下单, 已被服务器拒绝, 原因:下单指令中的用户名错误",
        lastMsg: "下单指令中的用户名错误",
      },
    ];
    for (const c of cases) {
      const before = client.notifies.length;
      const id = insert(client, c.fields);
      const o = await finished(client, id);
      assertEquals(o.exchange_order_id, "", c.name);
      assertEquals(o.volume_left, o.volume_orign, c.name);
      assertEquals(o.last_msg, c.lastMsg, c.name);
      const n = await client.waitFor(
        c.name,
        () => client.notifies.slice(before).find((x) => x.level === "WARNING"),
      );
      assertEquals([n.code, n.content], [c.code, c.content], c.name);
      // exactly one notify per refusal, and no 417 下单成功
      await settle(20);
      assertEquals(client.notifies.slice(before).map((x) => x.code), [c.code], c.name);
    }
    // boundary cases pass: exactly the upper limit, exactly a tick multiple, exactly the max volume
    const edge = insert(client, { limit_price: 3600 });
    assertEquals((await finished(client, edge)).last_msg, "全部成交");
    const max = insert(client, { limit_price: 3400, volume: 500 });
    assertEquals((await alive(client, max)).last_msg, "报单成功");

    // duplicate order id: notify 407, the existing order untouched
    const before = client.notifies.length;
    insert(client, { order_id: edge, limit_price: 3500 });
    const dup = await client.waitFor("dup", () => client.notifies.slice(before).find((x) => x.code === 407));
    assertEquals([dup.level, dup.content], ["WARNING", "下单, 已被服务器拒绝,原因:单号重复"]);
    assertEquals(order(client, edge)?.last_msg, "全部成交");
  }, { catalogue: catalogueWithOption() });
});

Deno.test("sim: insufficient margin is refused with 开仓资金不足", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    const id = insert(client, { limit_price: 3500 }); // margin 2433.6 > balance 1000
    const o = await finished(client, id);
    assertEquals(o.last_msg, "开仓资金不足");
    const n = await notifyFor(client, 413);
    assertEquals([n.level, n.content], ["WARNING", "下单,已被服务器拒绝,原因:开仓保证金不足"]);
  }, { user: "poor" });
});

Deno.test("sim: an order outside the trading session is refused", async () => {
  // 12:00 Beijing is the lunch break for rb (11:30-13:30).
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    const id = insert(client, { limit_price: 3501 });
    const o = await finished(client, id);
    assertEquals(o.last_msg, "下单失败, 不在可交易时间段内");
  }, { clock: "2025-12-24T12:00:00+08:00" });
});

Deno.test("sim: SHFE close-today vs close-yesterday, net of frozen lots", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    await finished(client, insert(client, { limit_price: 3501, volume: 2 }));
    await control(sim, "/sim/settle", {});
    await client.waitFor("rolled to his", () => position(client, RB).volume_long_his === 2);
    assertEquals(position(client, RB).volume_long_today, 0);
    await book(sim, RB, 3500, 3501);
    await finished(client, insert(client, { limit_price: 3501, volume: 1 }));
    await client.waitFor("today lot", () => position(client, RB).volume_long_today === 1);

    // CLOSETODAY 2 with only 1 today lot: refused
    const tooMany = await finished(
      client,
      insert(client, { direction: "SELL", offset: "CLOSETODAY", limit_price: 3500, volume: 2 }),
    );
    assertEquals(tooMany.last_msg, "平今仓手数不足");

    // a resting CLOSETODAY freezes the today lot; a second one is refused
    const resting = insert(client, { direction: "SELL", offset: "CLOSETODAY", limit_price: 3550, volume: 1 });
    await alive(client, resting);
    await client.waitFor("frozen today", () => position(client, RB).volume_long_frozen_today === 1);
    const second = await finished(
      client,
      insert(client, { direction: "SELL", offset: "CLOSETODAY", limit_price: 3550, volume: 1 }),
    );
    assertEquals(second.last_msg, "平今仓手数不足");

    // CLOSE on SHFE takes yesterday's lots
    await finished(
      client,
      insert(client, { direction: "SELL", offset: "CLOSE", limit_price: 3500, volume: 2 }),
    );
    await client.waitFor("his closed", () => position(client, RB).volume_long_his === 0);
    const pos = position(client, RB);
    assertEquals(pos.volume_long_today, 1);
    const third = await finished(
      client,
      insert(client, { direction: "SELL", offset: "CLOSE", limit_price: 3500, volume: 1 }),
    );
    assertEquals(third.last_msg, "平昨仓手数不足");
  });
});

Deno.test("sim: a dropped trade socket reconnects and receives a full snapshot, others' orders included", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    const first = insert(client, { limit_price: 3490 });
    await alive(client, first);

    const second = await openTqClient(sim.baseUrl, { user: "demo", password: "demo" });
    try {
      // a second terminal sees the first terminal's order, and vice versa
      await second.waitFor("first terminal's order", () => order(second, first));
      const other = insert(second, { limit_price: 3491 });
      await client.waitFor("second terminal's order", () => order(client, other));

      await control(sim, "/sim/drop", { kind: "trade", user: "demo" });
      // both terminals of demo are dropped; each reconnects on its own and logs in again
      await client.waitFor("relogin", () => client.notifies.filter((n) => n.code === 401).length >= 2, 5000);
      await client.waitFor("logged in again", () => client.tq.isLogined(client.account));
      assertEquals(order(client, first)?.status, "ALIVE");
      assertEquals(order(client, other)?.status, "ALIVE");
      const conns = await control(sim, "/sim/connections");
      assert((conns.trade as number) >= 2);
    } finally {
      second.close();
    }
  });
});

Deno.test("sim: restart with state kept, then the snapshot still holds positions and orders", async () => {
  await withSim(async ({ sim, client }) => {
    await book(sim, RB, 3500, 3501);
    await finished(client, insert(client, { limit_price: 3501, volume: 3 }));
    const resting = insert(client, { limit_price: 3400 });
    await alive(client, resting);
    await control(sim, "/sim/restart", { down_ms: 150 });
    await client.waitFor("relogin", () => client.notifies.filter((n) => n.code === 401).length >= 2, 5000);
    await client.waitFor("snapshot", () => client.tq.isLogined(client.account));
    assertEquals(position(client, RB).volume_long_today, 3);
    assertEquals(order(client, resting)?.status, "ALIVE");
    // the restarted engine still trades
    await book(sim, RB, 3399, 3400);
    await finished(client, resting);
  });
});
