import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  insertPacketOf,
  instrumentFromTqSim,
  lzmaLines,
  readRecordedSession,
  type RecordedOrderPacket,
} from "./recorded_session.ts";

const FIXTURES = new URL("../../../shared/fixtures/tqsdk-python-logs/", import.meta.url);
const MD = "wss://openmd.shinnytech.com/t/md/front/mobile";

const JD_ENTRY = "{'ins_class': 'FUTURE', 'instrument_id': 'DCE.jd2005', 'margin': 2857.4, " +
  "'commission': 6.122999999999999, 'price_tick': 1, 'price_decs': 0, 'volume_multiple': 10, " +
  "'max_limit_order_volume': 300, 'max_market_order_volume': 300, 'min_limit_order_volume': 0, " +
  "'min_market_order_volume': 0, 'underlying_symbol': '', 'strike_price': nan, 'expired': False, " +
  "'trading_time': {'day': [['09:00:00', '10:15:00'], ['10:30:00', '11:30:00'], ['13:30:00', '15:00:00']]}, " +
  "'expire_datetime': 1590476400.0, 'delivery_month': 5, 'delivery_year': 2020, 'option_class': '', " +
  "'product_id': 'jd'}";
const INDEX_ENTRY = "{'ins_class': 'FUTURE_INDEX', 'instrument_id': 'KQ.i@DCE.jd', 'margin': None, " +
  "'commission': None, 'price_tick': 1, 'trading_time': None}";

function line(time: string, level: string, message: string): string {
  return `2020-04-09 ${time} - ${level} - ${message}`;
}

/** A miniature log in the recorded format, with every line kind the reader meets. */
const SMALL_LOG = [
  line("14:12:10,017", "DEBUG", "TqSim message received: {'aid': 'peek_message'}"),
  line(
    "14:12:10,017",
    "DEBUG",
    `TqSim message received: {'aid': 'rtn_data', 'data': [{'quotes': {'KQ.i@DCE.jd': ${INDEX_ENTRY}, ` +
      `'DCE.jd2005': ${JD_ENTRY}}}], '_md_recv': True}`,
  ),
  // TqSim forwards the table: a send without a trade key, which must not be needed.
  line("14:12:10,117", "DEBUG", `TqSim message send: {'aid': 'rtn_data', 'data': [{'quotes': {}}]}`),
  line(
    "14:12:10,917",
    "DEBUG",
    `websocket message received from ${MD}: {"aid":"rsp_login","session_id":"S"}`,
  ),
  "",
  line(
    "14:12:10,944",
    "DEBUG",
    "TqSim message send: {'aid': 'rtn_data', 'data': [{'trade': {'TQSIM': {'accounts': {'CNY': " +
      "{'balance': 10000000.0, 'ctp_balance': nan}}, 'orders': {}, 'gone': {'x': 1}}}}]}",
  ),
  line(
    "14:12:10,945",
    "DEBUG",
    "TqSim message received: {'aid': 'insert_order', 'user_id': 'TQSIM', 'order_id': 'o1', " +
      "'exchange_id': 'DCE', 'instrument_id': 'jd2005', 'direction': 'BUY', 'offset': 'OPEN', 'volume': 1, " +
      "'volume_condition': 'ANY', 'price_type': 'LIMIT', 'time_condition': 'GFD', 'limit_price': 3340.0}",
  ),
  line(
    "14:12:10,945",
    "DEBUG",
    `websocket message sent to ${MD}: {"aid": "subscribe_quote", "ins_list": "DCE.jd2005"}`,
  ),
  line(
    "14:12:10,978",
    "DEBUG",
    `websocket message received from ${MD}: {"aid":"rtn_data","data":[{"quotes":{"DCE.jd2005":` +
      `{"datetime":"2020-04-09 14:12:11.190000","ask_price1":3328.000,"ask_price2":null,"close":"-"}}},{}]}`,
  ),
  line("14:12:10,981", "INFO", "模拟交易委托单 o1: 全部成交"),
  line(
    "14:12:10,981",
    "DEBUG",
    "TqSim message send: {'aid': 'rtn_data', 'data': [{'quotes': {}}, {'trade': {'TQSIM': {'orders': " +
      "{'o1': {'status': 'FINISHED', 'last_msg': '全部成交', 'limit_price': 3340.0}}, 'accounts': " +
      "{'CNY': {'balance': 9999993.877}}, 'gone': None}}}, {'trade': {'TQSIM': {'trades': {'o1|1': " +
      "{'price': 3340.0, 'volume': 1}}}}}]}",
  ),
  line(
    "14:12:10,982",
    "DEBUG",
    "TqSim message received: {'aid': 'cancel_order', 'user_id': 'TQSIM', 'order_id': 'o1'}",
  ),
];

