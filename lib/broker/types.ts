/**
 * The broker room's interface: what the rest of the service sees of the broker connection. Only
 * `lib/broker/` knows TqSdk and DIFF packets; everything else uses these views. Field names follow the
 * contract and DIFF (`volume_left`, `CLOSETODAY`) so they read the same at every boundary.
 *
 * @module
 */

import type { Direction, Offset, PriceType, TimeCondition, VolumeCondition } from "../diff/types.ts";

export type { Direction, Offset, PriceType, TimeCondition, VolumeCondition };

/** Net position of one symbol, in lots. */
export interface PositionView {
  /** `EXCHANGE.code`, e.g. `SHFE.rb2605`. */
  symbol: string;
  /** Lots held, from DIFF `pos_*` (falling back to `volume_*` when absent). */
  long_today: number;
  long_his: number;
  short_today: number;
  short_his: number;
  long: number;
  short: number;
  /** long − short: the value of the seed Redis key. */
  net: number;
  /** Lots frozen by pending close orders. */
  long_frozen_today: number;
  long_frozen_his: number;
  short_frozen_today: number;
  short_frozen_his: number;
  open_price_long: number | null;
  open_price_short: number | null;
  last_price: number | null;
  float_profit: number;
  position_profit: number;
  margin: number;
}

/** The trading account (CNY). */
export interface AccountView {
  balance: number;
  available: number;
  margin: number;
  frozen_margin: number;
  risk_ratio: number;
  position_profit: number;
  float_profit: number;
  close_profit: number;
  commission: number;
  static_balance: number;
  pre_balance: number;
}

/** An order as the broker shows it. */
export interface BrokerOrderView {
  /** The DIFF `order_id` (derived from the client id for our orders; anything for external ones). */
  broker_order_id: string;
  /** `""` until the exchange accepted it. */
  exchange_order_id: string;
  symbol: string;
  direction: Direction;
  offset: Offset;
  volume_orign: number;
  volume_left: number;
  price_type: PriceType;
  /** null for market orders. */
  limit_price: number | null;
  time_condition: TimeCondition;
  volume_condition: VolumeCondition;
  /** DIFF status: `FINISHED` = can never trade again. */
  status: "ALIVE" | "FINISHED";
  last_msg: string;
  /** Epoch ms of the broker's insert time; 0 = not yet from the server. */
  insert_time_ms: number;
}

/** A fill. */
export interface BrokerTradeView {
  trade_id: string;
  broker_order_id: string;
  exchange_trade_id: string;
  symbol: string;
  direction: Direction;
  offset: Offset;
  price: number;
  volume: number;
  commission: number;
  /** Epoch ms. */
  trade_time_ms: number;
}

/** A broker notice (login result, reject reason, fill notice …). */
export interface BrokerNotice {
  code: number;
  level: "INFO" | "WARNING" | "ERROR";
  type: string;
  content: string;
}

/** One complete, consistent view of the account, as of one moment. */
export interface AccountSnapshot {
  trading_day: string;
  account: AccountView;
  positions: Record<string, PositionView>;
  orders: Record<string, BrokerOrderView>;
  trades: Record<string, BrokerTradeView>;
}

/** Connection phases, in the order a healthy connection goes through them. */
export type BrokerPhase =
  | "stopped"
  | "connecting" // opening the trade socket (or authenticating in sandbox)
  | "logging_in" // req_login sent
  | "syncing" // logged in, snapshot not complete yet (trade_more_data !== false)
  | "confirming" // real mode: settlement confirmation pending
  | "ready"
  | "backoff"; // waiting before the next attempt after a drop or a failure

/** Why a send was refused. */
export type SendRefusal =
  | "NOT_CONNECTED" // no open trade socket
  | "RECONCILING" // connected, but the snapshot after (re)login is not complete
  | "STOPPED" // the broker is shut down
  | "MALFORMED"; // the order could not be written (a bug upstream: the gate should never produce it)

