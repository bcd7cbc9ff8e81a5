/**
 * The order tracker: follows every order of this portfolio at the broker to its end and records each
 * change. Broker events (order views, trades, complete snapshots, connection state) become order updates
 * through the state machine (`order_state.ts`) and are written, in order, through an outbox that survives
 * a PostgreSQL outage (nothing dropped, nothing duplicated).
 *
 * Uncertain sends: an order sent on a connection that drops before the broker shows it becomes `UNKNOWN`;
 * the next complete snapshot decides (present → its real state; absent → `REJECTED` NOT_AT_BROKER: it never
 * reached the gateway). It is never resent. Orders of other terminals are recorded as `external`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type {
  AccountSnapshot,
  BrokerEvent,
  BrokerOrderView,
  BrokerState,
  BrokerTradeView,
} from "../broker/types.ts";
import { parseBrokerOrderId } from "../broker/order_ids.ts";
import type { OrderStore, TradeInput } from "../store/pg/order_store.ts";
import { FillLedger, isAnomaly, nextUpdate } from "./order_state.ts";
import { Outbox } from "./outbox.ts";
import { type OrderRecord, type OrderUpdate, TERMINAL_STATUSES } from "./types.ts";

/** What the outbox carries, in order. */
export type TrackerWrite =
  | { kind: "update"; update: OrderUpdate }
  | { kind: "trade"; input: TradeInput }
  | { kind: "external"; view: BrokerOrderView; ledger: FillLedger; tradingDay: string };

/** One tracked order of ours. */
interface Entry {
  record: OrderRecord;
  ledger: FillLedger;
  view: BrokerOrderView | null;
}

/** Options of {@linkcode OrderTracker}. */
export interface OrderTrackerOptions {
  portfolioId: string;
  log: Logger;
  /** Called with every update once queued (for the stream and metrics). */
  onUpdate?: (record: OrderRecord, update: OrderUpdate) => void;
  /** Called when the broker shows (or can no longer show) an order the gate sent. */
  onSettled?: (brokerOrderId: string) => void;
  /** Outbox retry timing (tests). */
  outbox?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** Follows orders at the broker and records their changes. */
export class OrderTracker {
  readonly #open = new Map<string, Entry>();
  readonly #outbox: Outbox<TrackerWrite>;
  readonly #externalLedgers = new Map<string, FillLedger>();
  #tradingDay = "";
  #wasReady = false;

