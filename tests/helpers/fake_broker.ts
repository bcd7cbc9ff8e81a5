/**
 * A hand-driven {@link Broker} for unit tests of the consumers of the broker interface (live view, hub,
 * Redis writer, routes), and builders of the broker's views. The broker is not under test here: the test
 * emits events by hand with {@link FakeBroker.emit}.
 *
 * @module
 */
import type {
  AccountSnapshot,
  AccountView,
  Broker,
  BrokerEvent,
  BrokerInsert,
  BrokerOrderView,
  BrokerState,
  InstrumentView,
  PositionView,
  QuoteView,
  SendResult,
} from "../../lib/broker/types.ts";

/** A position of `symbol` from lots held (today/his per side); the rest derived, money fields 0. */
export function position(
  symbol: string,
  lots: { long_today?: number; long_his?: number; short_today?: number; short_his?: number } = {},
  extra: Partial<PositionView> = {},
): PositionView {
  const long_today = lots.long_today ?? 0;
  const long_his = lots.long_his ?? 0;
  const short_today = lots.short_today ?? 0;
  const short_his = lots.short_his ?? 0;
  const long = long_today + long_his;
  const short = short_today + short_his;
  return {
    symbol,
    long_today,
    long_his,
    short_today,
    short_his,
    long,
    short,
    net: long - short,
    long_frozen_today: 0,
    long_frozen_his: 0,
    short_frozen_today: 0,
    short_frozen_his: 0,
    open_price_long: long > 0 ? 3500 : null,
    open_price_short: short > 0 ? 3500 : null,
    last_price: 3500,
    float_profit: 0,
    position_profit: 0,
    margin: 0,
    ...extra,
  };
}

/** An account with `balance`, everything else derived simply. */
export function account(balance: number, extra: Partial<AccountView> = {}): AccountView {
  return {
    balance,
    available: balance,
    margin: 0,
    frozen_margin: 0,
    risk_ratio: 0,
    position_profit: 0,
    float_profit: 0,
    close_profit: 0,
    commission: 0,
    static_balance: balance,
    pre_balance: balance,
    ...extra,
  };
}

/** An alive limit order. */
export function order(id: string, extra: Partial<BrokerOrderView> = {}): BrokerOrderView {
  return {
    broker_order_id: id,
    exchange_order_id: "",
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume_orign: 1,
    volume_left: 1,
    price_type: "LIMIT",
    limit_price: 3500,
    time_condition: "GFD",
    volume_condition: "ANY",
    status: "ALIVE",
    last_msg: "",
    insert_time_ms: 1_766_541_600_000,
    ...extra,
  };
}

/** A broker state; `ready: true` gives phase `ready`. */
export function brokerState(ready: boolean, extra: Partial<BrokerState> = {}): BrokerState {
  return {
    phase: ready ? "ready" : "backoff",
    since: 1_766_541_600_000,
    ready,
    trading_day: "20251224",
    last_data_at: 1_766_541_600_000,
    reconnects: 0,
    attempts: 0,
    last_error: null,
    alarm: false,
    ...extra,
  };
}

/** A complete snapshot from lists. */
export function snapshot(
  parts: {
    positions?: PositionView[];
    orders?: BrokerOrderView[];
    account?: AccountView;
    trading_day?: string;
  },
): AccountSnapshot {
  return {
    trading_day: parts.trading_day ?? "20251224",
    account: parts.account ?? account(10_000_000),
    positions: Object.fromEntries((parts.positions ?? []).map((p) => [p.symbol, p])),
    orders: Object.fromEntries((parts.orders ?? []).map((o) => [o.broker_order_id, o])),
    trades: {},
  };
}

/** A broker whose events the test emits by hand. Sends are refused (this fake does not trade). */
export class FakeBroker implements Broker {
  #listeners = new Set<(event: BrokerEvent) => void>();
  #state: BrokerState = brokerState(false, { phase: "stopped", trading_day: "" });
  #snapshot: AccountSnapshot | null = null;

  /** Deliver `event` to listeners (and remember state/snapshot events for `state()`/`snapshot()`). */
  emit(event: BrokerEvent): void {
    if (event.type === "state") this.#state = event.state;
    if (event.type === "snapshot") this.#snapshot = event.snapshot;
    for (const l of [...this.#listeners]) l(event);
  }

  /** Number of listeners (to check unsubscribe). */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  state(): BrokerState {
    return this.#state;
  }
  snapshot(): AccountSnapshot | null {
    return this.#snapshot;
  }
  position(symbol: string): PositionView | undefined {
    return this.#snapshot?.positions[symbol];
  }

  order(brokerOrderId: string): BrokerOrderView | undefined {
    return this.#snapshot?.orders[brokerOrderId];
  }

  workingOrders(symbol: string): BrokerOrderView[] {
    return Object.values(this.#snapshot?.orders ?? {}).filter((o) =>
      o.symbol === symbol && o.status === "ALIVE"
    );
  }

  waitReady(_timeoutMs: number): Promise<void> {
    return this.#state.ready ? Promise.resolve() : Promise.reject(new Error("not ready"));
  }
  insert(_order: BrokerInsert): SendResult {
    return { ok: false, reason: "STOPPED", message: "fake broker" };
  }
  cancel(_brokerOrderId: string): SendResult {
    return { ok: false, reason: "STOPPED", message: "fake broker" };
  }
  quote(_symbol: string): QuoteView | undefined {
    return undefined;
  }
  instrument(_symbol: string): InstrumentView | undefined {
    return undefined;
  }
  subscribeQuotes(_symbols: string[]): void {}
  subscribe(listener: (event: BrokerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
