/**
 * Trading engine of the local simulated DIFF exchange: order checks, matching, accounts and positions.
 *
 * Pure domain logic (no sockets, no timers, no randomness): the WebSocket server feeds it client packets and
 * quote ticks and forwards the {@link EngineEvent}s it emits. It behaves like shinnytech's 快期模拟 (the
 * OTG sim back end: notify codes and texts 401–420) and matches like tqsdk-python's TqSim
 * (diff-protocol.md §2, §3.1–3.3, §5, §9).
 *
 * Order checks at insert, in this order (first failure wins):
 *  1. duplicate `order_id` → notify 407, nothing stored (the existing order is untouched);
 *  2. `user_id` does not start with the login user → 408;
 *  3. unknown, expired or mismatched instrument → 409;
 *  4. class not `FUTURE` → 410;
 *  5. volume not an integer > 0 (or a direction/offset outside the DIFF enums) → 411;
 *  6. unknown price type, `ANY` on CFFEX/SHFE/INE, `BEST`/`FIVELEVEL` outside CFFEX, or market orders on an
 *     instrument whose `max_market_order_volume` is 0 → 412 (not an OTG check; reason texts below);
 *  7. LIMIT price missing or not a whole number of ticks → 412;
 *  8. volume above `max_limit_order_volume` / `max_market_order_volume` → 411 (not an OTG check);
 *  9. LIMIT price above `upper_limit` → 404, below `lower_limit` → 405 (OTG checks these at matching time,
 *     after a 417; we reject at insert, without a 417);
 * 10. outside a trading session → 333 (OTG-CTP's "当前时间不支持下单" code), TqSim text;
 * 11. close volume vs unfrozen lots: SHFE/INE `CLOSETODAY` → 414, SHFE/INE `CLOSE` → 415, others → 416;
 * 12. open: volume × per-lot margin > available → 413.
 * A rejected order is stored FINISHED with `exchange_order_id ""`, `volume_left = volume_orign` and
 * `last_msg` = the TqSim text where TqSim has the check, else the OTG reason; the WARNING notify carries the
 * OTG code and content.
 *
 * Close lots on exchanges without a today/yesterday split (DCE, CZCE, CFFEX, GFEX…) are frozen from his lots
 * first, then today lots (TqSim); the fill takes exactly the lots the order froze, and a cancel releases
 * exactly those.
 *
 * Events: within one call, notifies are emitted first (in the order OTG sends them), then at most one
 * `trade` event per user carrying every changed object whole.
 *
 * @module
 */
import type {
  Account,
  CancelOrderPacket,
  InsertOrderPacket,
  InstrumentInfo,
  Notify,
  Order,
  Position,
  Quote,
  Trade,
  TradeTree,
} from "../diff/types.ts";
import { CLOSE_TODAY_EXCHANGES } from "../diff/types.ts";
import {
  adjustFrozen,
  applyClose,
  applyOpen,
  closableLots,
  closedSide,
  comparePrices,
  finiteOrUndefined,
  isTickMultiple,
  newAccount,
  newPosition,
  openedSide,
  type PositionMeta,
  recomputeAccount,
  revalue,
  rollPosition,
  roundMoney,
  type ValuedPosition,
} from "./ledger.ts";

/** One configured sim account. */
export interface SimAccountConfig {
  /** Login `user_name`, also the `trade/<user>` key. */
  user: string;
  /** Login password. */
  password: string;
  /** Starting equity, CNY. */
  balance: number;
}

/** What the engine needs from the rest of the sim (catalogue, quotes, clock, calendar). */
export interface EngineDeps {
  /** Contract info by full symbol (`"SHFE.rb2605"`). */
  instrument(symbol: string): InstrumentInfo | undefined;
  /** Latest quote; `"-"`/`null` mean no value. */
  quote(symbol: string): Quote | undefined;
  /** Exchange clock, epoch ms. */
  nowMs(): number;
  /** Inside a trading session of that instrument. */
  inSession(symbol: string, atMs: number): boolean;
  /** `"YYYYMMDD"` trading day of that moment. */
  tradingDay(atMs: number): string;
}

