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
 * Only the instance that holds the portfolio lease tracks: the tracker ignores every broker event until
 * {@linkcode OrderTracker.activate} (called when the lease is gained) has adopted the open rows from
 * PostgreSQL. A standby therefore never records anything, so it cannot judge the active instance's orders
 * (an order in flight is not in the standby's snapshot yet). On a takeover the new holder adopts the rows
 * the old one left open and decides them from its current broker view.
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
import { aggregateSplit, childOrderId, type SplitSuffix } from "./close_split.ts";
import { type OrderRecord, type OrderUpdate, TERMINAL_STATUSES } from "./types.ts";

/** How many recently finished orders are remembered. */
const RECENT_LIMIT = 10_000;

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

/** A split parent (never sent itself) and its children's latest records. */
interface SplitParent {
  record: OrderRecord;
  children: Map<string, OrderRecord>;
}

/** Options of {@linkcode OrderTracker}. */
export interface OrderTrackerOptions {
  portfolioId: string;
  log: Logger;
  /** Called with every update once queued (for the stream and metrics). */
  onUpdate?: (record: OrderRecord, update: OrderUpdate) => void;
  /** Called when the broker shows (or can no longer show) an order the gate sent. */
  onSettled?: (brokerOrderId: string) => void;
  /** Called on every failed attempt to write queued updates to PostgreSQL (for metrics). */
  onWriteError?: (error: Error) => void;
  /** Outbox retry timing (tests). */
  outbox?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** Follows orders at the broker and records their changes. */
export class OrderTracker {
  readonly #open = new Map<string, Entry>();
  /** Orders finished recently (insertion order = age), see {@linkcode currentRecord}. */
  readonly #recent = new Map<string, OrderRecord>();
  readonly #outbox: Outbox<TrackerWrite>;
  readonly #externalLedgers = new Map<string, FillLedger>();
  /** Open split parents by id, and the parent id of each of their children. */
  readonly #parents = new Map<string, SplitParent>();
  readonly #childParent = new Map<string, string>();
  #tradingDay = "";
  #wasReady = false;
  /** Set by {@linkcode activate}: until then (a standby) broker events are ignored. */
  #active = false;
  /** Orders to re-derive once the current frame's events are all in (see {@linkcode #schedule}). */
  readonly #dirty = new Set<Entry>();
  /** The current frame's fills, written with the updates they cause (see {@linkcode #schedule}). */
  readonly #frameTrades: TradeInput[] = [];
  #frameScheduled = false;
  /** Writes refused because the outbox had stopped (reported by {@linkcode stop}). */
  #refused = 0;
  /**
   * How far the outbox's current batch got: a batch becomes several store calls, and after a failure the
   * outbox sends the same batch again; the calls that succeeded are not made twice (see `#write`).
   */
  #progress: { head: TrackerWrite; size: number; done: number } | null = null;

  constructor(private readonly store: OrderStore, private readonly options: OrderTrackerOptions) {
    this.#outbox = new Outbox<TrackerWrite>((batch) => this.#write(batch), {
      ...options.outbox,
      onError: (error, failure) => {
        options.onWriteError?.(error);
        options.log.warn("recording broker updates failed (attempt {attempt}), retrying: {error}", {
          attempt: failure.attempt,
          error: error.message,
          queued: this.#outbox.size(),
        });
      },
    });
  }

  /**
   * Start tracking (this instance now holds the lease): adopt the open orders recorded in PostgreSQL that
   * are not tracked yet (left by an earlier run, or by the instance that held the lease before), then, when
   * `current()` gives the broker's view (already logged in), decide the adopted ones from it at once;
   * otherwise the next complete snapshot decides them. Writes queued earlier are flushed first, so the rows
   * read are current. Calling it again (the lease regained) adopts only what is new. Returns the number of
   * orders adopted.
   */
  async activate(current: () => AccountSnapshot | null = () => null): Promise<number> {
    await this.#outbox.flushed();
    const adopted = await this.#adoptOpen();
    this.#active = true;
    const snapshot = current();
    if (snapshot) this.#reconcile(snapshot, adopted);
    return adopted.size;
  }

  /** Whether {@linkcode activate} has run: broker events are handled only then. */
  get active(): boolean {
    return this.#active;
  }

  /** Open rows not tracked yet, with their fills; returns their broker order ids. */
  async #adoptOpen(): Promise<Set<string>> {
    const open = (await this.store.openOrders()).filter((r) =>
      r.broker_order_id ? !this.#open.has(r.broker_order_id) : !this.#parents.has(r.id)
    );
    const adopted = new Set<string>();
    for (const record of open) {
      if (!record.broker_order_id) continue;
      const fills = await this.store.fillsOf(record.broker_order_id);
      this.#open.set(record.broker_order_id, { record, ledger: FillLedger.from(fills), view: null });
      adopted.add(record.broker_order_id);
    }
    // Split parents (open, never sent: no broker order id): their children, then their aggregate, which
    // may have moved while the service was down.
    for (const record of open) {
      if (record.broker_order_id) continue;
      const children: OrderRecord[] = [];
      for (const suffix of ["closetoday", "close"] as SplitSuffix[]) {
        const child = await this.store.getOrder(childOrderId(record.id, suffix));
        if (child && child.record.parent_id === record.id) {
          const open = child.record.broker_order_id
            ? this.#open.get(child.record.broker_order_id)
            : undefined;
          children.push(open?.record ?? child.record);
        }
      }
      if (children.length > 0) this.trackSplit(record, children);
    }
    return adopted;
  }

  /** Track a split parent and its children (the children were just recorded as sent, or loaded). */
  trackSplit(parent: OrderRecord, children: readonly OrderRecord[]): void {
    const entry: SplitParent = { record: parent, children: new Map() };
    this.#parents.set(parent.id, entry);
    for (const child of children) {
      entry.children.set(child.id, child);
      this.#childParent.set(child.id, parent.id);
      this.track(child);
    }
    this.#recomputeParent(parent.id);
  }

  /** The open children of a split parent (empty when `parentId` is not an open split parent). */
  childrenOf(parentId: string): OrderRecord[] {
    const entry = this.#parents.get(parentId);
    if (!entry) return [];
    return [...entry.children.values()].map((c) =>
      (c.broker_order_id && this.#open.get(c.broker_order_id)?.record) || c
    );
  }

  /** The tracked record of an open split parent. */
  openParent(parentId: string): OrderRecord | undefined {
    return this.#parents.get(parentId)?.record;
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
        if (TERMINAL_STATUSES.has(update.status)) this.#close(brokerOrderId, entry.record);
      }
    }
    this.#push({ kind: "update", update });
    if (brokerOrderId) {
      const record = this.#open.get(brokerOrderId)?.record;
      const parentId = this.#childParent.get(update.id);
      const entry = parentId ? this.#parents.get(parentId) : undefined;
      const child = record ?? entry?.children.get(update.id);
      if (entry && child) this.#childChanged(record ?? applied(child, update));
    }
  }

  /** The tracked (open) record of a broker order id. */
  openRecord(brokerOrderId: string): OrderRecord | undefined {
    return this.#open.get(brokerOrderId)?.record;
  }

  /**
   * The latest state of a broker order id as this tracker knows it — open, or finished recently (its
   * terminal write may still be queued) — so a caller never acts on an older row read from PostgreSQL.
   */
  currentRecord(brokerOrderId: string): OrderRecord | undefined {
    return this.#open.get(brokerOrderId)?.record ?? this.#recent.get(brokerOrderId);
  }

  /** An order reached a terminal state: it leaves the open set and is remembered as recently finished. */
  #close(brokerOrderId: string, record: OrderRecord): void {
    this.#open.delete(brokerOrderId);
    this.#recent.delete(brokerOrderId);
    this.#recent.set(brokerOrderId, record);
    if (this.#recent.size > RECENT_LIMIT) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
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

  /** Resolves once every write queued before this call is in PostgreSQL (see `Outbox.written`). */
  written(): Promise<void> {
    return this.#outbox.written();
  }

  /** Resolves once every queued write is in PostgreSQL. */
  flushed(): Promise<void> {
    return this.#outbox.flushed();
  }

  /** Stop, trying to drain the outbox for up to `drainMs`; returns the writes left unwritten. */
  async stop(drainMs = 5000): Promise<number> {
    // the current frame's fills and updates are derived and queued before the outbox closes
    this.#flushFrame();
    const left = await this.#outbox.stop({ drainMs });
    return left.length + this.#refused;
  }

  /** Handle one broker event. */
  handle(event: BrokerEvent): void {
    if (!this.#active) {
      if (event.type === "state" && event.state.trading_day) this.#tradingDay = event.state.trading_day;
      return;
    }
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
      this.#schedule(entry);
      return;
    }
    if (parseBrokerOrderId(view.broker_order_id, this.options.portfolioId)) {
      // Ours but not open: a terminal order re-sent by a snapshot, or a split child not tracked yet. One
      // recorded as never having reached the broker must not show up there: say so loudly.
      const recent = this.#recent.get(view.broker_order_id);
      if (recent?.status === "REJECTED" && recent.reject_reason?.startsWith("NOT_AT_BROKER")) {
        this.options.log.error(
          "order {order_id} was recorded NOT_AT_BROKER but the broker shows it ({broker_status}): check it",
          {
            order_id: recent.id,
            portfolio_id: recent.portfolio_id,
            broker_order_id: view.broker_order_id,
            broker_status: view.status,
          },
        );
      }
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
    this.#frameTrades.push({ trade, order_id: orderId });
    if (entry) {
      this.#schedule(entry.ledger.add(trade) ? entry : undefined);
      return;
    }
    this.#schedule();
    if (!parsed) {
      const ledger = this.#externalLedgers.get(trade.broker_order_id) ?? new FillLedger();
      this.#externalLedgers.set(trade.broker_order_id, ledger);
      ledger.add(trade);
    }
  }

  /**
   * A complete snapshot after (re)login: decide every open order from it. With `only` (an activation on a
   * live view), just those orders: the others are followed by their own events.
   */
  #reconcile(snapshot: AccountSnapshot, only?: ReadonlySet<string>): void {
    this.#tradingDay = snapshot.trading_day;
    for (const trade of Object.values(snapshot.trades)) this.#trade(trade);
    for (const [id, entry] of [...this.#open]) {
      if (only && !only.has(id)) continue;
      const view = snapshot.orders[id];
      if (view) {
        entry.view = view;
        this.options.onSettled?.(id);
        this.#schedule(entry);
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

  /**
   * The broker emits one frame's changes as consecutive events (a fill's trade before the order it
   * finished); deriving after the last of them sees the order and its fills together, so a one-lot fill is
   * FILLED at once, never PARTIALLY_FILLED on the way. The frame's fills are handed to the outbox just
   * before the updates they cause, so both go in one write (one statement in the usual case) rather than
   * the fills first and the updates behind them.
   */
  #schedule(entry?: Entry): void {
    if (!this.#frameScheduled) {
      this.#frameScheduled = true;
      queueMicrotask(() => this.#flushFrame());
    }
    if (entry) this.#dirty.add(entry);
  }

  /** The end of a frame: queue its fills, then derive and queue the updates of the orders it touched. */
  #flushFrame(): void {
    this.#frameScheduled = false;
    for (const input of this.#frameTrades.splice(0)) this.#push({ kind: "trade", input });
    const entries = [...this.#dirty];
    this.#dirty.clear();
    for (const e of entries) this.#advance(e);
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
      this.#close(entry.record.broker_order_id, entry.record);
    }
    this.options.log.info("order {order_id} → {status}", {
      order_id: update.id,
      portfolio_id: update.portfolio_id,
      status: update.status,
      event: update.event.event,
    });
    this.#push({ kind: "update", update });
    this.options.onUpdate?.(entry.record, update);
    if (this.#childParent.has(entry.record.id)) this.#childChanged(entry.record);
  }

  /** A split child changed: record its parent's new aggregate (after the child's own update). */
  #childChanged(child: OrderRecord): void {
    const parentId = this.#childParent.get(child.id);
    const entry = parentId ? this.#parents.get(parentId) : undefined;
    if (!entry) return;
    entry.children.set(child.id, child);
    this.#recomputeParent(entry.record.id, child);
  }

  #recomputeParent(parentId: string, cause?: OrderRecord): void {
    const entry = this.#parents.get(parentId);
    if (!entry) return;
    const a = aggregateSplit([...entry.children.values()]);
    const r = entry.record;
    if (
      a.status !== r.status || a.filled_quantity !== r.filled_quantity || a.volume_left !== r.volume_left ||
      a.avg_fill_price !== r.avg_fill_price
    ) {
      const update: OrderUpdate = {
        portfolio_id: r.portfolio_id,
        id: r.id,
        status: a.status,
        fields: {
          filled_quantity: a.filled_quantity,
          volume_left: a.volume_left,
          ...(a.avg_fill_price !== null ? { avg_fill_price: a.avg_fill_price } : {}),
          ...(a.reject_reason !== null ? { reject_reason: a.reject_reason } : {}),
        },
        event: {
          event: "children",
          ...(cause ? { child_id: cause.id, child_status: cause.status } : {}),
          children: [...entry.children.values()].map((c) => ({
            id: c.id,
            status: c.status,
            filled_quantity: c.filled_quantity,
          })),
        },
      };
      entry.record = applied(r, update);
      this.options.log.info("split order {order_id} → {status} ({filled} filled)", {
        order_id: r.id,
        portfolio_id: r.portfolio_id,
        status: a.status,
        filled: a.filled_quantity,
      });
      this.#push({ kind: "update", update });
      this.options.onUpdate?.(entry.record, update);
    }
    if (TERMINAL_STATUSES.has(entry.record.status)) {
      this.#parents.delete(parentId);
      for (const id of entry.children.keys()) this.#childParent.delete(id);
    }
  }

  /**
   * Queue a write. After {@linkcode stop} the outbox refuses it: the write is counted in what `stop`
   * reports and logged, never thrown (it would surface from a microtask as an uncaught error).
   */
  #push(write: TrackerWrite): void {
    try {
      this.#outbox.push(write);
    } catch (e) {
      this.#refused++;
      this.options.log.error("broker update not recorded: {error} ({kind})", {
        error: (e as Error).message,
        kind: write.kind,
        order_id: write.kind === "update"
          ? write.update.id
          : write.kind === "trade"
          ? write.input.order_id
          : null,
        portfolio_id: this.options.portfolioId,
      });
    }
  }

  async #write(batch: TrackerWrite[]): Promise<void> {
    const steps = this.#steps(batch);
    // The same batch again (same head item, same size): its first `done` calls committed already. Making
    // them again could write an older update after a newer one (the store recognises only a replay of the
    // order's newest events).
    const p = this.#progress;
    const progress = p !== null && p.head === batch[0] && p.size === batch.length
      ? p
      : { head: batch[0], size: batch.length, done: 0 };
    this.#progress = progress;
    for (let k = progress.done; k < steps.length; k++) {
      await steps[k]();
      progress.done = k + 1;
    }
    this.#progress = null;
  }

  /**
   * A batch as store calls, in order. Trades depend on nothing else (deduplicated inserts, no link to order
   * rows), so all of a batch's trades go with its first run of updates, in one write (a fill and the update
   * it causes commit together); then the other updates and external orders in their order, consecutive
   * ones of one kind in one call.
   */
  #steps(batch: TrackerWrite[]): (() => Promise<unknown>)[] {
    const trades = batch.filter((w): w is Extract<TrackerWrite, { kind: "trade" }> => w.kind === "trade")
      .map((w) => w.input);
    const rest = batch.filter((w) => w.kind !== "trade");
    const steps: (() => Promise<unknown>)[] = [];
    let pendingTrades: TradeInput[] = trades;
    const flushTrades = () => {
      const t = pendingTrades;
      if (t.length > 0) steps.push(() => this.store.recordTrades(t));
      pendingTrades = [];
    };
    let i = 0;
    while (i < rest.length) {
      const kind = rest[i].kind;
      let j = i;
      while (j < rest.length && rest[j].kind === kind) j++;
      const run = rest.slice(i, j);
      if (kind === "update") {
        const updates = run.map((w) => (w as { update: OrderUpdate }).update);
        const t = pendingTrades;
        steps.push(() => this.store.applyUpdates(updates, { trades: t }));
        pendingTrades = [];
      } else {
        flushTrades();
        for (const w of run as Extract<TrackerWrite, { kind: "external" }>[]) {
          steps.push(() => this.#writeExternal(w));
        }
      }
      i = j;
    }
    flushTrades();
    return steps;
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
