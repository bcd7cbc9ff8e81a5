/**
 * DIFF protocol types: the wire vocabulary shared by the connector (`lib/broker/`) and the local
 * exchange (`lib/sim/`). Field names are exactly as shinnytech's servers send them
 * (see `shared/design/diff-protocol.md` §1–§4). Nothing here has behaviour beyond small pure helpers.
 *
 * @module
 */

/** Order direction. */
export type Direction = "BUY" | "SELL";
/** Order offset. `CLOSE` means close-yesterday on SHFE/INE. */
export type Offset = "OPEN" | "CLOSE" | "CLOSETODAY";
/** Price type of an order. */
export type PriceType = "LIMIT" | "ANY" | "BEST" | "FIVELEVEL";
/** Volume condition: `ALL` with `IOC` is FOK. */
export type VolumeCondition = "ANY" | "MIN" | "ALL";
/** Time condition: `IOC` (FAK/FOK) or day orders (`GFD`). */
export type TimeCondition = "IOC" | "GFS" | "GFD" | "GTD" | "GTC" | "GFA";
/** DIFF order status: only these two exist on the wire. */
export type OrderStatus = "ALIVE" | "FINISHED";
/** Notify level. */
export type NotifyLevel = "INFO" | "WARNING" | "ERROR";
/** Notify type. */
export type NotifyType = "MESSAGE" | "TEXT" | "HTML" | "SETTLEMENT";

/** Exchanges that keep today/yesterday positions apart (`CLOSETODAY` vs `CLOSE`). */
export const CLOSE_TODAY_EXCHANGES: ReadonlySet<string> = new Set(["SHFE", "INE"]);

/** One trading-session list: `[["09:00:00","10:15:00"], …]`; night ends may exceed 24:00 (`"25:00:00"`). */
export type SessionList = [string, string][];

/** `trading_time` of an instrument. */
export interface TradingTime {
  day: SessionList;
  night: SessionList;
}

/** One entry of the contract-info (symbols) file `latest.json`, keyed by full symbol. */
export interface InstrumentInfo {
  class: string;
  /** The full symbol, e.g. `SHFE.rb2605` (unlike the trade tree). */
  instrument_id: string;
  exchange_id: string;
  /** Exchange-local code, e.g. `rb2605`. */
  ins_id: string;
  ins_name: string;
  product_id: string;
  product_short_name?: string;
  price_tick: number;
  price_decs: number;
  volume_multiple: number;
  expired: boolean;
  /** Epoch seconds. */
  expire_datetime: number;
  delivery_year?: number;
  delivery_month?: number;
  /** Per-lot margin estimate. */
  margin: number;
  /** Per-lot commission estimate. */
  commission: number;
  max_limit_order_volume: number;
  max_market_order_volume: number;
  min_limit_order_volume?: number;
  min_market_order_volume?: number;
  trading_time: TradingTime;
  sort_key?: number;
  py?: string;
  mmsa?: number;
  last_price?: number | string;
  pre_volume?: number;
  open_interest?: number;
  settlement_price?: number | string;
  [extra: string]: unknown;
}

/** Contract-info file: symbol → instrument. */
export type SymbolsFile = Record<string, InstrumentInfo>;

/** A value that the server may not have yet: DIFF sends the string `"-"` (or `null`) for those. */
export type MaybeNumber = number | "-" | null;

/** Market-data quote (`quotes/<symbol>`), as the md server sends it. */
export interface Quote {
  instrument_id: string;
  /** Exchange time in Beijing, `"2025-12-24 10:00:00.500000"`. */
  datetime: string;
  last_price: MaybeNumber;
  ask_price1: MaybeNumber;
  ask_volume1: MaybeNumber;
  bid_price1: MaybeNumber;
  bid_volume1: MaybeNumber;
  highest: MaybeNumber;
  lowest: MaybeNumber;
  open: MaybeNumber;
  close: MaybeNumber;
  average: MaybeNumber;
  volume: MaybeNumber;
  amount: MaybeNumber;
  open_interest: MaybeNumber;
  settlement: MaybeNumber;
  upper_limit: MaybeNumber;
  lower_limit: MaybeNumber;
  pre_open_interest: MaybeNumber;
  pre_settlement: MaybeNumber;
  pre_close: MaybeNumber;
  [level: string]: MaybeNumber | string;
}

/** `trade/<user>/accounts/CNY`. */
export interface Account {
  user_id: string;
  currency: "CNY";
  pre_balance: number;
  deposit: number;
  withdraw: number;
  static_balance: number;
  close_profit: number;
  commission: number;
  premium: number;
  position_profit: number;
  float_profit: number;
  balance: number;
  margin: number;
  frozen_margin: number;
  frozen_commission: number;
  frozen_premium: number;
  available: number;
  risk_ratio: number;
  market_value?: number;
  ctp_balance?: MaybeNumber;
  ctp_available?: MaybeNumber;
}

