/**
 * The sim exchange's network face: one HTTP port serving what shinnytech's servers serve
 * (`/broker-list.json`, `/t/md/symbols/latest.json`, the market-data WebSocket `/t/md/front/mobile` and the
 * trade WebSocket `/trade`), plus a control API under `/sim/` for tests and fault injection.
 *
 * The DIFF rules it follows (see `shared/design/diff-protocol.md` §1.5–§1.7, §9): `rtn_data` is gated by
 * `peek_message` (one frame per peek, a held peek answered on the next change); `rtn_brokers`, notifies and
 * the login `session` packet are sent at once; a notify always travels in its own `rtn_data` element; every
 * connection of an account sees every change of that account.
 *
 * Settlement confirmation, as OTG in front of CTP (§1.7 step 5, §3.6), for the brokers named in
 * `settlementBrokers`: a login while the account's statement for its trading day is unconfirmed gets the
 * statement as notify 325 (`type: "SETTLEMENT"`) right after the `session` packet; until a
 * `confirm_settlement` arrives, every `insert_order` is refused as CTP refuses it (error 42: order FINISHED
 * with `last_msg` "CTP:结算结果未确认", WARNING notify 42 "下单失败,CTP:结算结果未确认"). A confirmation is
 * answered with nothing (OTG only records it); it holds for the account's trading day, on every connection.
 *
 * @module
 */

import type {
  CancelOrderPacket,
  InsertOrderPacket,
  LoginPacket,
  Notify,
  Quote,
  SymbolsFile,
} from "../diff/types.ts";
import { isPlainObject } from "../diff/json.ts";
import type { EngineEvent, OrderRefusal, SimEngine } from "./engine.ts";
import type { SimMarket } from "./market.ts";
import type { SimClock } from "./clock.ts";
import { FaultPlan, type FaultSettings } from "./faults.ts";

/** What the server needs from the rest of the sim. */
export interface SimServerParts {
  /** Returns the current engine (it is replaced on a restart with state kept). */
  engine: () => SimEngine;
  market: SimMarket;
  catalogue: SymbolsFile;
  clock: SimClock;
  /** Trading day of a moment, for the session packet. */
  tradingDay: (ms: number) => string;
  /** Control hooks the sim owner implements (settlement, restart). */
  control: SimControlHooks;
}

/** Operations of the control API that need the sim's owner. */
export interface SimControlHooks {
  settle(): void;
  /** Keep the accounts, drop every connection, refuse new ones for `downMs`. */
  restart(downMs: number): Promise<void>;
  /** One market step now (what the timer does). */
  step(): void;
}

/** Options of {@linkcode startSimServer}. */
export interface SimServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Broker names served in `broker-list.json` and accepted in `req_login.bid`. */
  brokerNames: string[];
  /**
   * Brokers that behave like a CTP gateway without automatic settlement confirmation (see the module doc);
   * default none.
   */
  settlementBrokers?: string[];
  /** Called with a one-line description of unusual events (bad packets, unknown aids). */
  onLog?: (level: "info" | "warning", message: string, props?: Record<string, unknown>) => void;
}

