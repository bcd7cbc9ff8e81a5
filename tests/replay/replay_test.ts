/**
 * Replay of tqsdk-python's recorded TqSim sessions (April 2020, real md quotes) against the local sim
 * exchange, through the real npm `tqsdk` client: the sim must end in the same trade state as TqSim did.
 *
 * For each log in `shared/fixtures/tqsdk-python-logs/`:
 *  1. read it once (streamed): TqSim's contract table, the md quotes and `insert_order` packets in recorded
 *     order, and TqSim's final `trade/TQSIM` tree (all its `rtn_data` trade diffs merged);
 *  2. start the sim with a catalogue made from TqSim's contract table (the margin and commission TqSim
 *     used), its clock frozen at the first recorded quote time, account `TQSIM` with TqSim's default
 *     10,000,000 CNY; log in with tqsdk;
 *  3. replay in recorded order: each md quote is set on the sim's market (clock moved to the quote's
 *     `datetime`), each `insert_order` is sent unchanged (same `order_id` and fields). Like TqSim, an order
 *     is only processed once its symbol has a quote: an insert recorded before its symbol's first quote is
 *     sent right after that quote (TqSim queued it the same way);
 *  4. wait until tqsdk's view equals the engine's state, then compare tqsdk's view with TqSim's final tree:
 *     the same order, trade and position keys; every field TqSim sent that the DIFF reference lists
 *     (diff-protocol.md §2.1–§2.4) is present in the sim's object, and equal (numbers within 1e-6) unless a
 *     documented deviation below covers exactly that field in that situation.
 */
import { assert, assertEquals } from "../assert.ts";
import { startSim } from "../../lib/sim/mod.ts";
import type { SymbolsFile } from "../../lib/diff/types.ts";
import { parseQuoteDatetime } from "../../lib/diff/trading_time.ts";
import { openTqClient, settle, type TqClient } from "../helpers/tq_client.ts";
import {
  instrumentFromTqSim,
  lzmaLines,
  readRecordedSession,
  type RecordedSession,
} from "./recorded_session.ts";

const FIXTURES = new URL("../../../shared/fixtures/tqsdk-python-logs/", import.meta.url);
const USER = "TQSIM";
/** TqSim's default `init_balance` (tqsim.py). */
const TQSIM_BALANCE = 10_000_000;
/** Money and price tolerance (TqSim keeps raw floats such as 6.122999999999999; the sim rounds to 1e-8). */
const TOLERANCE = 1e-6;
/** `risk_ratio` is ~1e-4 here, so it gets a tolerance of its own scale. */
const RATIO_TOLERANCE = 1e-12;

type Obj = Record<string, unknown>;
type Kind = "account" | "position" | "order" | "trade";

/** `"a b c"` → `["a", "b", "c"]`. */
function words(text: string): string[] {
  return text.trim().split(/\s+/);
}

/** Per-side field names (`_long` and `_short`) from `{side}` templates. */
function bothSides(text: string): string[] {
  return ["long", "short"].flatMap((side) => words(text).map((w) => w.replace("{side}", side)));
}

/** Field names the DIFF reference lists per object (diff-protocol.md §2.1–§2.4). */
const DIFF_FIELDS: Record<Kind, ReadonlySet<string>> = {
  account: new Set(words(`
    user_id currency pre_balance deposit withdraw static_balance close_profit commission premium
    position_profit float_profit market_value balance margin frozen_margin frozen_commission frozen_premium
    available risk_ratio ctp_balance ctp_available value_balance`)),
  position: new Set([
    ...words("user_id exchange_id instrument_id hedge_flag last_price float_profit position_profit margin"),
    ...words("market_value underlying_last_price future_margin"),
    ...words("order_volume_buy_open order_volume_buy_close order_volume_sell_open order_volume_sell_close"),
    ...bothSides(`
      volume_{side}_today volume_{side}_his volume_{side} volume_{side}_frozen_today volume_{side}_frozen_his
      volume_{side}_frozen volume_{side}_yd pos_{side}_today pos_{side}_his open_price_{side}
      open_cost_{side} position_price_{side} position_cost_{side} float_profit_{side}
      position_profit_{side} margin_{side} market_value_{side}`),
  ]),
  order: new Set(words(`
    order_id user_id exchange_id instrument_id direction offset volume_orign volume_left price_type
    limit_price volume_condition time_condition insert_date_time exchange_order_id status last_msg
    frozen_margin frozen_premium frozen_commission seqno order_type trade_type min_volume hedge_flag`)),
  trade: new Set(words(`
    trade_id order_id user_id seqno exchange_id instrument_id exchange_trade_id direction offset price
    volume trade_date_time commission`)),
};

