/**
 * The live view: the service's current picture of the account (positions, account, broker orders, broker
 * state), fed by {@link BrokerEvent}s and read by the HTTP routes, the WebSocket hub and the Redis writer.
 *
 * Rules:
 * - A `snapshot` event REPLACES the whole view (it follows every (re)login). A symbol that was held before
 *   and is absent from the new snapshot is kept as an all-zero position (net 0) and reported as changed,
 *   so consumers overwrite it with 0 instead of leaving a stale number behind. Symbols seen this session
 *   are never forgotten; flat ones stay in the view with `net: 0`.
 * - Orders absent from a new snapshot are dropped (a new trading day starts with no orders); no change is
 *   emitted for them (the contract has no "order removed" message; clients see it in the next snapshot).
 * - Changes are emitted only when a value actually differs (field-by-field), after the view is updated, so
 *   a listener reading the view sees the new state.
 * - `status` changes are emitted when anything in {@link BrokerState} other than `last_data_at` changes
 *   (that field moves with every frame; read it from {@link LiveView.state} when needed).
 * - `trade`, `notice` and `quote` events do not affect the view.
 *
 * @module
 */
import type {
  AccountSnapshot,
  AccountView,
  Broker,
  BrokerEvent,
  BrokerOrderView,
  BrokerState,
  PositionView,
} from "../broker/types.ts";
import { getLogger } from "../log.ts";
import { initialBrokerState, zeroPosition as flatPosition } from "../broker/views.ts";

/** One change of the live view. */
export type LiveChange =
  | { type: "position"; position: PositionView }
  | { type: "account"; account: AccountView }
  | { type: "order"; order: BrokerOrderView }
  | { type: "status"; state: BrokerState }
  /** The view was replaced by a complete broker snapshot; emitted after the item changes it caused. */
  | { type: "snapshot"; seq: number; trading_day: string };

/** A listener of {@link LiveChange}s. */
export type LiveListener = (change: LiveChange) => void;

/** Options of {@link LiveView}. */
export interface LiveViewOptions {
  /** The broker state before any `state` event (default: stopped, never ready). */
  state?: BrokerState;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

/** The broker state assumed before any `state` event; an all-zero position (what a vanished symbol becomes). */
export { initialBrokerState, zeroPosition as flatPosition } from "../broker/views.ts";

const log = getLogger("stream.view");

/** The current positions, account, broker orders and broker state. */
export class LiveView {
  #positions = new Map<string, PositionView>();
  #orders = new Map<string, BrokerOrderView>();
  #account: AccountView | null = null;
  #state: BrokerState;
  #tradingDay = "";
  #snapshotSeq = 0;
  #snapshotAt = 0;
  #confirmedAt = 0;
  #listeners = new Set<LiveListener>();
  #now: () => number;

  /** An empty view (no snapshot yet). */
  constructor(options: LiveViewOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#state = options.state ? { ...options.state } : initialBrokerState(this.#now());
  }

  /** Listen to changes; returns the unsubscribe function. A listener that throws is logged and skipped. */
  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Apply one broker event. */
  apply(event: BrokerEvent): void {
    switch (event.type) {
      case "snapshot":
        this.#applySnapshot(event.snapshot);
        return;
      case "position": {
        const position = { ...event.position };
        const before = this.#positions.get(position.symbol);
        this.#positions.set(position.symbol, position);
        this.#confirm();
        if (!before || !sameFields(before, position)) this.#emit({ type: "position", position });
        return;
      }
      case "account": {
        const account = { ...event.account };
        const before = this.#account;
        this.#account = account;
        this.#confirm();
        if (!before || !sameFields(before, account)) this.#emit({ type: "account", account });
        return;
      }
      case "order": {
        const order = { ...event.order };
        const before = this.#orders.get(order.broker_order_id);
        this.#orders.set(order.broker_order_id, order);
        this.#confirm();
        if (!before || !sameFields(before, order)) this.#emit({ type: "order", order });
        return;
      }
      case "state": {
        const before = this.#state;
        const state = {
          ...event.state,
          last_error: event.state.last_error ? { ...event.state.last_error } : null,
        };
        if (before.ready && !state.ready) this.#confirmedAt = this.#now(); // the last moment it was vouched for
        this.#state = state;
        if (state.ready) this.#confirm();
        if (state.trading_day) this.#tradingDay = state.trading_day;
        if (statusChanged(before, state)) this.#emit({ type: "status", state: this.state() });
        return;
      }
      default:
        return; // trade, notice, quote: not part of the view
    }
  }