/** The changed objects of one user, each sent WHOLE (all fields), ready to be merged under `trade/<user>`. */
export interface TradePatch {
  /** `accounts/CNY` when it changed. */
  accounts?: Record<string, Account>;
  /** Changed positions by full symbol. */
  positions?: Record<string, Position>;
  /** Changed orders by `order_id`. */
  orders?: Record<string, Order>;
  /** New trades by `trade_id`. */
  trades?: Record<string, Trade>;
  /** Set by {@link SimEngine.settle} when the trading day changes. */
  trading_day?: string;
  /** Set by {@link SimEngine.settle} when the trading day changes. */
  session?: { user_id: string; trading_day: string };
}

/** What the engine tells its listeners. Notify keys (guids) are the server's job. */
export type EngineEvent =
  | { kind: "trade"; user: string; patch: TradePatch }
  | { kind: "notify"; user: string; notify: Notify };

/** Notify codes the engine sends (OTG sim numbering; 333 borrowed from OTG-CTP). */
export const NOTIFY_CODE = {
  PASSWORD_MISMATCH: 402,
  LOGIN_FAILED: 403,
  ABOVE_UPPER_LIMIT: 404,
  BELOW_LOWER_LIMIT: 405,
  TRADED: 406,
  DUPLICATE_ORDER_ID: 407,
  BAD_USER: 408,
  BAD_INSTRUMENT: 409,
  FUTURES_ONLY: 410,
  BAD_VOLUME: 411,
  BAD_PRICE: 412,
  NO_MARGIN: 413,
  CLOSE_TODAY_EXCEEDS: 414,
  CLOSE_HIS_EXCEEDS: 415,
  CLOSE_EXCEEDS: 416,
  INSERTED: 417,
  CANCEL_BAD_USER: 418,
  CANCELLED: 419,
  CANCEL_NOT_FOUND: 420,
  NOT_TRADING_TIME: 333,
} as const;

/** `last_msg` texts (TqSim / CTP wording). */
export const LAST_MSG = {
  ACCEPTED: "报单成功",
  FILLED: "全部成交",
  CANCELLED: "已撤单",
  IOC_CANCELLED: "已撤单报单已提交",
  MARKET_NO_COUNTERPARTY: "市价指令剩余撤销",
  DAY_END: "交易日结束，自动撤销当日有效的委托单（GFD）",
  NOT_TRADING_TIME: "下单失败, 不在可交易时间段内",
  CLOSE_TODAY_SHORT: "平今仓手数不足",
  CLOSE_HIS_SHORT: "平昨仓手数不足",
  CLOSE_SHORT: "平仓手数不足",
  NO_MARGIN: "开仓资金不足",
  MARKET_NOT_ALLOWED: "交易所不支持市价单",
  MARKET_NOT_SUPPORTED: "该合约不支持市价单",
  PRICE_TYPE_NOT_SUPPORTED: "不支持的报单价格类型",
  VOLUME_ABOVE_MAX: "下单手数超过单笔最大下单手数",
} as const;

const REJECT_PREFIX_SPACED = "下单, 已被服务器拒绝, 原因:";
const REJECT_PREFIX = "下单,已被服务器拒绝,原因:";

/** A reason an order is refused: the notify's code and content, and the order's `last_msg`. */
export interface OrderRefusal {
  code: number;
  content: string;
  lastMsg: string;
}

function otgReject(code: number, prefix: string, reason: string, lastMsg = reason): OrderRefusal {
  return { code, content: prefix + reason, lastMsg };
}