/**
 * Fields compared even when TqSim did not send them (the task's core list): a field missing on TqSim's
 * side is a problem unless a deviation explains it.
 */
const REQUIRED_FIELDS: Record<Kind, readonly string[]> = {
  account: words("balance available margin commission close_profit position_profit float_profit risk_ratio"),
  position: [
    ...bothSides("volume_{side} volume_{side}_today volume_{side}_his pos_{side}_today pos_{side}_his"),
    ...bothSides("open_price_{side}"),
    "margin",
  ],
  order: words("status volume_orign volume_left last_msg exchange_order_id price_type limit_price"),
  trade: words("price volume commission"),
};

/** What a deviation check sees. */
interface FieldContext {
  kind: Kind;
  /** Order id, trade id, position symbol, or `CNY`. */
  key: string;
  field: string;
  recorded: Obj;
  sim: Obj;
  /** TqSim's whole final tree (for cross-object rules). */
  recordedTree: Obj;
}

/**
 * A documented, intentional difference between TqSim (2020) and the sim. `applies` must match only the
 * exact situation; `check` then asserts what the sim shows instead (returns a complaint or undefined), so
 * a deviation never turns a comparison off.
 */
interface Deviation {
  name: string;
  reason: string;
  applies(ctx: FieldContext): boolean;
  check(ctx: FieldContext): string | undefined;
}

const sideOf = (field: string) => (field.endsWith("_long") ? "long" : "short");

function expectNear(
  actual: unknown,
  expected: number,
  what: string,
  tolerance = TOLERANCE,
): string | undefined {
  return typeof actual === "number" && Math.abs(actual - expected) <= tolerance
    ? undefined
    : `${what}: sim ${actual}, expected ${expected}`;
}

/** Account margin by the sim's (and today's TqSim's) rule: per exchange.product, the bigger side. */
function bigSideMargin(tree: Obj): number {
  const sides = new Map<string, { long: number; short: number }>();
  for (const [symbol, p] of Object.entries((tree.positions ?? {}) as Record<string, Obj>)) {
    const product = `${symbol.split(".")[0]}.${String(p.instrument_id).replace(/\d+$/, "")}`;
    const s = sides.get(product) ?? { long: 0, short: 0 };
    s.long += Number(p.margin_long);
    s.short += Number(p.margin_short);
    sides.set(product, s);
  }
  let margin = 0;
  for (const s of sides.values()) margin += Math.max(s.long, s.short);
  return margin;
}

/** Whether TqSim's tree holds a product with margin on both sides (where the two margin models differ). */
function hasHedgedProduct(tree: Obj): boolean {
  const positions = Object.values((tree.positions ?? {}) as Record<string, Obj>);
  return positions.some((p) => Number(p.margin_long) > 0 && Number(p.margin_short) > 0);
}