Deno.test("recorded session: events, contract table and merged trade tree from a small log", async () => {
  const s = await readRecordedSession(SMALL_LOG);
  assertEquals(s.lines, SMALL_LOG.length);
  assertEquals(Object.keys(s.instruments), ["KQ.i@DCE.jd", "DCE.jd2005"]);
  assertEquals(s.instruments["DCE.jd2005"].margin, 2857.4);
  assertEquals(s.events.map((e) => `${e.line}:${e.kind}`), ["7:insert_order", "9:quote", "12:cancel_order"]);
  const quote = s.events[1];
  assert(quote.kind === "quote");
  assertEquals(quote.symbol, "DCE.jd2005");
  // Fields exactly as sent: nulls kept (they clear book levels), "-" kept.
  assertEquals(quote.fields, {
    datetime: "2020-04-09 14:12:11.190000",
    ask_price1: 3328,
    ask_price2: null,
    close: "-",
  });
  const insert = insertPacketOf(s.events[0] as RecordedOrderPacket);
  assertEquals(insert.order_id, "o1");
  assertEquals(insert.limit_price, 3340);
  const tree = s.trade.TQSIM;
  assertEquals(Object.keys(tree).sort(), ["accounts", "orders", "trades"]); // "gone" deleted by None
  const account = (tree.accounts as Record<string, Record<string, unknown>>).CNY;
  assertEquals(account.balance, 9999993.877);
  assert(Number.isNaN(account.ctp_balance));
  assertEquals(tree.orders, { o1: { status: "FINISHED", last_msg: "全部成交", limit_price: 3340 } });
  assertEquals(tree.trades, { "o1|1": { price: 3340, volume: 1 } });
});

Deno.test("recorded session: a line outside the log format is an error, not skipped", async () => {
  await assertRejects(() => readRecordedSession([SMALL_LOG[0], "garbage"]));
  await assertRejects(() =>
    readRecordedSession([
      line("14:00:00,000", "DEBUG", "TqSim message received: {'aid': 'insert_order', oops}"),
    ])
  );
});

Deno.test("recorded session: TqSim's contract entry becomes a catalogue entry with its own numbers", async () => {
  const s = await readRecordedSession(SMALL_LOG);
  const info = instrumentFromTqSim("DCE.jd2005", s.instruments["DCE.jd2005"]);
  assertEquals(info, {
    class: "FUTURE",
    instrument_id: "DCE.jd2005",
    exchange_id: "DCE",
    ins_id: "jd2005",
    ins_name: "jd2005",
    product_id: "jd",
    price_tick: 1,
    price_decs: 0,
    volume_multiple: 10,
    expired: false,
    expire_datetime: 1590476400,
    delivery_year: 2020,
    delivery_month: 5,
    margin: 2857.4,
    commission: 6.122999999999999,
    max_limit_order_volume: 300,
    max_market_order_volume: 300,
    min_limit_order_volume: 0,
    min_market_order_volume: 0,
    trading_time: {
      day: [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"], ["13:30:00", "15:00:00"]],
      night: [],
    },
  });
  // An index has no margin/commission in TqSim's table: not tradable, so not convertible.
  let error: unknown;
  try {
    instrumentFromTqSim("KQ.i@DCE.jd", s.instruments["KQ.i@DCE.jd"]);
  } catch (e) {
    error = e;
  }
  assert(error instanceof Error && /price_decs|margin|trading_time/.test(error.message), String(error));
});

Deno.test("recorded session: lzmaLines streams a real fixture line by line", async () => {
  const lines: string[] = [];
  for await (const l of lzmaLines(new URL("test_td_basic_get_account_simulate.script.lzma", FIXTURES))) {
    lines.push(l);
  }
  // README: 31 lines, 10,560,142 bytes raw (each line had a "\n").
  assertEquals(lines.length, 31);
  const bytes = lines.reduce((n, l) => n + new TextEncoder().encode(l).length + 1, 0);
  assertEquals(bytes, 10_560_142);
  assert(lines[30].includes("年化夏普率"));
});

Deno.test("recorded session: lzmaLines stops xz when the reader stops early, and fails on bad input", async () => {
  for await (const l of lzmaLines(new URL("test_td_basic_get_order_simulate.script.lzma", FIXTURES))) {
    assert(l.startsWith("2020-04-09 14:51:10"));
    break;
  }
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.lzma`;
    await Deno.writeTextFile(bad, "not lzma at all");
    await assertRejects(async () => {
      for await (const _ of lzmaLines(new URL(`file://${bad}`))) {
        // nothing
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recorded session: the get_order fixture reads as documented", async () => {
  const s = await readRecordedSession(
    lzmaLines(new URL("test_td_basic_get_order_simulate.script.lzma", FIXTURES)),
  );
  assertEquals(Object.keys(s.instruments).length, 8429);
  assertEquals(
    s.events.map((e) => e.kind === "quote" ? `quote ${e.symbol}` : `${e.kind} ${e.packet.order_id}`),
    [
      "insert_order 1710cf5327ac435a7a97c643656412a9",
      "insert_order 8ca5996666ceab360512bd1311072231",
      "quote DCE.jd2005",
      "quote SHFE.cu2005",
    ],
  );
  const orders = s.trade.TQSIM.orders as Record<string, Record<string, unknown>>;
  assertEquals(orders["8ca5996666ceab360512bd1311072231"].last_msg, "全部成交");
  const trades = s.trade.TQSIM.trades as Record<string, Record<string, unknown>>;
  assertEquals(Object.keys(trades).sort(), [
    "1710cf5327ac435a7a97c643656412a9|1",
    "8ca5996666ceab360512bd1311072231|2",
  ]);
  // The WARNING report at the end says 账户权益:9999570.69; the merged tree must agree.
  const account = (s.trade.TQSIM.accounts as Record<string, Record<string, number>>).CNY;
  assertEquals(Math.round(account.balance * 100) / 100, 9999570.69);
});
