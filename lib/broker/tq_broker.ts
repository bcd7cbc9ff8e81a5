/**
 * The {@linkcode Broker} over npm `tqsdk` (tqsdk-js 1.3.1) and the DIFF protocol.
 *
 * What we take from tqsdk: the sockets (through our {@linkcode createSafeWebSocketClass}: JSON-parsed,
 * sanitised frames), its merge of `rtn_data` into a tree, the contract-info file and `req_login`. What we do
 * ourselves, because tqsdk gets it wrong for a trading service (`shared/design/diff-protocol.md` §7):
 *
 * - **Reconnects.** tqsdk's reconnect budget never resets and it keeps a stale tree. Right after tqsdk
 *   creates a socket we set `reconnect = false` on its TqWebsocket; on a close we schedule our own attempt
 *   (jittered exponential backoff, never giving up). Each trade attempt does `removeAccount` + `addAccount`
 *   + `login`, so the account gets a fresh DataManager (no stale orders or positions). The md socket is
 *   recreated and the full `subscribe_quote` list sent on the new socket.
 * - **Readiness.** Ready = logged in (the `session` packet) AND `trade_more_data === false` AND every
 *   position lot count readable AND, in `real` mode, the settlement confirmed on this session. Reaching ready
 *   emits one `snapshot` event (the complete view, which replaces the consumer's), then `state`.
 * - **Settlement (`real`).** `confirm_settlement` is sent right after the `session` packet. A DIFF server
 *   sends no answer when it succeeds (OTG only records it; diff-protocol.md §1.7, §3.6): it speaks only to
 *   refuse — a WARNING notify (OTG-CTP 336 "当前时间不支持确认结算单") — and CTP refuses orders until the
 *   statement is confirmed (error 42 "结算结果未确认"). So the session stays in `confirming` for
 *   `settlementWaitMs` after the send; a refusal in that time ends the attempt (retried on the backoff), and
 *   an order refused later for an unconfirmed statement makes the session confirm again (not ready until
 *   then).
 * - **Position lots.** A malformed lot count in a frame (an overflowing number, `null`, `-1`, `1.5`, a
 *   string) is never published: the position keeps its last good value for that field (a WARNING), a new
 *   position without one is not published, and a snapshot holding one does not make the session ready (an
 *   ERROR; the alarm follows) — see `readPosition` in `views.ts`.
 * - **Sends.** `insert_order` and `cancel_order` are our own packets (tqsdk's `insertOrder` cannot carry our
 *   order id or FAK/FOK and merges a provisional order into the tree). A send happens only on an OPEN socket
 *   of a ready session; otherwise it is refused (`NOT_CONNECTED`, `RECONCILING`, `STOPPED`) and nothing is
 *   queued (tqsdk queues while not open and silently drops the queue on close).
 * - **Events.** After each trade frame has been merged, `trade`, `order`, `position` and `account` events for
 *   exactly the objects the frame touched (in that order: fills before the order that they finish), read from
 *   the merged tree. Never during `syncing`: the `snapshot` event covers that. Notifies → `notice` events.
 * - **Login failures** (a non-INFO notify, or a known failure text, before the `session`) → `last_error`, the
 *   socket is closed and the next attempt waits for the backoff.
 *
 * @module
 */

import RawTqsdk from "tqsdk";
import { getLogger } from "../log.ts";
import { authenticate, AuthError, type AuthToken, tokenNeedsRefresh } from "./auth.ts";
import { Backoff } from "./backoff.ts";
import { type ConsoleCapture, installConsoleCapture } from "./console_capture.ts";
import { isValidBrokerOrderId } from "./order_ids.ts";
import { createSafeWebSocketClass, type SafeSocket } from "./safe_websocket.ts";
import type {
  AccountSnapshot,
  Broker,
  BrokerEvent,
  BrokerInsert,
  BrokerOrderView,
  BrokerPhase,
  BrokerState,
  InstrumentView,
  PositionView,
  QuoteView,
  SendResult,
} from "./types.ts";
import {
  ALL_POSITIONS,
  frameNotifies,
  framePositionLots,
  initialBrokerState,
  isLotCount,
  isWellFormed,
  type MalformedLot,
  readPosition,
  readSnapshot,
  toAccountView,
  toInstrumentView,
  toNotice,
  toOrderView,
  toQuoteView,
  toTradeView,
  touchedKeys,
  touchedQuotes,
  zeroPosition,
} from "./views.ts";

/** The broker-list URL hard-coded in tqsdk-js; `requestMethod` maps it to the configured one. */
export const TQSDK_BROKER_LIST_URL = "https://files.shinnytech.com/broker-list.json";

/** The sandbox's broker name. */
export const SANDBOX_BROKER = "快期模拟";

/** Run modes (`tq.run_mode`). */
export type RunMode = "sim" | "sandbox" | "real";

/** Everything {@linkcode TqBroker} needs, resolved from the configuration by `createBroker`. */
export interface TqBrokerOptions {
  mode: RunMode;
  /** For log lines. */
  portfolioId: string;
  /** Broker name (`bid`); sandbox: always {@linkcode SANDBOX_BROKER}. */
  bid: string;
  /** Login user (sim, real); sandbox: the auth token's `sub`. */
  user?: string;
  /** Login password (sim, real); sandbox: the auth token's `sub`. */
  password?: string;
  /** shinnytech authentication (sandbox, real). */
  auth?: { url: string; clientId: string; clientSecret: string; username: string; password: string };
  /** Passed to tqsdk as `accessToken` when there is no auth (sim). Default `"sim"`. */
  accessToken?: string;
  brokerListUrl: string;
  symbolsUrl: string;
  mdUrl: string;
  reconnect: { initialMs: number; maxMs: number; alarmAfterS: number };
  /** Clock for state timestamps and token expiry; default `Date.now`. */
  now?: () => number;
  /** Jitter source of the backoffs; default `Math.random`. */
  random?: () => number;
  /** An attempt that is not ready after this long is abandoned and retried. Default 30 000 ms. */
  loginTimeoutMs?: number;
  /** Timeout of each HTTP fetch (broker list, contract info, auth). Default 15 000 ms. */
  fetchTimeoutMs?: number;
  /**
   * `real` mode: how long after `confirm_settlement` was sent without a refusal the settlement counts as
   * confirmed (the server sends no positive answer). Default 1000 ms.
   */
  settlementWaitMs?: number;
}