/** Exact OTG sim contents (tradersim.cpp), with the order's `last_msg` for each. */
const REJECT = {
  badUser: otgReject(408, REJECT_PREFIX_SPACED, "下单指令中的用户名错误"),
  badInstrument: otgReject(409, REJECT_PREFIX_SPACED, "合约不合法"),
  futuresOnly: otgReject(410, REJECT_PREFIX_SPACED, "模拟交易只支持期货合约"),
  badVolume: otgReject(411, REJECT_PREFIX_SPACED, "下单手数应该大于0"),
  badTick: otgReject(412, "下单,已被服务器拒绝, 原因:", "下单价格不是价格单位的整倍数"),
  aboveUpper: otgReject(404, REJECT_PREFIX, "已撤单报单被拒绝价格超出涨停板"),
  belowLower: otgReject(405, REJECT_PREFIX, "已撤单报单被拒绝价格跌破跌停板"),
  noMargin: otgReject(413, REJECT_PREFIX, "开仓保证金不足", LAST_MSG.NO_MARGIN),
  closeToday: otgReject(414, REJECT_PREFIX, "平今手数超过今仓持仓量", LAST_MSG.CLOSE_TODAY_SHORT),
  closeHis: otgReject(415, REJECT_PREFIX, "平昨手数超过昨仓持仓量", LAST_MSG.CLOSE_HIS_SHORT),
  close: otgReject(416, REJECT_PREFIX, "平仓手数超过持仓量", LAST_MSG.CLOSE_SHORT),
  notTradingTime: otgReject(333, REJECT_PREFIX, LAST_MSG.NOT_TRADING_TIME),
  marketNotAllowed: otgReject(412, REJECT_PREFIX, LAST_MSG.MARKET_NOT_ALLOWED),
  marketNotSupported: otgReject(412, REJECT_PREFIX, LAST_MSG.MARKET_NOT_SUPPORTED),
  priceTypeNotSupported: otgReject(412, REJECT_PREFIX, LAST_MSG.PRICE_TYPE_NOT_SUPPORTED),
  volumeAboveMax: otgReject(411, REJECT_PREFIX, LAST_MSG.VOLUME_ABOVE_MAX),
} as const;

/** Exchanges where market (`ANY`) orders are refused (tqsdk's client-side rule). */
const NO_MARKET_EXCHANGES: ReadonlySet<string> = new Set(["CFFEX", "SHFE", "INE"]);

/** Engine-internal bookkeeping of an ALIVE order (not on the wire). */
interface LiveOrder {
  symbol: string;
  /** Lots frozen by a close order, per bucket. */
  frozenToday: number;
  frozenHis: number;
}

interface UserState {
  user: string;
  password: string;
  tradingDay: string;
  seqno: number;
  account: Account;
  positions: Record<string, Position>;
  positionMeta: Record<string, PositionMeta>;
  orders: Record<string, Order>;
  trades: Record<string, Trade>;
  live: Record<string, LiveOrder>;
}

interface SerializedState {
  version: 1;
  users: UserState[];
}

/** Changes collected during one engine call. */
class Changes {
  readonly notifies: { user: string; notify: Notify }[] = [];
  readonly touched = new Map<
    string,
    { orders: Set<string>; trades: Set<string>; positions: Set<string>; account: boolean; day: boolean }
  >();

  of(user: string) {
    let t = this.touched.get(user);
    if (!t) {
      t = { orders: new Set(), trades: new Set(), positions: new Set(), account: false, day: false };
      this.touched.set(user, t);
    }
    return t;
  }

  notify(user: string, code: number, level: Notify["level"], content: string): void {
    this.notifies.push({ user, notify: { type: "MESSAGE", level, code, content } });
  }
}

/** The matching outcome of an ALIVE order against the current book (TqSim `match_order`). */
export type MatchResult =
  | { status: "ALIVE" }
  | { status: "FILLED"; price: number }
  | { status: "CANCELLED"; lastMsg: string };

/** The simulated exchange's trading engine. */
export class SimEngine {
  #deps: EngineDeps;
  #users = new Map<string, UserState>();
  #listeners: ((event: EngineEvent) => void)[] = [];