const DEVIATIONS: readonly Deviation[] = [
  {
    name: "flat-side average prices",
    reason: "TqSim leaves open_price_*/position_price_* NaN for a side with no lots (0/0); the sim sends 0 " +
      "so the wire never carries NaN (tqsdk-js would not parse it).",
    applies: ({ kind, field, recorded }) =>
      kind === "position" && /^(open|position)_price_(long|short)$/.test(field) &&
      Number.isNaN(recorded[field]) && recorded[`volume_${sideOf(field)}`] === 0,
    check: ({ field, sim }) =>
      sim[field] === 0 && sim[`volume_${sideOf(field)}`] === 0
        ? undefined
        : `${field}: flat side should be 0, sim ${sim[field]} (volume ${sim[`volume_${sideOf(field)}`]})`,
  },
  {
    name: "ctp_balance / ctp_available placeholders",
    reason: 'Broker-reported figures that a simulator does not have: TqSim sends NaN, the sim sends "-" ' +
      "as 快期模拟 does (diff-protocol.md §2.1).",
    applies: ({ kind, field, recorded }) =>
      kind === "account" && (field === "ctp_balance" || field === "ctp_available") &&
      Number.isNaN(recorded[field]),
    check: ({ field, sim }) => (sim[field] === "-" ? undefined : `${field}: expected "-", sim ${sim[field]}`),
  },
  {
    name: "account margin model (hedged product)",
    reason: "TqSim of April 2020 summed both sides' margin into the account (20001.8 = 7 lots × 2857.4 in " +
      "get_position); the sim uses the big-side rule of today's TqSim (trade_future.py::" +
      "_adjust_account_by_position, diff-protocol.md §5): per product max(long, short). Position margins " +
      "are still compared exactly; the account's margin, available and risk_ratio must follow the big-side " +
      "rule from TqSim's own positions, and TqSim's margin must be the plain sum (so the rule is the only " +
      "difference).",
    applies: ({ kind, field, recordedTree }) =>
      kind === "account" && ["margin", "available", "risk_ratio"].includes(field) &&
      hasHedgedProduct(recordedTree),
    check: ({ field, recorded, sim, recordedTree }) => {
      const positions = Object.values((recordedTree.positions ?? {}) as Record<string, Obj>);
      const summed = positions.reduce((a, p) => a + Number(p.margin), 0);
      const tqsimSum = expectNear(recorded.margin, summed, "TqSim margin vs Σ position margin");
      if (tqsimSum) return tqsimSum;
      const margin = bigSideMargin(recordedTree);
      const balance = Number(recorded.balance);
      const frozen = Number(recorded.frozen_margin) + Number(recorded.frozen_commission) +
        Number(recorded.frozen_premium);
      const expected = field === "margin"
        ? margin
        : field === "available"
        ? balance - margin - frozen
        : margin / balance;
      const tolerance = field === "risk_ratio" ? RATIO_TOLERANCE : TOLERANCE;
      return expectNear(sim[field], expected, `${field} (big-side margin ${margin})`, tolerance);
    },
  },
  {
    name: "limit_price of market orders",
    reason: "TqSim 2020 omits limit_price on ANY orders; the sim always sends the field, 0 for non-limit " +
      "orders (the CTP/OTG convention, diff-protocol.md §2.3).",
    applies: ({ kind, field, recorded }) =>
      kind === "order" && field === "limit_price" && !("limit_price" in recorded) &&
      recorded.price_type !== "LIMIT",
    check: (
      { sim },
    ) => (sim.limit_price === 0 ? undefined : `limit_price: expected 0, sim ${sim.limit_price}`),
  },
  {
    name: "order and trade timestamps",
    reason: "TqSim stamps the latest quote datetime plus the local time elapsed since it arrived; the sim " +
      "stamps its frozen exchange clock, set to the latest quote datetime. Equal to within 1 s (and far " +
      "from wall-clock time, which would be years off).",
    applies: ({ kind, field }) =>
      (kind === "order" && field === "insert_date_time") || (kind === "trade" && field === "trade_date_time"),
    check: ({ field, recorded, sim }) => {
      const d = Math.abs(Number(sim[field]) - Number(recorded[field]));
      return d <= 1e9 ? undefined : `${field}: sim ${sim[field]} vs TqSim ${recorded[field]} (Δ ${d} ns)`;
    },
  },
];

function sameValue(field: string, a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    return Math.abs(a - b) <= (field === "risk_ratio" ? RATIO_TOLERANCE : TOLERANCE);
  }
  return a === b;
}

/** Compare one object field by field; returns complaints and records the deviations used. */
function compareObject(
  kind: Kind,
  key: string,
  recorded: Obj,
  sim: Obj | undefined,
  recordedTree: Obj,
  used: Set<string>,
): string[] {
  const where = `${kind} ${key}`;
  if (!sim) return [`${where}: missing in the sim`];
  const problems: string[] = [];
  const fields = new Set([
    ...Object.keys(recorded).filter((f) => DIFF_FIELDS[kind].has(f)),
    ...REQUIRED_FIELDS[kind],
  ]);
  for (const field of fields) {
    if (!(field in sim)) {
      problems.push(`${where}: field ${field} missing in the sim's object`);
      continue;
    }
    const ctx: FieldContext = { kind, key, field, recorded, sim, recordedTree };
    const deviation = DEVIATIONS.find((d) => d.applies(ctx));
    if (deviation) {
      used.add(deviation.name);
      const complaint = deviation.check(ctx);
      if (complaint) problems.push(`${where}: [${deviation.name}] ${complaint}`);
    } else if (!(field in recorded)) {
      problems.push(`${where}.${field}: TqSim did not send it (sim ${JSON.stringify(sim[field])})`);
    } else if (!sameValue(field, sim[field], recorded[field])) {
      problems.push(`${where}.${field}: sim ${JSON.stringify(sim[field])}, TqSim ${recorded[field]}`);
    }
  }
  return problems;
}