// ---------------------------------------------------------------------------------------------------------
// The parts of tqsdk-js we use (its .d.ts is incomplete)
// ---------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

interface TqEmitter {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

interface TqWs extends TqEmitter {
  /** Our SafeSocket. */
  ws: SafeSocket;
  reconnect: boolean;
  send(obj: unknown): void;
  isReady(): boolean;
  close(): void;
}

interface TqDataManager {
  getByPath(path: string[]): unknown;
}

interface TqAccountEntry {
  bid: string;
  user_id: string;
  ws: TqWs;
  dm: TqDataManager;
}

interface TqInstance extends TqEmitter {
  dm: TqDataManager;
  wsOption: Obj;
  quotesWs: TqWs | null;
  quotesInfo: Record<string, Obj>;
  brokers: string[] | null;
  brokers_list: Record<string, Obj> | null;
  subscribeQuotesSet: Set<string>;
  _accessToken: string;
  initMdWebsocket(): void;
  subscribeQuote(list: string[]): void;
  addAccount(p: LoginAccount): TqAccountEntry | null | undefined;
  removeAccount(p: { bid: string; user_id: string }): void;
  login(p: LoginAccount): void;
  confirmSettlement(p: { bid: string; user_id: string }): void;
}

type TqCtor = new (opts: Obj, wsOption: Obj) => TqInstance;
const TQSDK = RawTqsdk as unknown as TqCtor;

interface LoginAccount {
  bid: string;
  user_id: string;
  password: string;
}

/** One trade connection attempt: its tqsdk account (fresh DataManager) and socket. */
interface TradeAttempt {
  seq: number;
  acct: LoginAccount;
  entry: TqAccountEntry;
  tws: TqWs;
  socket: SafeSocket;
  closeInfo: string;
  loggedIn: boolean;
  /** `real` mode: the settlement counts as confirmed (sent, and not refused within `settlementWaitMs`). */
  confirmed: boolean;
  confirmTimer: ReturnType<typeof setTimeout> | null;
  /** Position lot fields a frame corrupted (tqsdk's merge may have deleted them), by symbol. */
  corrupt: Map<string, Map<string, unknown>>;
  /** Malformed lot counts already logged (`symbol field` → value), so each is logged once. */
  reportedLots: Map<string, string>;
}

/** Codes/texts of login failures that some back ends send at level INFO (CTP 339 "账户和密码不匹配!"). */
const LOGIN_FAILURE_TEXT = /登录失败|不匹配|登录超时|不合法/;

/** OTG-CTP's code for "当前时间不支持确认结算单" (the confirmation refused). */
const SETTLEMENT_REFUSED_CODE = 336;

/** Non-INFO notify texts that refuse a settlement confirmation ("确认结算单失败…", "…不支持确认结算单"). */
const SETTLEMENT_REFUSED_TEXT = /确认结算单|结算单确认/;

/** Non-INFO notify texts of an order refused for an unconfirmed statement (CTP 42 "结算结果未确认"). */
const SETTLEMENT_UNCONFIRMED_TEXT = /结算结果未确认|结算单未确认|未确认结算/;

const WS_OPEN = 1;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `o[k]` when `k` is an own property (never a value inherited from Object.prototype). */
function own<T>(o: Record<string, T>, k: string): T | undefined {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

function clip(s: string, max = 500): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The {@linkcode Broker} implementation over tqsdk-js. */
export class TqBroker implements Broker {
  readonly #o: TqBrokerOptions;
  readonly #now: () => number;
  readonly #log = getLogger("broker");
  readonly #listeners = new Set<(event: BrokerEvent) => void>();
  readonly #state: BrokerState;
  readonly #tradeBackoff: Backoff;
  readonly #mdBackoff: Backoff;
  readonly #symbolsBackoff: Backoff;
  readonly #abort = new AbortController();
  readonly #sockets = new Set<SafeSocket>();
  readonly #quotes = new Map<string, QuoteView>();
  readonly #mdSymbols = new Set<string>();

  #tq: TqInstance | null = null;
  #capture: ConsoleCapture | null = null;
  #started = false;
  #stopped = false;
  #snapshot: AccountSnapshot | null = null;
  /** ALIVE orders of the snapshot by symbol (ids), so the send path never scans or copies the day. */
  #alive = new Map<string, Set<string>>();
  #trade: TradeAttempt | null = null;
  #attemptSeq = 0;
  #hadConnection = false;
  #token: AuthToken | null = null;
  #md: TqWs | null = null;
  #mdSawData = false;
  #tradeTimer: ReturnType<typeof setTimeout> | null = null;
  #loginTimer: ReturnType<typeof setTimeout> | null = null;
  #alarmTimer: ReturnType<typeof setTimeout> | null = null;
  #mdTimer: ReturnType<typeof setTimeout> | null = null;
  #symbolsTimer: ReturnType<typeof setTimeout> | null = null;

  /** Build the broker (no I/O until {@linkcode TqBroker.start}). */
  constructor(options: TqBrokerOptions) {
    if (options.mode !== "sandbox" && (!options.user || options.password === undefined)) {
      throw new Error(`run_mode ${options.mode} needs a login user and password`);
    }
    if (options.mode !== "sim" && !options.auth) {
      throw new Error(`run_mode ${options.mode} needs auth settings`);
    }
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const b = {
      initialMs: options.reconnect.initialMs,
      maxMs: options.reconnect.maxMs,
      random: options.random,
    };
    this.#tradeBackoff = new Backoff(b);
    this.#mdBackoff = new Backoff(b);
    this.#symbolsBackoff = new Backoff(b);
    this.#state = initialBrokerState(this.#now());
  }

  // -------------------------------------------------------------------------------------------------------
  // Broker API
  // -------------------------------------------------------------------------------------------------------

  /** Begin connecting (trade and md); resolves at once. Throws after {@linkcode TqBroker.stop}. */
  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error("broker was stopped; create a new one"));
    if (this.#started) return Promise.resolve();
    this.#started = true;
    this.#capture = installConsoleCapture();
    const WebSocketClass = createSafeWebSocketClass({
      onCreate: (_url, socket) => this.#sockets.add(socket),
      onBadFrame: (url, reason, sample) =>
        this.#log.warn("dropped a frame from {url}: {reason}", { url: this.#redactUrl(url), reason, sample }),
      onMerged: (_url, frame, socket) => this.#guard(() => this.#onMerged(frame, socket), socket),
      onHandlerError: (_url, error, socket) => this.#onHandlerError(error, socket),
    });
    const tq = new TQSDK({
      symbolsServerUrl: this.#o.symbolsUrl,
      wsQuoteUrl: this.#o.mdUrl,
      requestMethod: (url: string) => this.#request(url),
      accessToken: this.#o.accessToken ?? "sim",
      autoInit: false,
    }, {
      WebSocket: WebSocketClass,
      reconnectInterval: this.#o.reconnect.initialMs,
      reconnectMaxTimes: 1,
    });
    this.#tq = tq;
    tq.on("ready", () => {
      this.#log.info("contract info loaded: {count} instruments", {
        count: Object.keys(tq.quotesInfo).length,
      });
    });
    tq.on("error", (e) => {
      // tqsdk emits "error" only for a failed HTTP fetch; the broker list is fetched by us, so this is the
      // contract-info file.
      this.#log.warn("contract info fetch failed: {error}", { error: (e as Error)?.message ?? String(e) });
      this.#scheduleSymbols();
    });
    tq.initMdWebsocket();
    if (tq.quotesWs) this.#adoptMd(tq.quotesWs);
    if (this.#mdSymbols.size > 0) tq.subscribeQuote([...this.#mdSymbols]);
    this.#log.info("broker starting: run_mode {mode}, broker {bid}", {
      mode: this.#o.mode,
      bid: this.#o.bid,
      portfolio_id: this.#o.portfolioId,
    });
    this.#armAlarm();
    void this.#attemptTrade();
    return Promise.resolve();
  }

  /** Close every socket and timer; later sends are refused with `STOPPED`. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    for (
      const t of [this.#tradeTimer, this.#loginTimer, this.#alarmTimer, this.#mdTimer, this.#symbolsTimer]
    ) {
      if (t !== null) clearTimeout(t);
    }
    this.#tradeTimer =
      this.#loginTimer =
      this.#alarmTimer =
      this.#mdTimer =
      this.#symbolsTimer =
        null;
    this.#teardownTrade();
    if (this.#md) this.#md.close();
    this.#md = null;
    this.#state.ready = false;
    this.#setPhase("stopped");
    // Wait for the close handshakes, so no socket op outlives stop().
    const deadline = Date.now() + 2000;
    while ([...this.#sockets].some((s) => s.readyState !== 3) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.#sockets.clear();
    // tqsdk schedules a peek with setImmediate after each frame; let those run (they send nothing now).
    await new Promise((r) => setTimeout(r, 0));
    this.#capture?.uninstall();
    this.#capture = null;
    this.#log.info("broker stopped", { portfolio_id: this.#o.portfolioId });
  }

  /** A copy of the connection state. */
  state(): BrokerState {
    return { ...this.#state, last_error: this.#state.last_error ? { ...this.#state.last_error } : null };
  }

  /** A copy of the last complete view (kept current by the events), or null before the first one. */
  snapshot(): AccountSnapshot | null {
    return this.#snapshot ? structuredClone(this.#snapshot) : null;
  }

  /** A copy of the current position in `symbol` (undefined = none, or before the first snapshot). */
  position(symbol: string): PositionView | undefined {
    const positions = this.#snapshot?.positions;
    const p = positions && own(positions, symbol);
    return p ? { ...p } : undefined;
  }

  /** A copy of one order of the current view. */
  order(brokerOrderId: string): BrokerOrderView | undefined {
    const orders = this.#snapshot?.orders;
    const o = orders && own(orders, brokerOrderId);
    return o ? { ...o } : undefined;
  }

  /** Copies of the ALIVE orders on `symbol` (every terminal's), from an index: no scan of the day. */
  workingOrders(symbol: string): BrokerOrderView[] {
    const ids = this.#alive.get(symbol);
    const orders = this.#snapshot?.orders;
    if (!ids || !orders) return [];
    const out: BrokerOrderView[] = [];
    for (const id of ids) {
      const o = orders[id];
      if (o) out.push({ ...o });
    }
    return out;
  }

  #indexOrder(id: string, view: BrokerOrderView | undefined): void {
    for (const [symbol, ids] of this.#alive) {
      if (ids.delete(id) && ids.size === 0) this.#alive.delete(symbol);
    }
    if (view?.status !== "ALIVE") return;
    const ids = this.#alive.get(view.symbol) ?? new Set<string>();
    ids.add(id);
    this.#alive.set(view.symbol, ids);
  }

  /** Resolve when ready; reject after `timeoutMs` or when stopped meanwhile. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.#state.ready) return Promise.resolve();
    if (this.#stopped) return Promise.reject(new Error("broker stopped"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const e = this.#state.last_error;
        reject(
          new Error(
            `broker not ready after ${timeoutMs} ms (phase ${this.#state.phase}${
              e ? `, last error: ${e.message}` : ""
            })`,
          ),
        );
      }, timeoutMs);
      const off = this.subscribe((ev) => {
        if (ev.type !== "state") return;
        if (ev.state.ready) {
          clearTimeout(timer);
          off();
          resolve();
        } else if (ev.state.phase === "stopped") {
          clearTimeout(timer);
          off();
          reject(new Error("broker stopped"));
        }
      });
    });
  }

  /**
   * Send one `insert_order` on the ready socket, with `order_id = order.broker_order_id`. Refused (nothing
   * sent) when stopped, without an open trade socket, or while the snapshot is incomplete. Throws RangeError
   * for a malformed order (bad symbol or id, LIMIT without price, volume not a positive integer): the send
   * gate must not produce those.
   */
  insert(order: BrokerInsert): SendResult {
    const refused = this.#sendGate();
    if (refused) return refused;
    const dot = order.symbol.indexOf(".");
    if (dot <= 0 || dot === order.symbol.length - 1) throw new RangeError(`bad symbol ${order.symbol}`);
    if (!isValidBrokerOrderId(order.broker_order_id)) {
      throw new RangeError(`bad broker_order_id ${JSON.stringify(order.broker_order_id)}`);
    }
    if (!Number.isInteger(order.volume) || order.volume <= 0) {
      throw new RangeError(`bad volume ${order.volume}`);
    }
    if (
      order.price_type === "LIMIT" &&
      !(typeof order.limit_price === "number" && Number.isFinite(order.limit_price))
    ) {
      throw new RangeError("LIMIT order without a finite limit_price");
    }
    const t = this.#trade!;
    const packet: Obj = {
      aid: "insert_order",
      user_id: t.acct.user_id,
      order_id: order.broker_order_id,
      exchange_id: order.symbol.slice(0, dot),
      instrument_id: order.symbol.slice(dot + 1),
      direction: order.direction,
      offset: order.offset,
      volume: order.volume,
      price_type: order.price_type,
      volume_condition: order.volume_condition,
      time_condition: order.time_condition,
    };
    if (order.price_type === "LIMIT") packet.limit_price = order.limit_price;
    const sent = this.#send(t, packet);
    if (!sent.ok) return sent;
    // debug: the executor logs the same send at info, with the request's order_id
    this.#log.debug("insert_order sent {broker_order_id}: {direction} {offset} {volume} {symbol} @ {price}", {
      broker_order_id: order.broker_order_id,
      direction: order.direction,
      offset: order.offset,
      volume: order.volume,
      symbol: order.symbol,
      price: order.price_type === "LIMIT" ? order.limit_price : order.price_type,
      time_condition: order.time_condition,
      volume_condition: order.volume_condition,
      portfolio_id: this.#o.portfolioId,
    });
    return sent;
  }

  /** Send one `cancel_order` on the ready socket (same refusals as {@linkcode TqBroker.insert}). */
  cancel(brokerOrderId: string): SendResult {
    const refused = this.#sendGate();
    if (refused) return refused;
    if (!isValidBrokerOrderId(brokerOrderId)) {
      throw new RangeError(`bad broker_order_id ${JSON.stringify(brokerOrderId)}`);
    }
    const t = this.#trade!;
    const sent = this.#send(t, { aid: "cancel_order", user_id: t.acct.user_id, order_id: brokerOrderId });
    if (sent.ok) {
      this.#log.info("cancel_order sent {broker_order_id}", {
        broker_order_id: brokerOrderId,
        portfolio_id: this.#o.portfolioId,
      });
    }
    return sent;
  }

  /** Latest quote of a subscribed symbol. */
  quote(symbol: string): QuoteView | undefined {
    const q = this.#quotes.get(symbol);
    return q ? { ...q } : undefined;
  }

  /** Instrument data from the contract-info file (undefined until loaded or when unknown). */
  instrument(symbol: string): InstrumentView | undefined {
    const info = this.#tq?.quotesInfo?.[symbol];
    return isObj(info) ? toInstrumentView(symbol, info) : undefined;
  }

  /** Add symbols to the md subscription (kept across reconnects; the list only grows). */
  subscribeQuotes(symbols: string[]): void {
    const fresh = symbols.filter((s) => s !== "" && !this.#mdSymbols.has(s));
    for (const s of fresh) this.#mdSymbols.add(s);
    if (fresh.length === 0 || !this.#tq || this.#stopped || !this.#tq.quotesWs) return;
    this.#tq.subscribeQuote(fresh);
  }

  /** Listen to events; returns the unsubscribe function. */
  subscribe(listener: (event: BrokerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------------------
  // Sends
  // -------------------------------------------------------------------------------------------------------

  #sendGate(): SendResult | null {
    if (this.#stopped) return { ok: false, reason: "STOPPED", message: "the broker is stopped" };
    const t = this.#trade;
    if (!t || t.socket.readyState !== WS_OPEN) {
      return {
        ok: false,
        reason: "NOT_CONNECTED",
        message: `no open trade socket (phase ${this.#state.phase})`,
      };
    }
    if (!this.#state.ready) {
      return {
        ok: false,
        reason: "RECONCILING",
        message: `connected, but the account snapshot is not complete (phase ${this.#state.phase})`,
      };
    }
    return null;
  }

  #send(t: TradeAttempt, packet: Obj): SendResult {
    // Re-check right before writing: tqsdk's send queues when not OPEN, and we never queue.
    if (!t.tws.isReady()) {
      return { ok: false, reason: "NOT_CONNECTED", message: "trade socket is not open" };
    }
    try {
      t.tws.send(packet);
    } catch (e) {
      return { ok: false, reason: "NOT_CONNECTED", message: `send failed: ${(e as Error).message}` };
    }
    return { ok: true };
  }

  // -------------------------------------------------------------------------------------------------------
  // Trade connection
  // -------------------------------------------------------------------------------------------------------

  async #attemptTrade(): Promise<void> {
    this.#tradeTimer = null;
    if (this.#stopped) return;
    const seq = ++this.#attemptSeq;
    this.#teardownTrade();
    this.#setPhase("connecting");
    let acct: LoginAccount;
    try {
      acct = await this.#prepareLogin();
    } catch (e) {
      if (this.#stopped || seq !== this.#attemptSeq) return;
      const status = e instanceof AuthError ? e.status : null;
      this.#failAttempt(status, (e as Error).message);
      return;
    }
    if (this.#stopped || seq !== this.#attemptSeq) return;
    const tq = this.#tq!;
    const entry = tq.addAccount(acct);
    if (!entry || !entry.ws) {
      this.#failAttempt(null, `broker ${JSON.stringify(acct.bid)} is not in the broker list`);
      return;
    }
    const tws = entry.ws;
    tws.reconnect = false; // we own reconnects
    const t: TradeAttempt = {
      seq,
      acct,
      entry,
      tws,
      socket: tws.ws,
      closeInfo: "",
      loggedIn: false,
      confirmed: false,
      confirmTimer: null,
      corrupt: new Map(),
      reportedLots: new Map(),
    };
    this.#trade = t;
    // Keep the close code/reason for the log: wrap tqsdk's handler (its own close() replaces it by a no-op).
    const tqOnClose = t.socket.onclose;
    t.socket.onclose = (ev) => {
      t.closeInfo = `code ${ev.code}${ev.reason ? `, ${ev.reason}` : ""}`;
      tqOnClose?.(ev);
    };
    tws.on("open", () => this.#guard(() => this.#onTradeOpen(t), t.socket));
    tws.on("close", () => this.#guard(() => this.#onTradeClose(t), t.socket));
    tws.on("error", () => {}); // a close follows
    tq.login(acct); // queued by tqsdk until the socket opens
    this.#loginTimer = setTimeout(() => {
      this.#loginTimer = null;
      if (this.#trade === t && !this.#state.ready) {
        this.#failAttempt(null, `not ready ${this.#o.loginTimeoutMs ?? 30_000} ms after connecting`);
      }
    }, this.#o.loginTimeoutMs ?? 30_000);
  }

  /** Authenticate when needed, load the broker list, and decide the login. */
  async #prepareLogin(): Promise<LoginAccount> {
    const tq = this.#tq!;
    if (this.#o.auth) {
      if (!this.#token || tokenNeedsRefresh(this.#token, this.#now())) {
        const a = this.#o.auth;
        this.#token = await authenticate({
          authUrl: a.url,
          clientId: a.clientId,
          clientSecret: a.clientSecret,
          username: a.username,
          password: a.password,
          timeoutMs: this.#o.fetchTimeoutMs ?? 15_000,
          signal: this.#abort.signal,
        });
        this.#log.info("authenticated at {auth_url} as {sub}", { auth_url: a.url, sub: this.#token.sub });
      }
      tq._accessToken = this.#token.accessToken;
    }
    if (!tq.brokers) {
      const data = await this.#request(TQSDK_BROKER_LIST_URL);
      if (!isObj(data)) throw new Error(`broker list from ${this.#o.brokerListUrl} is not a JSON object`);
      tq.brokers_list = data as Record<string, Obj>;
      tq.brokers = Object.keys(data).filter((x) => !x.endsWith(" ")).sort();
    }
    const bid = this.#o.bid;
    const entry = tq.brokers_list?.[bid];
    if (!tq.brokers.includes(bid) || !isObj(entry) || typeof entry.url !== "string") {
      tq.brokers = null; // fetch again next time
      throw new Error(
        `broker ${JSON.stringify(bid)} is not in the broker list from ${this.#o.brokerListUrl}`,
      );
    }
    if (this.#o.mode === "sandbox") {
      const sub = this.#token!.sub;
      return { bid, user_id: sub, password: sub };
    }
    return { bid, user_id: this.#o.user!, password: this.#o.password! };
  }

  #onTradeOpen(t: TradeAttempt): void {
    if (t !== this.#trade || this.#stopped) return;
    if (this.#hadConnection) this.#state.reconnects++;
    this.#hadConnection = true;
    this.#log.info("trade socket open; logging in as {user} at {bid}", {
      user: t.acct.user_id,
      bid: t.acct.bid,
      portfolio_id: this.#o.portfolioId,
    });
    this.#setPhase("logging_in");
  }

  #onTradeClose(t: TradeAttempt): void {
    if (t !== this.#trade || this.#stopped) return;
    this.#failAttempt(null, `trade socket closed (${t.closeInfo || "no close frame"})`);
  }

  /** Abandon the current attempt (closing its socket) and schedule the next one after the backoff. */
  #failAttempt(code: number | null, message: string): void {
    if (this.#stopped) return;
    const wasReady = this.#state.ready;
    this.#teardownTrade();
    this.#state.ready = false;
    this.#state.attempts++;
    this.#state.last_error = { code, message, at: this.#now() };
    const delay = this.#tradeBackoff.next();
    this.#log.warn("broker connection: {message}; retrying in {delay_ms} ms (attempt {attempts})", {
      message,
      code,
      delay_ms: delay,
      attempts: this.#state.attempts,
      portfolio_id: this.#o.portfolioId,
    });
    if (wasReady) this.#armAlarm();
    this.#setPhase("backoff", true);
    if (this.#tradeTimer !== null) clearTimeout(this.#tradeTimer);
    this.#tradeTimer = setTimeout(() => void this.#attemptTrade(), delay);
  }

  #teardownTrade(): void {
    if (this.#loginTimer !== null) clearTimeout(this.#loginTimer);
    this.#loginTimer = null;
    const t = this.#trade;
    if (!t) return;
    this.#trade = null;
    if (t.confirmTimer !== null) clearTimeout(t.confirmTimer);
    t.confirmTimer = null;
    // Closes the socket without a close event and drops the DataManager: the next login starts fresh.
    this.#tq?.removeAccount(t.acct);
  }

  #onTradeFrame(t: TradeAttempt, frame: Obj): void {
    this.#state.last_data_at = this.#now();
    if (frame.aid !== "rtn_data") return;
    for (const n of frameNotifies(frame)) {
      this.#onNotify(t, n);
      if (t !== this.#trade) return; // the notify ended this attempt
    }
    const user = t.acct.user_id;
    this.#trackCorruptLots(t, frame);
    const tree = t.entry.dm.getByPath(["trade", user]);
    if (!isObj(tree)) return;
    if (!t.loggedIn) {
      const session = tree.session;
      if (!isObj(session) || !session.trading_day) return;
      t.loggedIn = true;
      this.#state.trading_day = String(session.trading_day);
      this.#log.info("logged in as {user}, trading day {trading_day}", {
        user,
        trading_day: this.#state.trading_day,
        portfolio_id: this.#o.portfolioId,
      });
      if (this.#o.mode === "real") {
        this.#tq!.confirmSettlement(t.acct); // once per account object: each attempt has a fresh one
        this.#confirmSent(t);
      }
      this.#setPhase("syncing");
    }
    this.#advance(t, tree, frame);
  }

  /** `confirm_settlement` went out on `t`: confirmed once `settlementWaitMs` pass without a refusal. */
  #confirmSent(t: TradeAttempt): void {
    t.confirmed = false;
    if (t.confirmTimer !== null) clearTimeout(t.confirmTimer);
    const wait = this.#o.settlementWaitMs ?? 1000;
    this.#log.info("confirm_settlement sent; confirmed unless refused within {wait_ms} ms", {
      user: t.acct.user_id,
      wait_ms: wait,
      portfolio_id: this.#o.portfolioId,
    });
    t.confirmTimer = setTimeout(() => {
      t.confirmTimer = null;
      if (t !== this.#trade || this.#stopped) return;
      t.confirmed = true;
      this.#log.info("settlement confirmed (not refused within {wait_ms} ms)", {
        user: t.acct.user_id,
        wait_ms: wait,
        portfolio_id: this.#o.portfolioId,
      });
      this.#guard(() => {
        const tree = t.entry.dm.getByPath(["trade", t.acct.user_id]);
        if (isObj(tree)) this.#advance(t, tree, null);
      }, t.socket);
    }, wait);
  }

  /** Readiness after a frame (or the end of the settlement wait) on the current session; events when ready. */
  #advance(t: TradeAttempt, tree: Obj, frame: Obj | null): void {
    const complete = tree.trade_more_data === false;
    const confirmed = this.#o.mode !== "real" || t.confirmed;
    if (!this.#state.ready) {
      if (complete && confirmed) this.#becomeReady(t, tree);
      else if (complete) this.#setPhase("confirming");
      return;
    }
    if (!complete) {
      // The server started another snapshot on this session: hold events until it is complete.
      this.#becomeUnready(
        "the server resent an incomplete snapshot; not ready until it completes",
        "syncing",
      );
      return;
    }
    if (frame) this.#emitTouched(t, frame, tree);
  }

  #becomeUnready(message: string, phase: BrokerPhase): void {
    this.#state.ready = false;
    this.#log.warn(message, { portfolio_id: this.#o.portfolioId });
    this.#armAlarm();
    this.#setPhase(phase, true);
  }

  /** Note which position lot fields this frame set to something that is not a lot count (or repaired). */
  #trackCorruptLots(t: TradeAttempt, frame: Obj): void {
    for (const [symbol, fields] of framePositionLots(frame, t.acct.user_id)) {
      if (symbol === ALL_POSITIONS) {
        t.corrupt.clear(); // every position was deleted, with its fields
        continue;
      }
      if (fields === null) {
        t.corrupt.delete(symbol); // the position was deleted whole
        continue;
      }
      const bad = t.corrupt.get(symbol) ?? new Map<string, unknown>();
      for (const [field, value] of fields) {
        if (isLotCount(value)) bad.delete(field);
        else bad.set(field, value);
      }
      if (bad.size > 0) t.corrupt.set(symbol, bad);
      else t.corrupt.delete(symbol);
    }
  }

  /** Log each malformed lot count once (per value); a field read well again is forgotten. */
  #reportLots(t: TradeAttempt, symbol: string, malformed: MalformedLot[], consequence: string): void {
    if (malformed.length === 0 && t.reportedLots.size === 0) return; // the usual frame: nothing to do
    const prefix = `${symbol} `;
    const current = new Set(malformed.map((m) => prefix + m.field));
    for (const key of [...t.reportedLots.keys()]) {
      if (key.startsWith(prefix) && !current.has(key)) t.reportedLots.delete(key);
    }
    for (const m of malformed) {
      const key = prefix + m.field;
      const value = typeof m.value === "string" ? JSON.stringify(m.value) : String(m.value);
      if (t.reportedLots.get(key) === value) continue;
      t.reportedLots.set(key, value);
      const props = { symbol, field: m.field, value, kept: m.kept, portfolio_id: this.#o.portfolioId };
      if (m.kept === null) {
        this.#log.error("malformed lot count {field}={value} in position {symbol}: {consequence}", {
          ...props,
          consequence,
        });
      } else {
        this.#log.warn("malformed lot count {field}={value} in position {symbol}: keeping {kept}", props);
      }
    }
  }

  #becomeReady(t: TradeAttempt, tree: Obj): void {
    const { snapshot, malformed } = readSnapshot(tree, t.corrupt);
    if (malformed.length > 0) {
      for (const [symbol, list] of Map.groupBy(malformed, (m) => m.symbol)) {
        this.#reportLots(t, symbol, list, "the snapshot is not used; not ready until the server corrects it");
      }
      this.#armAlarm();
      return;
    }
    if (this.#loginTimer !== null) clearTimeout(this.#loginTimer);
    this.#loginTimer = null;
    if (snapshot.trading_day) this.#state.trading_day = snapshot.trading_day;
    this.#snapshot = snapshot;
    this.#alive = new Map();
    for (const [id, o] of Object.entries(snapshot.orders)) this.#indexOrder(id, o);
    this.#state.ready = true;
    this.#state.attempts = 0;
    this.#tradeBackoff.reset();
    this.#disarmAlarm();
    this.#log.info(
      "broker ready: trading day {trading_day}, {orders} orders, {positions} positions, balance {balance}",
      {
        trading_day: snapshot.trading_day,
        orders: Object.keys(snapshot.orders).length,
        positions: Object.keys(snapshot.positions).length,
        balance: snapshot.account.balance,
        portfolio_id: this.#o.portfolioId,
      },
    );
    this.#emit({ type: "snapshot", snapshot: structuredClone(snapshot) });
    this.#setPhase("ready", true);
  }

  /** Events for exactly what the frame touched, read from the merged tree (fills first). */
  #emitTouched(t: TradeAttempt, frame: Obj, tree: Obj): void {
    const user = t.acct.user_id;
    const snap = this.#snapshot!;
    const touched = touchedKeys(frame, user);
    const coll = (name: "orders" | "trades" | "positions"): Obj => isObj(tree[name]) ? tree[name] as Obj : {};
    const keysOf = (set: Set<string> | "all", name: "orders" | "trades" | "positions") =>
      set === "all" ? new Set([...Object.keys(coll(name)), ...Object.keys(snap[name])]) : set;

    const trades = coll("trades");
    for (const k of keysOf(touched.trades, "trades")) {
      const v = own(trades, k);
      if (!isObj(v) || !isWellFormed(v)) {
        delete snap.trades[k];
        continue;
      }
      const view = toTradeView(k, v);
      snap.trades[k] = view;
      this.#emit({ type: "trade", trade: { ...view } });
    }
    const orders = coll("orders");
    for (const k of keysOf(touched.orders, "orders")) {
      const v = own(orders, k);
      if (!isObj(v) || !isWellFormed(v)) {
        delete snap.orders[k];
        this.#indexOrder(k, undefined);
        continue;
      }
      const view = toOrderView(k, v);
      snap.orders[k] = view;
      this.#indexOrder(k, view);
      this.#emit({ type: "order", order: { ...view } });
    }
    const positions = coll("positions");
    for (const k of keysOf(touched.positions, "positions")) {
      const v = own(positions, k);
      const previous = own(snap.positions, k);
      if (!isObj(v)) {
        if (!previous) continue; // never published (or a key like "toString" that tqsdk merged into a builtin)
        delete snap.positions[k];
        this.#emit({ type: "position", position: zeroPosition(k) });
        continue;
      }
      const read = readPosition(k, v, { previous, corrupt: t.corrupt.get(k) });
      this.#reportLots(t, k, read.malformed, "the position is not published until a good value arrives");
      if (!read.view) continue;
      snap.positions[k] = read.view;
      this.#emit({ type: "position", position: { ...read.view } });
    }
    if (touched.account) {
      const accounts = isObj(tree.accounts) ? tree.accounts : {};
      const view = toAccountView(accounts.CNY as Obj | undefined);
      snap.account = view;
      this.#emit({ type: "account", account: { ...view } });
    }
    const session = isObj(tree.session) ? tree.session : {};
    const day = String(session.trading_day ?? "");
    if (day && day !== this.#state.trading_day) {
      this.#state.trading_day = day;
      snap.trading_day = day;
      this.#emitState();
    }
  }

  #onNotify(t: TradeAttempt, n: Obj): void {
    const notice = toNotice(n);
    const props = {
      code: notice.code,
      level: notice.level,
      type: notice.type,
      content: clip(notice.content),
      user: t.acct.user_id,
      portfolio_id: this.#o.portfolioId,
    };
    const message = "broker notice {code} ({type}): {content}";
    if (notice.level === "ERROR") this.#log.error(message, props);
    else if (notice.level === "WARNING") this.#log.warn(message, props);
    else this.#log.info(message, props);
    this.#emit({ type: "notice", notice });
    if (!t.loggedIn && (notice.level !== "INFO" || LOGIN_FAILURE_TEXT.test(notice.content))) {
      this.#failAttempt(notice.code, `login refused (${notice.code}): ${clip(notice.content, 200)}`);
      return;
    }
    if (this.#o.mode !== "real" || !t.loggedIn || notice.level === "INFO") return;
    if (notice.code === SETTLEMENT_REFUSED_CODE || SETTLEMENT_REFUSED_TEXT.test(notice.content)) {
      this.#failAttempt(
        notice.code,
        `settlement confirmation refused (${notice.code}): ${clip(notice.content, 200)}`,
      );
    } else if (SETTLEMENT_UNCONFIRMED_TEXT.test(notice.content)) {
      // The broker says the statement is not confirmed after all: confirm again, not ready meanwhile.
      this.#send(t, { aid: "confirm_settlement" });
      this.#confirmSent(t);
      if (this.#state.ready) {
        this.#becomeUnready("the broker reports the settlement unconfirmed; confirming again", "confirming");
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Market data
  // -------------------------------------------------------------------------------------------------------

  #adoptMd(q: TqWs): void {
    q.reconnect = false; // we own reconnects
    this.#md = q;
    this.#mdSawData = false;
    q.on("close", () => this.#guard(() => this.#onMdClose(q), q.ws));
    q.on("error", () => {});
  }

  #onMdClose(q: TqWs): void {
    if (this.#stopped || q !== this.#md) return;
    const delay = this.#mdBackoff.next();
    this.#log.warn("md socket closed; reconnecting in {delay_ms} ms", { delay_ms: delay });
    if (this.#mdTimer !== null) clearTimeout(this.#mdTimer);
    this.#mdTimer = setTimeout(() => this.#guard(() => this.#reconnectMd(), null), delay);
  }

  /** A new quote socket (tqsdk's own class, our WebSocket) with the full subscription sent on it. */
  #reconnectMd(): void {
    this.#mdTimer = null;
    const tq = this.#tq;
    const old = this.#md;
    if (this.#stopped || !tq || !old) return;
    old.close();
    const Ctor = old.constructor as new (url: string, dm: TqDataManager, wsOption: Obj) => TqWs;
    const q = new Ctor(this.#o.mdUrl, tq.dm, tq.wsOption);
    tq.quotesWs = q;
    this.#adoptMd(q);
    const list = [...tq.subscribeQuotesSet];
    // tqsdk re-sends subscribe_quote only when the list changed: send it on the new socket ourselves
    // (queued by tqsdk until this socket opens; if it closes first, the next reconnect sends it again).
    if (list.length > 0) q.send({ aid: "subscribe_quote", ins_list: list.join(",") });
    if (Object.keys(tq.quotesInfo).length === 0) this.#scheduleSymbols();
  }

  #onMdFrame(frame: Obj): void {
    this.#state.last_data_at = this.#now();
    if (!this.#mdSawData) {
      this.#mdSawData = true;
      this.#mdBackoff.reset();
      this.#log.info("md socket receiving", {});
    }
    if (frame.aid !== "rtn_data") return;
    const tq = this.#tq!;
    const now = this.#now();
    // Every quote tqsdk receives is kept, not only the symbols asked for here: tqsdk adds the account's
    // position symbols to its subscription on its own, and does not subscribe again to a symbol it already
    // has, so a later `subscribeQuotes` of such a symbol must find its quote here.
    for (const symbol of touchedQuotes(frame)) {
      const q = tq.dm.getByPath(["quotes", symbol]);
      if (!isObj(q)) continue;
      const view = toQuoteView(symbol, q, now);
      this.#quotes.set(symbol, view);
      this.#emit({ type: "quote", quote: { ...view } });
    }
  }

  #scheduleSymbols(): void {
    if (this.#stopped || this.#symbolsTimer !== null) return;
    const delay = this.#symbolsBackoff.next();
    this.#symbolsTimer = setTimeout(() => {
      this.#symbolsTimer = null;
      void this.#loadSymbols();
    }, delay);
  }

  async #loadSymbols(): Promise<void> {
    const tq = this.#tq;
    if (this.#stopped || !tq || Object.keys(tq.quotesInfo).length > 0) return;
    try {
      const data = await this.#request(this.#o.symbolsUrl);
      if (!isObj(data)) throw new Error("contract info is not a JSON object");
      for (const s of Object.values(data)) if (isObj(s) && s.class === "FUTURE_OPTION") s.class = "OPTION";
      tq.quotesInfo = data as Record<string, Obj>;
      this.#symbolsBackoff.reset();
      this.#log.info("contract info loaded: {count} instruments", { count: Object.keys(data).length });
    } catch (e) {
      if (this.#stopped) return;
      this.#log.warn("contract info fetch failed: {error}", { error: (e as Error).message });
      this.#scheduleSymbols();
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Plumbing
  // -------------------------------------------------------------------------------------------------------

  /** tqsdk's `requestMethod`: the hard-coded broker-list URL → ours; a timeout; clear errors. */
  async #request(url: string): Promise<unknown> {
    const target = url === TQSDK_BROKER_LIST_URL ? this.#o.brokerListUrl : url;
    const ms = this.#o.fetchTimeoutMs ?? 15_000;
    const timeout = AbortSignal.timeout(ms);
    try {
      const res = await fetch(target, {
        headers: { Accept: "application/json; charset=utf-8" },
        signal: AbortSignal.any([this.#abort.signal, timeout]),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`GET ${target}: HTTP ${res.status}`);
      }
      const text = await res.text();
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`GET ${target}: reply is not JSON`);
      }
    } catch (e) {
      // After stop() nobody needs the result; a never-settling promise keeps tqsdk from logging the abort.
      if (this.#stopped) return new Promise(() => {});
      if (timeout.aborted) throw new Error(`GET ${target}: timed out after ${ms} ms`);
      const msg = (e as Error).message;
      throw new Error(msg.startsWith(`GET ${target}`) ? msg : `GET ${target}: ${msg}`);
    }
  }

  #onMerged(frame: Obj, socket: SafeSocket): void {
    if (this.#stopped) return;
    const t = this.#trade;
    if (t && socket === t.socket) this.#onTradeFrame(t, frame);
    else if (this.#md && socket === this.#md.ws) this.#onMdFrame(frame);
  }

  #onHandlerError(error: unknown, socket: SafeSocket): void {
    const message = `tqsdk failed to handle a frame: ${(error as Error)?.message ?? String(error)}`;
    this.#log.error(message, { portfolio_id: this.#o.portfolioId });
    if (this.#stopped) return;
    // Its tree may be half-updated: start over with a fresh connection.
    if (this.#trade && socket === this.#trade.socket) this.#failAttempt(null, message);
    else if (this.#md && socket === this.#md.ws) this.#md.ws.close();
  }

  /** Run a handler; an exception becomes an ERROR log and a fresh connection, never an uncaught error. */
  #guard(fn: () => void, socket: SafeSocket | null): void {
    try {
      fn();
    } catch (e) {
      this.#log.error("broker internal error: {error}", {
        error: (e as Error)?.stack ?? String(e),
        portfolio_id: this.#o.portfolioId,
      });
      if (socket) this.#onHandlerError(e, socket);
    }
  }

  #redactUrl(url: string): string {
    return url.replace(/access_token=[^&]*/g, "access_token=***");
  }

  #armAlarm(): void {
    if (this.#alarmTimer !== null || this.#stopped) return;
    this.#alarmTimer = setTimeout(() => {
      this.#alarmTimer = null;
      if (this.#stopped || this.#state.ready) return;
      this.#state.alarm = true;
      this.#log.error("broker not ready for {seconds} s (phase {phase}; last error: {last_error})", {
        seconds: this.#o.reconnect.alarmAfterS,
        phase: this.#state.phase,
        last_error: this.#state.last_error?.message ?? "none",
        portfolio_id: this.#o.portfolioId,
      });
      this.#emitState();
    }, this.#o.reconnect.alarmAfterS * 1000);
  }

  #disarmAlarm(): void {
    if (this.#alarmTimer !== null) clearTimeout(this.#alarmTimer);
    this.#alarmTimer = null;
    if (this.#state.alarm) {
      this.#state.alarm = false;
      this.#log.info("broker ready again: alarm cleared", { portfolio_id: this.#o.portfolioId });
    }
  }

  #setPhase(phase: BrokerPhase, always = false): void {
    if (phase === this.#state.phase && !always) return;
    if (phase !== this.#state.phase) {
      this.#state.phase = phase;
      this.#state.since = this.#now();
    }
    this.#emitState();
  }

  #emitState(): void {
    this.#emit({ type: "state", state: this.state() });
  }

  #emit(event: BrokerEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (e) {
        this.#log.error("a broker event listener threw on {type}: {error}", {
          type: event.type,
          error: (e as Error)?.message ?? String(e),
        });
      }
    }
  }
}