  /** Create an engine with the configured accounts, each flat with its starting balance. */
  constructor(deps: EngineDeps, options: { accounts: SimAccountConfig[] }) {
    this.#deps = deps;
    const day = deps.tradingDay(deps.nowMs());
    for (const a of options.accounts) {
      this.#users.set(a.user, {
        user: a.user,
        password: a.password,
        tradingDay: day,
        seqno: 0,
        account: newAccount(a.user, a.balance),
        positions: {},
        positionMeta: {},
        orders: {},
        trades: {},
        live: {},
      });
    }
  }

  /**
   * Rebuild an engine from {@link SimEngine.exportState} output. Accounts in `options.accounts` that the
   * state does not know are added fresh (a config that grew between runs); known ones keep their state.
   */
  static fromState(deps: EngineDeps, state: unknown, options?: { accounts?: SimAccountConfig[] }): SimEngine {
    const s = state as SerializedState;
    if (!s || s.version !== 1 || !Array.isArray(s.users)) {
      throw new Error("SimEngine.fromState: unknown state");
    }
    const known = new Set(s.users.map((u) => u.user));
    const fresh = (options?.accounts ?? []).filter((a) => !known.has(a.user));
    const engine = new SimEngine(deps, { accounts: fresh });
    for (const u of s.users) engine.#users.set(u.user, structuredClone(u));
    return engine;
  }

  /** JSON-serialisable copy of the whole engine state (for "restart with state kept"). */
  exportState(): unknown {
    const state: SerializedState = {
      version: 1,
      users: [...this.#users.values()].map((u) => structuredClone(u)),
    };
    return state;
  }

  /** Whether `user` is a configured account. */
  hasUser(user: string): boolean {
    return this.#users.has(user);
  }

  /** Check a `req_login`: unknown user → 403 "用户登录失败!", wrong password → 402 "账户和密码不匹配!". */
  checkLogin(user: string, password: string): { ok: true } | { ok: false; code: number; content: string } {
    const u = this.#users.get(user);
    if (!u) return { ok: false, code: NOTIFY_CODE.LOGIN_FAILED, content: "用户登录失败!" };
    if (u.password !== password) {
      return { ok: false, code: NOTIFY_CODE.PASSWORD_MISMATCH, content: "账户和密码不匹配!" };
    }
    return { ok: true };
  }

  /** The user's whole trade subtree (deep copy), `trade_more_data: false`. */
  snapshot(user: string): TradeTree {
    const u = this.#user(user);
    return structuredClone({
      user_id: u.user,
      trading_day: u.tradingDay,
      trade_more_data: false,
      session: { user_id: u.user, trading_day: u.tradingDay },
      accounts: { CNY: u.account },
      positions: u.positions,
      orders: u.orders,
      trades: u.trades,
    });
  }

  /** Register a listener; returns the unsubscribe function. */
  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** The user's current trading day (`YYYYMMDD`). */
  tradingDay(user: string): string {
    return this.#user(user).tradingDay;
  }

  /**
   * Handle an `insert_order` from a connection logged in as `loginUser`. `refusal`: refuse it for a reason
   * the gateway decides (not one of the engine's checks), after the duplicate-id check — stored FINISHED with
   * `refusal.lastMsg`, the WARNING notify carrying `refusal.code` and `refusal.content`.
   */
  insertOrder(loginUser: string, packet: InsertOrderPacket, refusal?: OrderRefusal): void {
    const u = this.#user(loginUser);
    const ch = new Changes();
    const now = this.#deps.nowMs();
    let orderId = typeof packet.order_id === "string" ? packet.order_id : "";
    if (orderId === "") orderId = this.#generatedOrderId(u, now);
    // "__proto__" could never be stored safely as a key: refused like a duplicate.
    if (orderId === "__proto__" || Object.hasOwn(u.orders, orderId)) {
      ch.notify(u.user, NOTIFY_CODE.DUPLICATE_ORDER_ID, "WARNING", "下单, 已被服务器拒绝,原因:单号重复");
      this.#flush(ch);
      return;
    }
    const symbol = `${packet.exchange_id}.${packet.instrument_id}`;
    const order = this.#newOrder(u, packet, orderId, now);
    const info = this.#deps.instrument(symbol);
    const rejection = refusal ?? this.#check(u, packet, order, symbol, info, now);
    if (rejection) {
      order.status = "FINISHED";
      order.last_msg = rejection.lastMsg;
      u.orders[orderId] = order;
      ch.of(u.user).orders.add(orderId);
      ch.notify(u.user, rejection.code, "WARNING", rejection.content);
      this.#flush(ch);
      return;
    }
    const meta = metaOf(info!);
    order.status = "ALIVE";
    order.exchange_order_id = orderId;
    order.last_msg = LAST_MSG.ACCEPTED;
    const live: LiveOrder = { symbol, frozenToday: 0, frozenHis: 0 };
    if (order.offset === "OPEN") {
      order.frozen_margin = roundMoney(order.volume_orign * meta.margin);
    } else {
      const side = closedSide(order.direction);
      const p = this.#position(u, symbol, meta);
      if (CLOSE_TODAY_EXCHANGES.has(order.exchange_id)) {
        if (order.offset === "CLOSETODAY") live.frozenToday = order.volume_orign;
        else live.frozenHis = order.volume_orign;
      } else {
        live.frozenHis = Math.min(order.volume_orign, closableLots(p, side, "his"));
        live.frozenToday = order.volume_orign - live.frozenHis;
      }
      adjustFrozen(p, side, { today: live.frozenToday, his: live.frozenHis }, 1);
      ch.of(u.user).positions.add(symbol);
    }
    u.orders[orderId] = order;
    u.live[orderId] = live;
    this.#recompute(u);
    const t = ch.of(u.user);
    t.orders.add(orderId);
    t.account = true;
    ch.notify(u.user, NOTIFY_CODE.INSERTED, "INFO", "下单成功");
    this.#match(u, orderId, ch);
    this.#flush(ch);
  }

  /** Handle a `cancel_order` from a connection logged in as `loginUser`. */
  cancelOrder(loginUser: string, packet: CancelOrderPacket): void {
    const u = this.#user(loginUser);
    const ch = new Changes();
    if (typeof packet.user_id !== "string" || !packet.user_id.startsWith(u.user)) {
      ch.notify(
        u.user,
        NOTIFY_CODE.CANCEL_BAD_USER,
        "WARNING",
        "撤单,已被服务器拒绝,原因:撤单指令中的用户名错误",
      );
    } else if (!Object.hasOwn(u.live, packet.order_id) || u.orders[packet.order_id]?.status !== "ALIVE") {
      // Unknown and already FINISHED orders alike (OTG looks only among ALIVE orders).
      ch.notify(u.user, NOTIFY_CODE.CANCEL_NOT_FOUND, "WARNING", "要撤销的单不存在");
    } else {
      this.#finishUnfilled(u, packet.order_id, LAST_MSG.CANCELLED, ch);
      ch.notify(u.user, NOTIFY_CODE.CANCELLED, "INFO", "撤单成功");
    }
    this.#flush(ch);
  }

  /** A new quote for `symbol`: match its ALIVE orders, then revalue its positions at `last_price`. */
  onQuote(symbol: string): void {
    const q = this.#deps.quote(symbol);
    if (!q) return;
    const last = finiteOrUndefined(q.last_price);
    const ch = new Changes();
    for (const u of this.#users.values()) {
      const accountBefore = JSON.stringify(u.account);
      if (last !== undefined) {
        for (const [orderId, live] of Object.entries(u.live)) {
          if (live.symbol === symbol) this.#match(u, orderId, ch);
        }
      }
      const p = u.positions[symbol];
      if (p && last !== undefined && p.last_price !== last) {
        p.last_price = last;
        revalue(p, this.#meta(u, symbol));
        ch.of(u.user).positions.add(symbol);
      }
      if (ch.touched.has(u.user)) {
        this.#recompute(u);
        if (JSON.stringify(u.account) !== accountBefore) ch.of(u.user).account = true;
      }
    }
    this.#flush(ch);
  }

  /**
   * End of the trading day (TqSim `_on_settle`): ALIVE orders are cancelled with the GFD text, today lots
   * roll into his lots at `last_price`, `pre_balance = balance`, the day's close profit and commission are
   * zeroed, and the trading day advances to `deps.tradingDay(now)`. Afterwards the day's FINISHED orders and
   * its trades are dropped from the state, so later snapshots hold only the new day (as a broker shows);
   * connected clients keep their copies.
   */
  settle(): void {
    const ch = new Changes();
    const day = this.#deps.tradingDay(this.#deps.nowMs());
    for (const u of this.#users.values()) {
      for (const orderId of Object.keys(u.live)) this.#finishUnfilled(u, orderId, LAST_MSG.DAY_END, ch);
      this.#recompute(u);
      const a = u.account;
      a.pre_balance = roundMoney(a.balance - (a.market_value ?? 0));
      a.deposit = 0;
      a.withdraw = 0;
      a.close_profit = 0;
      a.commission = 0;
      a.premium = 0;
      for (const symbol of Object.keys(u.positions)) {
        rollPosition(u.positions[symbol], this.#meta(u, symbol));
        ch.of(u.user).positions.add(symbol);
      }
      this.#recompute(u);
      const t = ch.of(u.user);
      t.account = true;
      if (u.tradingDay !== day) {
        u.tradingDay = day;
        t.day = true;
      }
    }
    this.#flush(ch);
    for (const u of this.#users.values()) {
      u.orders = {};
      u.trades = {};
    }
  }

  // ---- internals ----

  #user(user: string): UserState {
    const u = this.#users.get(user);
    if (!u) throw new Error(`SimEngine: unknown user ${JSON.stringify(user)}`);
    return u;
  }

  #generatedOrderId(u: UserState, now: number): string {
    let n = Math.floor(now);
    while (Object.hasOwn(u.orders, String(n))) n++;
    return String(n);
  }

  #newOrder(u: UserState, packet: InsertOrderPacket, orderId: string, now: number): Order {
    const volume = typeof packet.volume === "number" && Number.isFinite(packet.volume) ? packet.volume : 0;
    const limit = packet.price_type === "LIMIT" && typeof packet.limit_price === "number" &&
        Number.isFinite(packet.limit_price)
      ? packet.limit_price
      : 0;
    return {
      order_id: orderId,
      user_id: String(packet.user_id ?? ""),
      exchange_id: String(packet.exchange_id ?? ""),
      instrument_id: String(packet.instrument_id ?? ""),
      direction: packet.direction,
      offset: packet.offset,
      volume_orign: volume,
      volume_left: volume,
      price_type: packet.price_type,
      limit_price: limit,
      volume_condition: packet.volume_condition ?? "ANY",
      time_condition: packet.time_condition ?? "GFD",
      insert_date_time: Math.round(now * 1e6),
      exchange_order_id: "",
      status: "FINISHED",
      last_msg: "",
      frozen_margin: 0,
      frozen_commission: 0,
      frozen_premium: 0,
      seqno: ++u.seqno,
    };
  }

  #check(
    u: UserState,
    packet: InsertOrderPacket,
    order: Order,
    symbol: string,
    info: InstrumentInfo | undefined,
    now: number,
  ): OrderRefusal | undefined {
    if (typeof packet.user_id !== "string" || !packet.user_id.startsWith(u.user)) return REJECT.badUser;
    if (
      !info || info.expired || info.exchange_id !== packet.exchange_id ||
      (info.expire_datetime > 0 && info.expire_datetime * 1000 <= now)
    ) return REJECT.badInstrument;
    if (info.class !== "FUTURE") return REJECT.futuresOnly;
    if (!Number.isInteger(packet.volume) || packet.volume <= 0) return REJECT.badVolume;
    if (
      (packet.direction !== "BUY" && packet.direction !== "SELL") ||
      (packet.offset !== "OPEN" && packet.offset !== "CLOSE" && packet.offset !== "CLOSETODAY")
    ) return REJECT.badVolume;
    const market = packet.price_type !== "LIMIT";
    if (packet.price_type === "ANY") {
      if (NO_MARKET_EXCHANGES.has(packet.exchange_id)) return REJECT.marketNotAllowed;
    } else if (packet.price_type === "BEST" || packet.price_type === "FIVELEVEL") {
      if (packet.exchange_id !== "CFFEX") return REJECT.priceTypeNotSupported;
    } else if (packet.price_type !== "LIMIT") return REJECT.priceTypeNotSupported;
    if (market && !(info.max_market_order_volume > 0)) return REJECT.marketNotSupported;
    if (!market) {
      const price = packet.limit_price;
      if (typeof price !== "number" || !isTickMultiple(price, info.price_tick)) return REJECT.badTick;
    }
    const maxVolume = market ? info.max_market_order_volume : info.max_limit_order_volume;
    if (maxVolume > 0 && packet.volume > maxVolume) return REJECT.volumeAboveMax;
    if (!market) {
      const q = this.#deps.quote(symbol);
      const upper = finiteOrUndefined(q?.upper_limit);
      const lower = finiteOrUndefined(q?.lower_limit);
      if (upper !== undefined && comparePrices(order.limit_price, upper, info.price_tick) > 0) {
        return REJECT.aboveUpper;
      }
      if (lower !== undefined && comparePrices(order.limit_price, lower, info.price_tick) < 0) {
        return REJECT.belowLower;
      }
    }
    if (!this.#deps.inSession(symbol, now)) return REJECT.notTradingTime;
    if (order.offset === "OPEN") {
      if (roundMoney(order.volume_orign * info.margin) > u.account.available) return REJECT.noMargin;
      return undefined;
    }
    const p = u.positions[symbol];
    const side = closedSide(order.direction);
    if (CLOSE_TODAY_EXCHANGES.has(order.exchange_id)) {
      if (order.offset === "CLOSETODAY") {
        if (!p || closableLots(p, side, "today") < order.volume_orign) return REJECT.closeToday;
      } else if (!p || closableLots(p, side, "his") < order.volume_orign) return REJECT.closeHis;
    } else if (!p || closableLots(p, side, "all") < order.volume_orign) return REJECT.close;
    return undefined;
  }

  /** Match one ALIVE order against the current quote and book the outcome. */
  #match(u: UserState, orderId: string, ch: Changes): void {
    const order = u.orders[orderId];
    const live = u.live[orderId];
    const tick = this.#deps.instrument(live.symbol)?.price_tick ?? 1e-4;
    const result = matchOrder(order, this.#deps.quote(live.symbol), tick);
    if (result.status === "ALIVE") return;
    if (result.status === "CANCELLED") {
      this.#finishUnfilled(u, orderId, result.lastMsg, ch);
      return;
    }
    this.#fill(u, orderId, result.price, ch);
  }

  /** Fill the whole order at `price` (TqSim: one trade, whole volume). */
  #fill(u: UserState, orderId: string, price: number, ch: Changes): void {
    const order = u.orders[orderId];
    const live = u.live[orderId];
    const symbol = live.symbol;
    const meta = this.#meta(u, symbol);
    const lots = order.volume_left;
    const now = this.#deps.nowMs();
    const tradeId = `${orderId}|${lots}`;
    const commission = roundMoney(lots * meta.commission);
    const trade: Trade = {
      trade_id: tradeId,
      order_id: orderId,
      user_id: order.user_id,
      exchange_id: order.exchange_id,
      instrument_id: order.instrument_id,
      exchange_trade_id: tradeId,
      direction: order.direction,
      offset: order.offset,
      price,
      volume: lots,
      trade_date_time: Math.round(now * 1e6),
      commission,
      seqno: ++u.seqno,
    };
    const p = this.#position(u, symbol, meta, price);
    const q = this.#deps.quote(symbol);
    const last = finiteOrUndefined(q?.last_price);
    if (last !== undefined) p.last_price = last;
    if (order.offset === "OPEN") {
      applyOpen(p, openedSide(order.direction), lots, price, meta);
    } else {
      const closeProfit = applyClose(
        p,
        closedSide(order.direction),
        { today: live.frozenToday, his: live.frozenHis },
        price,
        meta,
      );
      u.account.close_profit = roundMoney(u.account.close_profit + closeProfit);
    }
    u.account.commission = roundMoney(u.account.commission + commission);
    order.volume_left = 0;
    order.status = "FINISHED";
    order.last_msg = LAST_MSG.FILLED;
    order.frozen_margin = 0;
    order.seqno = ++u.seqno;
    delete u.live[orderId];
    u.trades[tradeId] = trade;
    this.#recompute(u);
    const t = ch.of(u.user);
    t.orders.add(orderId);
    t.trades.add(tradeId);
    t.positions.add(symbol);
    t.account = true;
    ch.notify(u.user, NOTIFY_CODE.TRADED, "INFO", `成交通知,合约:${symbol},手数:${lots}`);
  }

  /** Turn an ALIVE order FINISHED without a fill, releasing its frozen margin or lots. */
  #finishUnfilled(u: UserState, orderId: string, lastMsg: string, ch: Changes): void {
    const order = u.orders[orderId];
    const live = u.live[orderId];
    order.status = "FINISHED";
    order.last_msg = lastMsg;
    order.frozen_margin = 0;
    order.seqno = ++u.seqno;
    delete u.live[orderId];
    const t = ch.of(u.user);
    if (order.offset !== "OPEN" && (live.frozenToday > 0 || live.frozenHis > 0)) {
      const p = u.positions[live.symbol];
      if (p) {
        adjustFrozen(p, closedSide(order.direction), { today: live.frozenToday, his: live.frozenHis }, -1);
        t.positions.add(live.symbol);
      }
    }
    this.#recompute(u);
    t.orders.add(orderId);
    t.account = true;
  }

  #position(u: UserState, symbol: string, meta: PositionMeta, fallbackPrice?: number): Position {
    let p = u.positions[symbol];
    if (!p) {
      const last = finiteOrUndefined(this.#deps.quote(symbol)?.last_price) ?? fallbackPrice ?? 0;
      p = newPosition(u.user, symbol, last);
      u.positions[symbol] = p;
    }
    u.positionMeta[symbol] = meta;
    return p;
  }

  /** Static numbers of a position: from the catalogue when it knows the symbol, else as last stored. */
  #meta(u: UserState, symbol: string): PositionMeta {
    const info = this.#deps.instrument(symbol);
    if (info) u.positionMeta[symbol] = metaOf(info);
    return u.positionMeta[symbol];
  }

  #recompute(u: UserState): void {
    const valued: ValuedPosition[] = [];
    for (const [symbol, position] of Object.entries(u.positions)) {
      valued.push({ position, meta: u.positionMeta[symbol], exchange_id: position.exchange_id });
    }
    let frozenMargin = 0;
    for (const id of Object.keys(u.live)) frozenMargin += u.orders[id].frozen_margin ?? 0;
    recomputeAccount(u.account, valued, { margin: frozenMargin, commission: 0, premium: 0 });
  }

  #flush(ch: Changes): void {
    const events: EngineEvent[] = ch.notifies.map((n) => ({
      kind: "notify",
      user: n.user,
      notify: n.notify,
    }));
    for (const [user, t] of ch.touched) {
      const u = this.#users.get(user)!;
      const patch: TradePatch = {};
      if (t.account) patch.accounts = { CNY: structuredClone(u.account) };
      if (t.positions.size) patch.positions = pick(u.positions, t.positions);
      if (t.orders.size) patch.orders = pick(u.orders, t.orders);
      if (t.trades.size) patch.trades = pick(u.trades, t.trades);
      if (t.day) {
        patch.trading_day = u.tradingDay;
        patch.session = { user_id: u.user, trading_day: u.tradingDay };
      }
      if (Object.keys(patch).length) events.push({ kind: "trade", user, patch });
    }
    let failure: unknown;
    for (const event of events) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(event);
        } catch (e) {
          failure ??= e;
        }
      }
    }
    if (failure !== undefined) throw failure;
  }
}