/** A running sim server. */
export interface SimServer {
  /** `http://host:port`. */
  readonly baseUrl: string;
  readonly port: number;
  readonly faults: FaultPlan;
  /** Close every WebSocket of the given kind (and user, for trade sockets). Returns how many. */
  dropConnections(kind: "md" | "trade" | "all", user?: string): number;
  /** Refuse (true) or accept (false) new WebSocket connections. */
  setAccepting(accepting: boolean): void;
  /** Re-attach to the current engine after a restart. */
  rebindEngine(): void;
  /** Number of open connections by kind. */
  connectionCount(): { md: number; trade: number };
  /**
   * Send `text` as one raw frame, ungated, on every open connection of `kind` (trade: logged-in ones, of
   * `user` when given). Returns how many got it. For tests of hostile or broken servers.
   */
  inject(kind: "md" | "trade", text: string, user?: string): number;
  /** Send the held second parts of split snapshots (fault `hold_snapshot`). Returns how many. */
  releaseSnapshots(): number;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/**
 * Whether applying `b` after `a` can be written as one patch: not when `b` sets an object where `a` deletes
 * (the client must delete first, then merge into an empty object).
 */
function composable(a: Json, b: Json): boolean {
  for (const [k, v] of Object.entries(b)) {
    if (!isPlainObject(v) || !Object.hasOwn(a, k)) continue;
    const cur = a[k];
    if (cur === null) return false;
    if (isPlainObject(cur) && !composable(cur, v)) return false;
  }
  return true;
}

/**
 * Compose merge patch `b` into `a` (RFC 7386: the result applied once equals `a` then `b`), keeping `null`s:
 * they delete on the client (and are how the md feed says a depth level is empty).
 */
function compose(a: Json, b: Json): void {
  for (const [k, v] of Object.entries(b)) {
    if (k === "__proto__") continue;
    const cur = Object.hasOwn(a, k) ? a[k] : undefined;
    if (isPlainObject(v) && isPlainObject(cur)) compose(cur, v);
    else a[k] = structuredClone(v);
  }
}

/** Base class of one WebSocket peer: peek gating and sending. */
abstract class Peer {
  /**
   * Merge patches waiting for the next peek (usually one: later ones are composed into it). A patch is
   * queued as given (the engine's and the market's are fresh, and never changed after) and may be shared
   * with other peers; it is copied only when a later patch is composed into it (`#owned`).
   */
  #pending: Json[] = [];
  #owned = new WeakSet<Json>();
  #peeking = false;
  #closed = false;
  constructor(readonly socket: WebSocket, protected readonly server: ServerState) {}