  /** Positions of every symbol seen this session (flat ones with net 0), sorted by symbol. */
  positions(): PositionView[] {
    return [...this.#positions.values()].sort((a, b) => compare(a.symbol, b.symbol)).map((p) => ({ ...p }));
  }

  /** The position of one symbol, if seen this session. */
  position(symbol: string): PositionView | undefined {
    const p = this.#positions.get(symbol);
    return p ? { ...p } : undefined;
  }

  /** Symbols seen this session, sorted. */
  symbols(): string[] {
    return [...this.#positions.keys()].sort(compare);
  }

  /** The account, or null before the first snapshot/account event. */
  account(): AccountView | null {
    return this.#account ? { ...this.#account } : null;
  }

  /** Broker orders of the current snapshot and after, oldest insert first (ties by id). */
  orders(): BrokerOrderView[] {
    return [...this.#orders.values()]
      .sort((a, b) => a.insert_time_ms - b.insert_time_ms || compare(a.broker_order_id, b.broker_order_id))
      .map((o) => ({ ...o }));
  }

  /** The latest broker state. */
  state(): BrokerState {
    const s = this.#state;
    return { ...s, last_error: s.last_error ? { ...s.last_error } : null };
  }

  /** True once a complete snapshot was applied. */
  get hasSnapshot(): boolean {
    return this.#snapshotSeq > 0;
  }

  /** Number of snapshots applied (0 = none yet). */
  get snapshotSeq(): number {
    return this.#snapshotSeq;
  }

  /** Epoch ms of the last snapshot (0 = none). */
  get snapshotAt(): number {
    return this.#snapshotAt;
  }

  /** Trading day of the last snapshot or state (`YYYYMMDD`, "" before). */
  get tradingDay(): string {
    return this.#tradingDay;
  }

  /**
   * The moment up to which the view is known to match the broker: `now` while the broker is ready, else the
   * last moment it was (when it stopped being ready, or the last snapshot/event); 0 before any snapshot.
   */
  confirmedAt(now: number = this.#now()): number {
    if (!this.hasSnapshot) return 0;
    return this.#state.ready ? now : this.#confirmedAt;
  }

  #confirm(): void {
    this.#confirmedAt = this.#now();
  }

  #applySnapshot(snapshot: AccountSnapshot): void {
    const changes: LiveChange[] = [];
    const nextPositions = new Map<string, PositionView>();
    for (const [key, p] of Object.entries(snapshot.positions)) {
      const symbol = p.symbol || key;
      nextPositions.set(symbol, { ...p, symbol });
    }
    for (const symbol of this.#positions.keys()) {
      if (!nextPositions.has(symbol)) nextPositions.set(symbol, flatPosition(symbol)); // vanished: zero it
    }
    for (const [symbol, p] of nextPositions) {
      const before = this.#positions.get(symbol);
      if (!before || !sameFields(before, p)) changes.push({ type: "position", position: p });
    }
    const nextOrders = new Map<string, BrokerOrderView>();
    for (const [key, o] of Object.entries(snapshot.orders)) {
      const id = o.broker_order_id || key;
      nextOrders.set(id, { ...o, broker_order_id: id });
    }
    for (const [id, o] of nextOrders) {
      const before = this.#orders.get(id);
      if (!before || !sameFields(before, o)) changes.push({ type: "order", order: o });
    }
    const account = { ...snapshot.account };
    if (!this.#account || !sameFields(this.#account, account)) changes.push({ type: "account", account });

    this.#positions = nextPositions;
    this.#orders = nextOrders;
    this.#account = account;
    if (snapshot.trading_day) this.#tradingDay = snapshot.trading_day;
    this.#snapshotSeq += 1;
    this.#snapshotAt = this.#now();
    this.#confirm();

    changes.sort((a, b) => changeOrder(a) - changeOrder(b));
    for (const c of changes) this.#emit(c);
    this.#emit({ type: "snapshot", seq: this.#snapshotSeq, trading_day: this.#tradingDay });
  }

  #emit(change: LiveChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (err) {
        log.error("live view listener failed on {type}: {error}", { type: change.type, error: String(err) });
      }
    }
  }
}

/**
 * Feed `view` from `broker`: seed it with the broker's current state and snapshot (if any), then apply
 * every event. Returns the unsubscribe function.
 */
export function connectLiveView(broker: Broker, view: LiveView): () => void {
  const unsubscribe = broker.subscribe((event) => view.apply(event));
  view.apply({ type: "state", state: broker.state() });
  const snapshot = broker.snapshot();
  if (snapshot && !view.hasSnapshot) view.apply({ type: "snapshot", snapshot });
  return unsubscribe;
}

function changeOrder(c: LiveChange): number {
  return c.type === "position" ? 0 : c.type === "order" ? 1 : c.type === "account" ? 2 : 3;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Same keys with the same primitive values (the views are flat records). */
function sameFields(a: object, b: object): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const k of keys) {
    const va = ra[k];
    const vb = rb[k];
    if (va === vb || (Number.isNaN(va) && Number.isNaN(vb))) continue;
    if (va && vb && typeof va === "object" && typeof vb === "object") {
      if (!sameFields(va, vb)) return false;
      continue;
    }
    return false;
  }
  return true;
}

function statusChanged(a: BrokerState, b: BrokerState): boolean {
  const { last_data_at: _a, ...ra } = a;
  const { last_data_at: _b, ...rb } = b;
  return !sameFields(ra, rb);
}