function pick<T>(from: Record<string, T>, keys: Set<string>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of keys) if (from[k]) out[k] = structuredClone(from[k]);
  return out;
}

function metaOf(info: InstrumentInfo): PositionMeta {
  return {
    product_id: info.product_id,
    volume_multiple: info.volume_multiple,
    margin: info.margin,
    commission: info.commission,
  };
}

/**
 * TqSim's matching rule for one ALIVE order against a quote:
 * - market types (`ANY`/`BEST`/`FIVELEVEL`) take ask1 (BUY) / bid1 (SELL); none there → "市价指令剩余撤销";
 * - LIMIT is marketable when BUY price ≥ ask1 or SELL price ≤ bid1 and then fills whole at its own price;
 * - IOC that is not marketable now → "已撤单报单已提交" (also when the counter side is empty, where TqSim
 *   would leave it ALIVE);
 * - otherwise the order rests.
 */
export function matchOrder(order: Order, quote: Quote | undefined, tick: number): MatchResult {
  const ask = finiteOrUndefined(quote?.ask_price1);
  const bid = finiteOrUndefined(quote?.bid_price1);
  const counter = order.direction === "BUY" ? ask : bid;
  if (order.price_type !== "LIMIT") {
    if (counter === undefined) return { status: "CANCELLED", lastMsg: LAST_MSG.MARKET_NO_COUNTERPARTY };
    return { status: "FILLED", price: counter };
  }
  const marketable = counter !== undefined &&
    (order.direction === "BUY"
      ? comparePrices(order.limit_price, counter, tick) >= 0
      : comparePrices(order.limit_price, counter, tick) <= 0);
  if (marketable) return { status: "FILLED", price: order.limit_price };
  if (order.time_condition === "IOC") return { status: "CANCELLED", lastMsg: LAST_MSG.IOC_CANCELLED };
  return { status: "ALIVE" };
}