  constructor(private readonly store: OrderStore, private readonly options: OrderTrackerOptions) {
    this.#outbox = new Outbox<TrackerWrite>((batch) => this.#write(batch), {
      ...options.outbox,
      onError: (error, failure) =>
        options.log.warn("recording broker updates failed (attempt {attempt}), retrying: {error}", {
          attempt: failure.attempt,
          error: error.message,
          queued: this.#outbox.size(),
        }),
    });
  }

  /** Load the orders left open by an earlier run (and their fills), before the broker's first snapshot. */
  async load(): Promise<number> {
    const open = await this.store.openOrders();
    for (const record of open) {
      if (!record.broker_order_id) continue;
      const fills = await this.store.fillsOf(record.broker_order_id);
      this.#open.set(record.broker_order_id, { record, ledger: FillLedger.from(fills), view: null });
    }
    return this.#open.size;
  }

  /** Start tracking an order whose intent was just recorded as sent. */
  track(record: OrderRecord): void {
    if (!record.broker_order_id || TERMINAL_STATUSES.has(record.status)) return;
    if (!this.#open.has(record.broker_order_id)) {
      this.#open.set(record.broker_order_id, { record, ledger: new FillLedger(), view: null });
    }
  }

  /** Queue an update for an order the executor changed (e.g. a send refused after the intent commit). */
  recordUpdate(update: OrderUpdate, brokerOrderId?: string | null): void {
    if (brokerOrderId) {
      const entry = this.#open.get(brokerOrderId);
      if (entry) {
        entry.record = applied(entry.record, update);
        if (TERMINAL_STATUSES.has(update.status)) this.#open.delete(brokerOrderId);
      }
    }
    this.#push({ kind: "update", update });
  }

  /** The tracked (open) record of a broker order id. */
  openRecord(brokerOrderId: string): OrderRecord | undefined {
    return this.#open.get(brokerOrderId)?.record;
  }

  /** Number of open orders tracked. */
  get openCount(): number {
    return this.#open.size;
  }

  /** Writes waiting for PostgreSQL. */
  get backlog(): number {
    return this.#outbox.size();
  }

  /** The last write error, while writes are failing. */
  lastError(): Error | null {
    return this.#outbox.lastError();
  }

  /** Resolves once every queued write is in PostgreSQL. */
  flushed(): Promise<void> {
    return this.#outbox.flushed();
  }

  /** Stop, trying to drain the outbox for up to `drainMs`; returns the writes left unwritten. */
  async stop(drainMs = 5000): Promise<number> {
    const left = await this.#outbox.stop({ drainMs });
    return left.length;
  }

  /** Handle one broker event. */
  handle(event: BrokerEvent): void {
    switch (event.type) {
      case "snapshot":
        return this.#reconcile(event.snapshot);
      case "order":
        return this.#order(event.order);
      case "trade":
        return this.#trade(event.trade);
      case "state":
        return this.#state(event.state);
      default:
        return;
    }
  }

  #state(state: BrokerState): void {
    if (state.trading_day) this.#tradingDay = state.trading_day;
    if (this.#wasReady && !state.ready) {
      // Orders sent and not yet shown by the broker: their outcome is unknown until the next snapshot.
      for (const entry of this.#open.values()) {
        if (entry.view === null && entry.record.status === "SUBMITTED") {
          this.#update(entry, {
            portfolio_id: entry.record.portfolio_id,
            id: entry.record.id,
            status: "UNKNOWN",
            fields: {},
            event: {
              event: "unknown",
              reason: "the broker connection dropped before the order was seen; the next snapshot decides",
              phase: state.phase,
            },
          });
        }
      }
    }
    this.#wasReady = state.ready;
  }

  #order(view: BrokerOrderView): void {
    const entry = this.#open.get(view.broker_order_id);
    if (entry) {
      entry.view = view;
      this.options.onSettled?.(view.broker_order_id);
      this.#advance(entry);
      return;
    }
    if (parseBrokerOrderId(view.broker_order_id, this.options.portfolioId)) {
      // Ours but not open: a terminal order re-sent by a snapshot, or a split child not tracked yet.
      return;
    }
    const ledger = this.#externalLedgers.get(view.broker_order_id) ?? new FillLedger();
    this.#externalLedgers.set(view.broker_order_id, ledger);
    this.#push({ kind: "external", view, ledger, tradingDay: this.#tradingDay });
  }

  #trade(trade: BrokerTradeView): void {
    const entry = this.#open.get(trade.broker_order_id);
    const parsed = parseBrokerOrderId(trade.broker_order_id, this.options.portfolioId);
    const orderId = entry?.record.id ?? parsed?.clientOrderId ?? trade.broker_order_id;
    this.#push({ kind: "trade", input: { trade, order_id: orderId } });
    if (entry) {
      if (entry.ledger.add(trade)) this.#advance(entry);
      return;
    }
    if (!parsed) {
      const ledger = this.#externalLedgers.get(trade.broker_order_id) ?? new FillLedger();
      this.#externalLedgers.set(trade.broker_order_id, ledger);
      ledger.add(trade);
    }
  }

  /** A complete snapshot after (re)login: decide every open order from it. */
  #reconcile(snapshot: AccountSnapshot): void {
    this.#tradingDay = snapshot.trading_day;
    for (const trade of Object.values(snapshot.trades)) this.#trade(trade);
    for (const [id, entry] of [...this.#open]) {
      const view = snapshot.orders[id];
      if (view) {
        entry.view = view;
        this.options.onSettled?.(id);
        this.#advance(entry);
        continue;
      }
      this.options.onSettled?.(id);
      const { record } = entry;
      if (record.status === "SUBMITTED" || record.status === "UNKNOWN" || record.status === "RECEIVED") {
        this.#update(entry, {
          portfolio_id: record.portfolio_id,
          id: record.id,
          status: "REJECTED",
          fields: {
            reject_reason: "NOT_AT_BROKER: the broker's complete snapshot has no order with this id; " +
              "it never reached the gateway and was not resent",
          },
          event: { event: "not_at_broker", broker_order_id: id, trading_day: snapshot.trading_day },
        });
      } else if (record.trading_day && record.trading_day < snapshot.trading_day) {
        this.#update(entry, {
          portfolio_id: record.portfolio_id,
          id: record.id,
          status: "CANCELED",
          fields: { last_msg: "trading day ended", volume_left: record.volume_left ?? undefined },
          event: {
            event: "expired",
            reason:
              `not in trading day ${snapshot.trading_day}'s snapshot: a day order ends with its trading day`,
            trading_day: record.trading_day,
          },
        });
      } else {
        this.options.log.error(
          "order {order_id} ({status}) is missing from the broker's snapshot of the same trading day",
          {
            order_id: record.id,
            portfolio_id: record.portfolio_id,
            status: record.status,
            broker_order_id: id,
          },
        );
      }
    }
    for (const view of Object.values(snapshot.orders)) {
      if (!this.#open.has(view.broker_order_id)) this.#order(view);
    }
  }

  #advance(entry: Entry): void {
    if (!entry.view) return;
    const result = nextUpdate(entry.record, entry.view, entry.ledger);
    if (result === null) return;
    if (isAnomaly(result)) {
      this.options.log.error("{anomaly}", {
        anomaly: result.anomaly,
        order_id: entry.record.id,
        portfolio_id: entry.record.portfolio_id,
      });
      return;
    }
    this.#update(entry, result);
  }

  #update(entry: Entry, update: OrderUpdate): void {
    entry.record = applied(entry.record, update);
    if (TERMINAL_STATUSES.has(update.status) && entry.record.broker_order_id) {
      this.#open.delete(entry.record.broker_order_id);
    }
    this.options.log.info("order {order_id} → {status}", {
      order_id: update.id,
      portfolio_id: update.portfolio_id,
      status: update.status,
      event: update.event.event,
    });
    this.#push({ kind: "update", update });
    this.options.onUpdate?.(entry.record, update);
  }

  #push(write: TrackerWrite): void {
    this.#outbox.push(write);
  }

  async #write(batch: TrackerWrite[]): Promise<void> {
    // Consecutive writes of one kind go in one call; kinds keep their order.
    let i = 0;
    while (i < batch.length) {
      const kind = batch[i].kind;
      let j = i;
      while (j < batch.length && batch[j].kind === kind) j++;
      const run = batch.slice(i, j);
      if (kind === "update") {
        await this.store.applyUpdates(run.map((w) => (w as { update: OrderUpdate }).update));
      } else if (kind === "trade") {
        await this.store.recordTrades(run.map((w) => (w as { input: TradeInput }).input));
      } else {
        for (const w of run as Extract<TrackerWrite, { kind: "external" }>[]) await this.#writeExternal(w);
      }
      i = j;
    }
  }

  async #writeExternal(w: Extract<TrackerWrite, { kind: "external" }>): Promise<void> {
    const { created, record } = await this.store.recordExternalOrder(w.view, {
      fills: w.ledger,
      trading_day: w.tradingDay || null,
    });
    if (created) {
      this.options.log.info("external order {order_id} recorded ({status})", {
        order_id: record.id,
        portfolio_id: record.portfolio_id,
        status: record.status,
      });
      return;
    }
    const result = nextUpdate(record, w.view, w.ledger);
    if (result !== null && !isAnomaly(result)) await this.store.applyUpdates([result]);
  }
}

/** The record as it is after `update` (what the store writes). */
export function applied(record: OrderRecord, update: OrderUpdate): OrderRecord {
  const next: OrderRecord = { ...record, status: update.status };
  for (const [key, value] of Object.entries(update.fields)) {
    if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
  }
  return next;
}
