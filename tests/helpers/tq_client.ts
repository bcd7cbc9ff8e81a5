/**
 * Test harness: the real npm `tqsdk` client (tqsdk-js) pointed at a sim exchange on loopback, with frames
 * read through our safe WebSocket class. Used by tests that check the sim is indistinguishable from
 * shinnytech's servers for that client.
 *
 * @module
 */
import RawTqsdk from "tqsdk";
import { createSafeWebSocketClass } from "../../lib/broker/safe_websocket.ts";

/** The parts of a tqsdk instance the tests use. */
export interface TqInstance {
  on(event: string, fn: (...args: unknown[]) => void): void;
  off(event: string, fn: (...args: unknown[]) => void): void;
  initMdWebsocket(): void;
  initTdWebsocket(): void;
  subscribeQuote(list: string[] | string): void;
  getQuote(symbol: string): Record<string, unknown>;
  login(p: { bid: string; user_id: string; password: string }): void;
  isLogined(p: { bid: string; user_id: string }): boolean;
  getAccount(p: { bid: string; user_id: string }): Record<string, unknown>;
  getPosition(p: { bid: string; user_id: string; symbol: string }): Record<string, unknown>;
  getOrder(p: { bid: string; user_id: string; order_id: string }): Record<string, unknown> | undefined;
  getOrders(p: { bid: string; user_id: string }): Record<string, Record<string, unknown>>;
  getTrades(p: { bid: string; user_id: string }): Record<string, Record<string, unknown>>;
  insertOrder(p: Record<string, unknown>): Record<string, unknown> | null;
  cancelOrder(p: { bid: string; user_id: string; order_id: string }): void;
  trade_accounts: Record<string, { ws: { send(o: unknown): void; close(): void }; dm: unknown }>;
  quotesWs: { close(): void } | null;
  brokers: string[] | null;
}

type TqCtor = new (opts: Record<string, unknown>, wsOption: Record<string, unknown>) => TqInstance;
const TQSDK = RawTqsdk as unknown as TqCtor;

/** A connected client. */
export interface TqClient {
  tq: TqInstance;
  account: { bid: string; user_id: string; password: string };
  notifies: Record<string, unknown>[];
  /** Resolve when `predicate` holds after some `rtn_data`, or reject after `timeoutMs`. */
  waitFor<T>(what: string, predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** Send a raw packet on the trade socket (what tqsdk's insertOrder cannot express). */
  sendTrade(packet: Record<string, unknown>): void;
  close(): void;
}

/** Options of {@linkcode openTqClient}. */
export interface TqClientOptions {
  bid?: string;
  user: string;
  password: string;
  /** Do not wait for login (for failure tests). */
  noWait?: boolean;
  reconnectIntervalMs?: number;
  reconnectMaxTimes?: number;
}

/** Open md and trade connections to the sim at `baseUrl` and log in. */
export async function openTqClient(baseUrl: string, options: TqClientOptions): Promise<TqClient> {
  const requestMethod = async (url: string) => {
    const target = url.endsWith("/broker-list.json") ? `${baseUrl}/broker-list.json` : url;
    const res = await fetch(target, { headers: { Accept: "application/json" } });
    return await res.json();
  };
  const wsBase = baseUrl.replace(/^http/, "ws");
  const tq = new TQSDK({
    symbolsServerUrl: `${baseUrl}/t/md/symbols/latest.json`,
    wsQuoteUrl: `${wsBase}/t/md/front/mobile`,
    requestMethod,
    autoInit: false,
    accessToken: "test-token",
  }, {
    WebSocket: createSafeWebSocketClass(),
    reconnectInterval: options.reconnectIntervalMs ?? 100,
    reconnectMaxTimes: options.reconnectMaxTimes ?? 1000,
  });
  const account = { bid: options.bid ?? "快期模拟", user_id: options.user, password: options.password };
  const notifies: Record<string, unknown>[] = [];
  tq.on("notify", (n) => notifies.push(n as Record<string, unknown>));
  tq.on("error", () => {});
  const brokers = new Promise<void>((resolve) => tq.on("rtn_brokers", () => resolve()));
  const ready = new Promise<void>((resolve) => tq.on("ready", () => resolve()));
  tq.initMdWebsocket();
  tq.initTdWebsocket();
  await Promise.all([brokers, ready]);
  tq.login(account);

  const waitFor = <T>(what: string, predicate: () => T | undefined | null | false, timeoutMs = 5000) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        let value: T | undefined | null | false;
        try {
          value = predicate();
        } catch {
          value = undefined;
        }
        if (value !== undefined && value !== null && value !== false) {
          cleanup();
          resolve(value as T);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const onData = () => check();
      const cleanup = () => {
        clearTimeout(timer);
        tq.off("rtn_data", onData);
        tq.off("notify", onData);
      };
      tq.on("rtn_data", onData);
      tq.on("notify", onData);
      check();
    });

  const client: TqClient = {
    tq,
    account,
    notifies,
    waitFor,
    sendTrade(packet) {
      const key = Object.keys(tq.trade_accounts)[0];
      tq.trade_accounts[key].ws.send(packet);
    },
    close() {
      for (const acc of Object.values(tq.trade_accounts)) acc.ws.close();
      tq.quotesWs?.close();
    },
  };
  if (!options.noWait) {
    await waitFor("login", () => tq.isLogined(account));
  }
  return client;
}

/** Wait until the sockets' pending callbacks settle (tqsdk peeks from setImmediate). */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