  /** Queue a merge patch for the next `rtn_data`. */
  queue(patch: Json): void {
    let last = this.#pending.at(-1);
    if (last && composable(last, patch)) {
      if (!this.#owned.has(last)) {
        last = structuredClone(last);
        this.#owned.add(last);
        this.#pending[this.#pending.length - 1] = last;
      }
      compose(last, patch);
    } else this.#pending.push(patch);
    if (this.#peeking) this.flush();
  }

  /** A `peek_message` arrived. */
  peek(): void {
    if (this.#pending.length > 0) this.flush();
    else this.#peeking = true;
  }

  /** Send a packet now, ignoring peek gating (rtn_brokers, notifies, session). */
  sendNow(packet: Json): void {
    if (this.#closed || this.socket.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(packet);
    const faults = this.server.faults;
    const delay = faults.settings.delay_ms;
    const copies = faults.settings.duplicate ? 2 : 1;
    const send = () => {
      for (let i = 0; i < copies; i++) {
        if (this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
      }
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  }

  private flush(): void {
    const data = this.#pending;
    if (data.length === 0) return;
    this.#pending = [];
    this.#peeking = false;
    this.sendNow({ aid: "rtn_data", data: [...data, {}] });
  }

  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.socket.close(code, reason);
    } catch {
      // already closing
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  markClosed(): void {
    this.#closed = true;
  }

  abstract handle(packet: Json): void;
}

/** A market-data connection. */
class MdPeer extends Peer {
  subscribed = new Set<string>();

  start(): void {
    this.sendNow({ aid: "rsp_login", account_id: "", session_id: "MDSESSION" });
    this.queue({ account_id: "", ins_list: "", mdhis_more_data: false });
  }

  handle(packet: Json): void {
    switch (packet.aid) {
      case "peek_message":
        return this.peek();
      case "subscribe_quote":
        return this.subscribe(String(packet.ins_list ?? ""));
      default:
        this.server.log("warning", `md: ignored aid ${JSON.stringify(packet.aid)}`);
    }
  }

  private subscribe(insList: string): void {
    const symbols = insList.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    const added = symbols.filter((s) => !this.subscribed.has(s));
    this.subscribed = new Set(symbols);
    const known = added.filter((s) => this.server.parts.catalogue[s] !== undefined);
    this.server.parts.market.activate(known);
    const quotes: Json = {};
    for (const symbol of known) {
      const quote = this.server.parts.market.quote(symbol);
      if (quote) quotes[symbol] = quote;
    }
    const patch: Json = { ins_list: insList };
    if (Object.keys(quotes).length > 0) patch.quotes = quotes;
    this.queue(patch);
  }

  quoteChanged(symbol: string, fields: Json): void {
    if (this.subscribed.has(symbol)) this.queue({ quotes: { [symbol]: fields } });
  }
}

/** A trade connection. */
class TradePeer extends Peer {
  user: string | null = null;
  bid = "";
  readonly sessionId: string;

  constructor(socket: WebSocket, server: ServerState) {
    super(socket, server);
    this.sessionId = `SIM${(++server.sessionSeq).toString(16).padStart(6, "0")}`;
  }

  start(): void {
    this.sendNow({ aid: "rtn_brokers", brokers: [...this.server.options.brokerNames] });
  }

  notify(notify: Notify): void {
    const key = `${this.sessionId}-${++this.server.notifySeq}`;
    this.sendNow({
      aid: "rtn_data",
      data: [{ notify: { [key]: { ...notify, session_id: this.sessionId } } }],
    });
  }

  handle(packet: Json): void {
    switch (packet.aid) {
      case "peek_message":
        return this.peek();
      case "req_login":
        return this.login(packet as unknown as LoginPacket);
      case "confirm_settlement":
        return this.confirmSettlement();
      case "qry_settlement_info":
        return this.sendNow({
          aid: "qry_settlement_info",
          trading_day: packet.trading_day,
          user_name: this.user ?? "",
          settlement_info: "",
        });
      case "insert_order":
        return this.insert(packet as unknown as InsertOrderPacket);
      case "cancel_order":
        return this.cancel(packet as unknown as CancelOrderPacket);
      default:
        this.server.log("warning", `trade: ignored aid ${JSON.stringify(packet.aid)}`, { user: this.user });
    }
  }

  private login(packet: LoginPacket): void {
    if (!this.server.options.brokerNames.includes(String(packet.bid))) {
      // OTG closes the socket when the broker is not served.
      this.server.log("warning", `trade: login for unknown broker ${JSON.stringify(packet.bid)}`);
      this.close(1008, "unknown broker");
      return;
    }
    if (this.user !== null) {
      return this.notify({ type: "MESSAGE", level: "WARNING", code: 400, content: "重复发送登录请求!" });
    }
    const userName = String(packet.user_name ?? "");
    if (this.server.faults.settings.refuse_login) {
      return this.notify({ type: "MESSAGE", level: "WARNING", code: 403, content: "用户登录失败!" });
    }
    const result = this.server.parts.engine().checkLogin(userName, String(packet.password ?? ""));
    if (!result.ok) {
      return this.notify({ type: "MESSAGE", level: "WARNING", code: result.code, content: result.content });
    }
    this.user = userName;
    this.bid = String(packet.bid);
    this.notify({ type: "MESSAGE", level: "INFO", code: 401, content: "登录成功" });
    const engine = this.server.parts.engine();
    const snapshot = engine.snapshot(userName) as unknown as Json;
    const tradingDay = String(snapshot.trading_day);
    this.sendNow({
      aid: "rtn_data",
      data: [{ trade: { [userName]: { session: { user_id: userName, trading_day: tradingDay } } } }],
    });
    if (this.settlementUnconfirmed()) {
      this.notify({
        type: "SETTLEMENT",
        level: "INFO",
        code: 325,
        content: `投资者结算单 ${userName}（sim）`,
      });
    }
    if (this.server.faults.settings.split_snapshot) {
      // Deliver the snapshot in two frames, the first marked incomplete, as a production gateway may.
      const { orders, trades, ...rest } = snapshot;
      this.queue({ trade: { [userName]: { ...rest, trade_more_data: true } } });
      const rest2 = () => this.queue({ trade: { [userName]: { orders, trades, trade_more_data: false } } });
      if (this.server.faults.settings.hold_snapshot) this.server.holdSnapshot(this, rest2);
      else this.server.afterNextPeek(this, rest2);
    } else {
      this.queue({ trade: { [userName]: snapshot } });
    }
  }

  private insert(packet: InsertOrderPacket): void {
    if (this.user === null) {
      return this.notify({
        type: "MESSAGE",
        level: "WARNING",
        code: 408,
        content: "下单, 已被服务器拒绝,原因: 未登录",
      });
    }
    const fault = this.server.faults.takeInsertFault();
    if (fault === "drop_before") {
      this.server.log("info", "fault: trade socket dropped before insert_order", {
        order_id: packet.order_id,
      });
      this.close(1011, "fault: drop before insert");
      return;
    }
    if (fault === "ignore") {
      this.server.log("info", "fault: insert_order ignored", { order_id: packet.order_id });
      return;
    }
    this.server.parts.engine().insertOrder(
      this.user,
      packet,
      this.settlementUnconfirmed() ? SETTLEMENT_UNCONFIRMED : undefined,
    );
    if (fault === "drop_after") {
      this.server.log("info", "fault: trade socket dropped after insert_order", {
        order_id: packet.order_id,
      });
      this.close(1011, "fault: drop after insert");
    }
  }

  /** Whether this session's broker wants a confirmation the account has not given for its trading day. */
  private settlementUnconfirmed(): boolean {
    if (this.user === null || !this.server.settlementBrokers.has(this.bid)) return false;
    return this.server.confirmedDay.get(this.user) !== this.server.parts.engine().tradingDay(this.user);
  }

  private confirmSettlement(): void {
    if (this.user === null) return; // OTG ignores everything but req_login before a login
    if (this.server.faults.settings.refuse_settlement) {
      return this.notify({
        type: "MESSAGE",
        level: "WARNING",
        code: 336,
        content: "当前时间不支持确认结算单",
      });
    }
    if (!this.server.settlementBrokers.has(this.bid)) return;
    const day = this.server.parts.engine().tradingDay(this.user);
    if (this.server.confirmedDay.get(this.user) !== day) {
      this.server.confirmedDay.set(this.user, day);
      this.server.log("info", "settlement confirmed", { user: this.user, trading_day: day });
    }
  }

  private cancel(packet: CancelOrderPacket): void {
    if (this.user === null) return;
    this.server.parts.engine().cancelOrder(this.user, packet);
  }
}

/** How CTP (through OTG) refuses an order while the settlement statement is unconfirmed (error 42). */
const SETTLEMENT_UNCONFIRMED: OrderRefusal = {
  code: 42,
  content: "下单失败,CTP:结算结果未确认",
  lastMsg: "CTP:结算结果未确认",
};

/** Server-wide state shared by the peers. */
class ServerState {
  md = new Set<MdPeer>();
  trade = new Set<TradePeer>();
  sessionSeq = 0;
  notifySeq = 0;
  accepting = true;
  faults = new FaultPlan();
  /** Accounts' confirmed settlement: user → the trading day it was confirmed for. */
  confirmedDay = new Map<string, string>();
  readonly settlementBrokers: ReadonlySet<string>;
  #peekHooks = new Map<Peer, () => void>();
  #held: { peer: Peer; send: () => void }[] = [];

  constructor(readonly parts: SimServerParts, readonly options: SimServerOptions) {
    this.settlementBrokers = new Set(options.settlementBrokers ?? []);
  }

  holdSnapshot(peer: Peer, send: () => void): void {
    this.#held.push({ peer, send });
  }

  releaseSnapshots(): number {
    const held = this.#held;
    this.#held = [];
    let n = 0;
    for (const h of held) {
      if (h.peer.closed) continue;
      h.send();
      n++;
    }
    return n;
  }

  log(level: "info" | "warning", message: string, props?: Record<string, unknown>): void {
    this.options.onLog?.(level, message, props);
  }

  afterNextPeek(peer: Peer, fn: () => void): void {
    this.#peekHooks.set(peer, fn);
  }

  takePeekHook(peer: Peer): (() => void) | undefined {
    const fn = this.#peekHooks.get(peer);
    this.#peekHooks.delete(peer);
    return fn;
  }

  engineEvent(event: EngineEvent): void {
    for (const peer of this.trade) {
      if (peer.user !== event.user || peer.closed) continue;
      if (event.kind === "trade") peer.queue({ trade: { [event.user]: event.patch as Json } });
      else peer.notify(event.notify);
    }
  }
}

/** Start the sim's HTTP/WebSocket server. */
export function startSimServer(parts: SimServerParts, options: SimServerOptions): Promise<SimServer> {
  const state = new ServerState(parts, options);
  let unsubscribeEngine = parts.engine().subscribe((e) => state.engineEvent(e));
  const unsubscribeMarket = parts.market.subscribe((symbol, fields) => {
    for (const peer of state.md) peer.quoteChanged(symbol, fields as Json);
  });

  const abort = new AbortController();
  let resolveListening: (addr: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => resolveListening = r);

  const httpServer = Deno.serve({
    hostname: options.host,
    port: options.port,
    signal: abort.signal,
    onListen: (addr) => resolveListening(addr as Deno.NetAddr),
  }, (req) => route(req));

  function route(req: Request): Response | Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      if (path === "/t/md/front/mobile") return upgrade(req, "md");
      if (path === "/trade" || path.startsWith("/trade/")) return upgrade(req, "trade");
      return json({ error: `no WebSocket at ${path}` }, 404);
    }
    if (req.method === "GET" && path === "/broker-list.json") return json(brokerList(url));
    if (req.method === "GET" && path === "/t/md/symbols/latest.json") return json(parts.catalogue);
    if (req.method === "GET" && path.endsWith(".json") && path.lastIndexOf("/") === 0) {
      const bid = decodeURIComponent(path.slice(1, -5));
      const entry = brokerList(url)[bid];
      return entry ? json({ [bid]: entry }) : json({ error: `broker ${bid} not served` }, 404);
    }
    if (path.startsWith("/sim/")) return control(req, url);
    return json({ error: `not found: ${req.method} ${path}` }, 404);
  }

  function brokerList(url: URL): Record<string, { url: string; category: string[]; broker_type: string }> {
    const wsBase = `ws://${url.host}/trade`;
    const list: Record<string, { url: string; category: string[]; broker_type: string }> = {};
    for (const name of options.brokerNames) {
      list[name] = { url: wsBase, category: ["TQ"], broker_type: "FUTURE" };
    }
    return list;
  }

  function upgrade(req: Request, kind: "md" | "trade"): Response {
    if (!state.accepting) return json({ error: "sim is restarting" }, 503);
    const { socket, response } = Deno.upgradeWebSocket(req);
    const peer = kind === "md" ? new MdPeer(socket, state) : new TradePeer(socket, state);
    socket.onopen = () => {
      if (peer instanceof MdPeer) {
        state.md.add(peer);
        peer.start();
      } else {
        state.trade.add(peer as TradePeer);
        (peer as TradePeer).start();
      }
    };
    socket.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      let packet: unknown;
      try {
        packet = JSON.parse(ev.data);
      } catch {
        state.log("warning", `${kind}: frame is not JSON`);
        return;
      }
      if (!isPlainObject(packet)) return;
      try {
        peer.handle(packet);
      } catch (err) {
        state.log("warning", `${kind}: packet failed: ${(err as Error).message}`, { aid: packet.aid });
      }
      if (packet.aid === "peek_message") state.takePeekHook(peer)?.();
    };
    const forget = () => {
      peer.markClosed();
      state.md.delete(peer as MdPeer);
      state.trade.delete(peer as TradePeer);
    };
    socket.onclose = forget;
    socket.onerror = forget;
    return response;
  }

  async function control(req: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    let body: Json = {};
    if (req.method === "POST" || req.method === "PUT") {
      const text = await req.text();
      if (text.trim().length > 0) {
        try {
          const parsed = JSON.parse(text);
          if (!isPlainObject(parsed)) return json({ error: "body must be a JSON object" }, 400);
          body = parsed;
        } catch {
          return json({ error: "body is not JSON" }, 400);
        }
      }
    }
    const match = (method: string, p: string) => req.method === method && path === p;
    if (match("GET", "/sim/quote")) {
      const symbol = url.searchParams.get("symbol") ?? "";
      const quote = parts.market.quote(symbol);
      return quote ? json(quote) : json({ error: `unknown symbol ${symbol}` }, 404);
    }
    if (match("POST", "/sim/quote")) {
      const symbol = String(body.symbol ?? "");
      if (!parts.catalogue[symbol]) return json({ error: `unknown symbol ${symbol}` }, 404);
      const { symbol: _s, ...fields } = body;
      const current = parts.market.quote(symbol) as Json;
      const quoteFields: Partial<Quote> = {};
      for (const [key, value] of Object.entries(fields)) {
        if (!(key in current)) return json({ error: `${key}: not a quote field` }, 400);
        const ok = value === null || value === "-" || (typeof value === "number" && Number.isFinite(value)) ||
          (key === "datetime" && typeof value === "string");
        if (!ok) return json({ error: `${key}: expected a finite number, "-" or null` }, 400);
        quoteFields[key] = value as Quote[string];
      }
      parts.market.activate([symbol]);
      parts.market.setQuote(symbol, quoteFields);
      return json(parts.market.quote(symbol));
    }
    if (match("GET", "/sim/clock")) return json(clockView());
    if (match("POST", "/sim/clock")) {
      if (typeof body.set === "string") parts.clock.set(Date.parse(body.set));
      if (typeof body.advance_ms === "number") parts.clock.advance(body.advance_ms);
      if (typeof body.freeze === "boolean") parts.clock.freeze(body.freeze);
      return json(clockView());
    }
    if (match("POST", "/sim/step")) {
      parts.control.step();
      return json({ ok: true });
    }
    if (match("POST", "/sim/settle")) {
      parts.control.settle();
      return json({ ok: true });
    }
    if (match("GET", "/sim/account")) {
      const user = url.searchParams.get("user") ?? "";
      if (!parts.engine().hasUser(user)) return json({ error: `unknown user ${user}` }, 404);
      return json(parts.engine().snapshot(user));
    }
    if (match("GET", "/sim/faults")) return json(state.faults.settings);
    if (match("POST", "/sim/faults")) {
      const error = state.faults.apply(body as Partial<FaultSettings>);
      return error ? json({ error }, 400) : json(state.faults.settings);
    }
    if (match("POST", "/sim/drop")) {
      const kind = String(body.kind ?? "all");
      if (kind !== "md" && kind !== "trade" && kind !== "all") {
        return json({ error: "kind: md|trade|all" }, 400);
      }
      return json({ dropped: server.dropConnections(kind, body.user ? String(body.user) : undefined) });
    }
    if (match("POST", "/sim/restart")) {
      await parts.control.restart(typeof body.down_ms === "number" ? body.down_ms : 0);
      return json({ ok: true });
    }
    if (match("GET", "/sim/connections")) return json(server.connectionCount());
    if (match("POST", "/sim/inject")) {
      const kind = body.kind;
      if (kind !== "md" && kind !== "trade") return json({ error: "kind: md|trade" }, 400);
      if (typeof body.text !== "string") {
        return json({ error: "text: expected a string (the raw frame)" }, 400);
      }
      if (body.user !== undefined && typeof body.user !== "string") {
        return json({ error: "user: expected a string" }, 400);
      }
      return json({ sent: server.inject(kind, body.text, body.user) });
    }
    if (match("POST", "/sim/release")) return json({ released: server.releaseSnapshots() });
    return json({ error: `not found: ${req.method} ${path}` }, 404);
  }

  function clockView(): Json {
    const now = parts.clock.nowMs();
    return { now_ms: now, iso: new Date(now).toISOString(), trading_day: parts.tradingDay(now) };
  }

  const server: SimServer = {
    get baseUrl() {
      return baseUrl;
    },
    get port() {
      return port;
    },
    faults: state.faults,
    dropConnections(kind, user) {
      let n = 0;
      if (kind === "md" || kind === "all") {
        for (const peer of [...state.md]) {
          peer.close(1011, "sim: connection dropped");
          state.md.delete(peer);
          n++;
        }
      }
      if (kind === "trade" || kind === "all") {
        for (const peer of [...state.trade]) {
          if (user && peer.user !== user) continue;
          peer.close(1011, "sim: connection dropped");
          state.trade.delete(peer);
          n++;
        }
      }
      return n;
    },
    setAccepting(accepting) {
      state.accepting = accepting;
    },
    rebindEngine() {
      unsubscribeEngine();
      unsubscribeEngine = parts.engine().subscribe((e) => state.engineEvent(e));
    },
    connectionCount() {
      return { md: state.md.size, trade: state.trade.size };
    },
    inject(kind, text, user) {
      const peers: Peer[] = kind === "md"
        ? [...state.md]
        : [...state.trade].filter((p) => p.user !== null && (user === undefined || p.user === user));
      let n = 0;
      for (const peer of peers) {
        if (peer.closed || peer.socket.readyState !== WebSocket.OPEN) continue;
        peer.socket.send(text);
        n++;
      }
      state.log("info", `injected a raw frame on ${n} ${kind} connection(s)`, { user });
      return n;
    },
    releaseSnapshots() {
      return state.releaseSnapshots();
    },
    async close() {
      unsubscribeEngine();
      unsubscribeMarket();
      server.dropConnections("all");
      abort.abort();
      await httpServer.finished;
    },
  };

  let baseUrl = "";
  let port = 0;
  return listening.then((addr) => {
    port = addr.port;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    baseUrl = `http://${host}:${addr.port}`;
    return server;
  });
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