function sortedKeys(o: unknown): string[] {
  return Object.keys((o ?? {}) as Obj).sort();
}

/** The trade tree as the tqsdk client holds it (its own objects; only plain fields are read). */
interface ClientTree {
  accounts: Record<string, Obj>;
  positions: Record<string, Obj>;
  orders: Record<string, Obj>;
  trades: Record<string, Obj>;
}

function clientTree(client: TqClient): ClientTree {
  const tq = client.tq as unknown as {
    getAccount(p: unknown): Obj;
    getPositions(p: unknown): Record<string, Obj> | null;
    getOrders(p: unknown): Record<string, Obj> | null;
    getTrades(p: unknown): Record<string, Obj> | null;
  };
  return {
    accounts: { CNY: tq.getAccount(client.account) },
    positions: { ...(tq.getPositions(client.account) ?? {}) },
    orders: { ...(tq.getOrders(client.account) ?? {}) },
    trades: { ...(tq.getTrades(client.account) ?? {}) },
  };
}

/** The client's view holds every field of the engine's state with the same value. */
function clientMatchesEngine(view: ClientTree, engine: Record<string, unknown>): boolean {
  for (const part of ["accounts", "positions", "orders", "trades"] as const) {
    const mine = view[part];
    const theirs = (engine[part] ?? {}) as Record<string, Obj>;
    if (sortedKeys(mine).join() !== sortedKeys(theirs).join()) return false;
    for (const [key, obj] of Object.entries(theirs)) {
      for (const [field, value] of Object.entries(obj)) {
        if (mine[key]?.[field] !== value) return false;
      }
    }
  }
  return true;
}

/** The catalogue TqSim traded with: its contract table entries for the symbols the session orders. */
function catalogueOf(session: RecordedSession): SymbolsFile {
  const catalogue: SymbolsFile = {};
  for (const e of session.events) {
    if (e.kind !== "insert_order") continue;
    const symbol = `${e.packet.exchange_id}.${e.packet.instrument_id}`;
    const entry = session.instruments[symbol];
    assert(entry, `${symbol}: not in TqSim's contract table`);
    catalogue[symbol] = instrumentFromTqSim(symbol, entry);
  }
  return catalogue;
}

/**
 * Replay a session on a fresh sim; returns the final trade tree as the tqsdk client holds it, once it equals
 * the engine's state.
 */
async function replay(session: RecordedSession): Promise<ClientTree> {
  const firstQuote = session.events.find((e) => e.kind === "quote");
  assert(firstQuote && firstQuote.kind === "quote", "the log has no md quote");
  let clockMs = parseQuoteDatetime(String(firstQuote.fields.datetime));
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: new Date(clockMs).toISOString(),
    seed: 1,
    tickMs: 0,
    frozenClock: true,
    accounts: [{ user: USER, password: USER, balance: TQSIM_BALANCE }],
    catalogue: catalogueOf(session),
  });
  let client: TqClient | undefined;
  try {
    client = await openTqClient(sim.baseUrl, { user: USER, password: USER });
    const c = client;
    const quoted = new Set<string>();
    const waiting = new Map<string, Obj[]>();
    const send = async (packet: Obj) => {
      const id = String(packet.order_id);
      c.sendTrade(packet);
      if (packet.aid === "insert_order") {
        await c.waitFor(`order ${id}`, () => c.tq.getOrder({ ...c.account, order_id: id })?.insert_date_time);
      } else {
        await c.waitFor(
          `cancel ${id}`,
          () => c.tq.getOrder({ ...c.account, order_id: id })?.status === "FINISHED",
        );
      }
    };
    for (const event of session.events) {
      if (event.kind === "quote") {
        const ms = parseQuoteDatetime(String(event.fields.datetime));
        if (ms > clockMs) {
          clockMs = ms;
          sim.clock.set(ms);
        }
        sim.market.setQuote(event.symbol, event.fields as Record<string, never>);
        quoted.add(event.symbol);
        for (const packet of waiting.get(event.symbol) ?? []) await send(packet);
        waiting.delete(event.symbol);
        continue;
      }
      const symbol = `${event.packet.exchange_id}.${event.packet.instrument_id}`;
      if (event.kind === "insert_order" && !quoted.has(symbol)) {
        waiting.set(symbol, [...(waiting.get(symbol) ?? []), event.packet]);
      } else {
        await send(event.packet);
      }
    }
    // TqSim never processes an order whose symbol got no quote: such orders are not in its tree either.
    await c.waitFor(
      "the client's view to equal the engine's state",
      () => clientMatchesEngine(clientTree(c), sim.engine().snapshot(USER) as unknown as Obj),
    );
    return clientTree(c);
  } finally {
    client?.close();
    await settle(20);
    await sim.close();
  }
}