/** `trade/<user>/positions/<symbol>`. */
export interface Position {
  user_id: string;
  exchange_id: string;
  /** Exchange code (`rb2605`), not the full symbol. */
  instrument_id: string;
  volume_long_today: number;
  volume_long_his: number;
  volume_long: number;
  volume_long_frozen_today: number;
  volume_long_frozen_his: number;
  volume_long_frozen: number;
  volume_short_today: number;
  volume_short_his: number;
  volume_short: number;
  volume_short_frozen_today: number;
  volume_short_frozen_his: number;
  volume_short_frozen: number;
  volume_long_yd?: number;
  volume_short_yd?: number;
  pos_long_today: number;
  pos_long_his: number;
  pos_short_today: number;
  pos_short_his: number;
  open_price_long: MaybeNumber;
  open_price_short: MaybeNumber;
  open_cost_long: number;
  open_cost_short: number;
  position_price_long: MaybeNumber;
  position_price_short: MaybeNumber;
  position_cost_long: number;
  position_cost_short: number;
  last_price: MaybeNumber;
  float_profit_long: number;
  float_profit_short: number;
  float_profit: number;
  position_profit_long: number;
  position_profit_short: number;
  position_profit: number;
  margin_long: number;
  margin_short: number;
  margin: number;
  market_value_long?: number;
  market_value_short?: number;
  market_value?: number;
}

/** `trade/<user>/orders/<order_id>`. */
export interface Order {
  order_id: string;
  user_id: string;
  exchange_id: string;
  instrument_id: string;
  direction: Direction;
  offset: Offset;
  volume_orign: number;
  volume_left: number;
  price_type: PriceType;
  limit_price: number;
  volume_condition: VolumeCondition;
  time_condition: TimeCondition;
  /** Epoch nanoseconds. 0 = not yet from the server. */
  insert_date_time: number;
  /** `""` = never reached the exchange. */
  exchange_order_id: string;
  status: OrderStatus;
  last_msg: string;
  frozen_margin?: number;
  frozen_commission?: number;
  frozen_premium?: number;
  seqno?: number;
}

/** `trade/<user>/trades/<trade_id>`. */
export interface Trade {
  trade_id: string;
  order_id: string;
  user_id: string;
  exchange_id: string;
  instrument_id: string;
  exchange_trade_id: string;
  direction: Direction;
  offset: Offset;
  price: number;
  volume: number;
  /** Epoch nanoseconds. */
  trade_date_time: number;
  commission: number;
  seqno?: number;
}

/** `notify/<guid>`. */
export interface Notify {
  type: NotifyType;
  level: NotifyLevel;
  code: number;
  content: string;
  session_id?: string;
}

/** `trade/<user>`: the whole trade subtree of one login. */
export interface TradeTree {
  user_id: string;
  trading_day: string;
  trade_more_data: boolean;
  session?: { user_id: string; trading_day: string };
  accounts: Record<string, Account>;
  positions: Record<string, Position>;
  orders: Record<string, Order>;
  trades: Record<string, Trade>;
  banks?: Record<string, unknown>;
  transfers?: Record<string, unknown>;
}

/** Broker list entry (`broker-list.json`, keyed by broker name). */
export interface BrokerEntry {
  url: string;
  category: string[];
  broker_type?: string;
}

/** Client → trade server: `insert_order`. */
export interface InsertOrderPacket {
  aid: "insert_order";
  user_id: string;
  order_id: string;
  exchange_id: string;
  instrument_id: string;
  direction: Direction;
  offset: Offset;
  volume: number;
  price_type: PriceType;
  limit_price?: number | null;
  volume_condition: VolumeCondition;
  time_condition: TimeCondition;
  hedge_flag?: string;
}

/** Client → trade server: `cancel_order`. */
export interface CancelOrderPacket {
  aid: "cancel_order";
  user_id: string;
  order_id: string;
}

/** Client → trade server: `req_login`. */
export interface LoginPacket {
  aid: "req_login";
  bid: string;
  user_name: string;
  password: string;
  client_app_id?: string;
  client_system_info?: string;
}

/** Server → client: `rtn_data` with an array of JSON merge patches applied in order. */
export interface RtnData {
  aid: "rtn_data";
  data: Record<string, unknown>[];
}

/**
 * Nanoseconds per second. DIFF times are epoch nanoseconds sent as JSON numbers; as JS numbers they keep
 * about 0.25 µs of precision, which is finer than any exchange timestamp.
 */
export const NS_PER_SECOND = 1_000_000_000;