/** The broker connection's state, for health and readiness. */
export interface BrokerState {
  phase: BrokerPhase;
  /** Epoch ms the phase began. */
  since: number;
  ready: boolean;
  /** Trading day of the session (`YYYYMMDD`), "" before login. */
  trading_day: string;
  /** Epoch ms of the last frame from the trade or md server; 0 = none yet. */
  last_data_at: number;
  /** Connections made after the first. */
  reconnects: number;
  /** Consecutive failed attempts (reset when ready). */
  attempts: number;
  /** The last failure (login refused, socket error …), if any. */
  last_error: { code: number | null; message: string; at: number } | null;
  /** True once the not-ready time has passed the alarm threshold. */
  alarm: boolean;
}

/** An insert, fully decided by the send gate. */
export interface BrokerInsert {
  broker_order_id: string;
  symbol: string;
  direction: Direction;
  offset: Offset;
  volume: number;
  price_type: PriceType;
  /** Required for LIMIT. */
  limit_price?: number;
  time_condition: TimeCondition;
  volume_condition: VolumeCondition;
}

/** Outcome of a send: written to an open, ready socket, or refused before anything left. */
export type SendResult = { ok: true } | { ok: false; reason: SendRefusal; message: string };

/** Market-data view of one symbol (what trading rules need). */
export interface QuoteView {
  symbol: string;
  /** Exchange time of the quote, epoch ms; NaN when unknown. */
  datetime_ms: number;
  last_price: number | null;
  bid_price1: number | null;
  ask_price1: number | null;
  upper_limit: number | null;
  lower_limit: number | null;
  /** Epoch ms (local clock) when this quote last changed. */
  received_at: number;
}

/** Static instrument data from the contract-info file. */
export interface InstrumentView {
  symbol: string;
  exchange_id: string;
  instrument_id: string;
  product_id: string;
  class: string;
  price_tick: number;
  volume_multiple: number;
  max_limit_order_volume: number;
  max_market_order_volume: number;
  min_limit_order_volume: number;
  min_market_order_volume: number;
  expired: boolean;
  expire_datetime_ms: number;
  trading_time: { day: [string, string][]; night: [string, string][] };
}

/** What the broker emits. A `snapshot` replaces the consumer's whole view (after every (re)login). */
export type BrokerEvent =
  | { type: "state"; state: BrokerState }
  | { type: "snapshot"; snapshot: AccountSnapshot }
  | { type: "order"; order: BrokerOrderView }
  | { type: "trade"; trade: BrokerTradeView }
  | { type: "position"; position: PositionView }
  | { type: "account"; account: AccountView }
  | { type: "notice"; notice: BrokerNotice }
  | { type: "quote"; quote: QuoteView };

/** The broker connection, as the rest of the service uses it. */
export interface Broker {
  /** Begin connecting (does not wait for readiness). */
  start(): Promise<void>;
  /** Close everything; later sends are refused with `STOPPED`. */
  stop(): Promise<void>;
  state(): BrokerState;
  /** The current complete view, or null before the first complete snapshot. */
  snapshot(): AccountSnapshot | null;
  /** The current position in one symbol (cheap: for the send path; `snapshot()` copies the whole day). */
  position(symbol: string): PositionView | undefined;
  /** One order of the current view. */
  order(brokerOrderId: string): BrokerOrderView | undefined;
  /** The ALIVE orders on one symbol, every terminal's (cheap: an index, no scan of the day). */
  workingOrders(symbol: string): BrokerOrderView[];
  /** Resolve when ready, reject after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Send one insert on the ready socket; never queued across a disconnect. */
  insert(order: BrokerInsert): SendResult;
  /** Send one cancel on the ready socket. */
  cancel(brokerOrderId: string): SendResult;
  /** Latest quote of a subscribed symbol. */
  quote(symbol: string): QuoteView | undefined;
  /** Instrument data, once the contract-info file has loaded. */
  instrument(symbol: string): InstrumentView | undefined;
  /** Add symbols to the market-data subscription (kept across reconnects). */
  subscribeQuotes(symbols: string[]): void;
  /** Listen to events; returns the unsubscribe function. */
  subscribe(listener: (event: BrokerEvent) => void): () => void;
}