/** Compare the sim's final tree with TqSim's; returns the problems and the deviations used. */
function compareTrees(recordedTree: Obj, view: ClientTree): { problems: string[]; used: Set<string> } {
  const used = new Set<string>();
  const problems: string[] = [];
  for (const part of ["orders", "trades", "positions"] as const) {
    const want = sortedKeys(recordedTree[part]);
    const got = sortedKeys(view[part]);
    if (want.join() !== got.join()) problems.push(`${part} keys: sim [${got}], TqSim [${want}]`);
  }
  const kinds = { accounts: "account", positions: "position", orders: "order", trades: "trade" } as const;
  for (const [part, kind] of Object.entries(kinds)) {
    const recorded = (recordedTree[part] ?? {}) as Record<string, Obj>;
    for (const [key, obj] of Object.entries(recorded)) {
      problems.push(
        ...compareObject(kind, key, obj, view[part as keyof ClientTree][key], recordedTree, used),
      );
    }
  }
  return { problems, used };
}

const LOGS: { name: string; file: string; orders: number; trades: number; deviations: string[] }[] = [
  {
    name: "get_account (jd BUY 1 @3340 GFD)",
    file: "test_td_basic_get_account_simulate.script.lzma",
    orders: 1,
    trades: 1,
    deviations: [
      "flat-side average prices",
      "ctp_balance / ctp_available placeholders",
      "order and trade timestamps",
    ],
  },
  {
    name: "get_position (jd BUY 1 @3345, BUY 3 ANY/IOC, SELL OPEN 3 ANY/IOC)",
    file: "test_td_basic_get_position_simulate.script.lzma",
    orders: 3,
    trades: 3,
    deviations: [
      "account margin model (hedged product)",
      "ctp_balance / ctp_available placeholders",
      "limit_price of market orders",
      "order and trade timestamps",
    ],
  },
  {
    name: "get_trade (jd BUY 1 ANY/IOC, cu BUY 2 @40870)",
    file: "test_td_basic_get_trade_simulate.script.lzma",
    orders: 2,
    trades: 2,
    deviations: [
      "flat-side average prices",
      "ctp_balance / ctp_available placeholders",
      "limit_price of market orders",
      "order and trade timestamps",
    ],
  },
  {
    name: "get_order (jd BUY 1 ANY/IOC, cu SELL OPEN 2 @40750)",
    file: "test_td_basic_get_order_simulate.script.lzma",
    orders: 2,
    trades: 2,
    deviations: [
      "flat-side average prices",
      "ctp_balance / ctp_available placeholders",
      "limit_price of market orders",
      "order and trade timestamps",
    ],
  },
];

for (const log of LOGS) {
  Deno.test(`replay: ${log.name} ends in TqSim's recorded trade state`, async () => {
    const session = await readRecordedSession(lzmaLines(new URL(log.file, FIXTURES)));
    const recordedTree = session.trade[USER];
    assert(recordedTree, "TqSim sent no trade/TQSIM diffs");
    // The recording is what we think it is (guards the reader, not the sim).
    assertEquals(Object.keys(recordedTree.orders as Obj).length, log.orders);
    assertEquals(Object.keys(recordedTree.trades as Obj).length, log.trades);

    const view = await replay(session);
    const { problems, used } = compareTrees(recordedTree, view);
    assertEquals(problems, [], `the sim differs from TqSim:\n${problems.join("\n")}`);
    // Every allowance this log needs is listed, and no other one was needed.
    assertEquals([...used].sort(), [...log.deviations].sort());
  });
}
