/**
 * Persistence of the order path in PostgreSQL: `order_history` (one row per order, current state),
 * `order_event` (append-only, `seq` 1, 2, … per order) and `trade` (fills keyed by the broker's trade id).
 *
 * - Every write method runs in ONE transaction for its whole batch (group commit: the executor batches
 *   concurrent requests); a failure rolls the whole batch back and the error names the order.
 * - Event `seq`: the order's `order_history` row is locked (`SELECT … FOR UPDATE`, in id order so two batches
 *   cannot deadlock) and the next seq is read in a later statement, `coalesce(max(seq), 0) + 1`, so under
 *   read committed it sees every committed event of the order; the unique key (portfolio_id, id, seq) is the
 *   backstop. One writer per portfolio is guaranteed elsewhere (lease); this stays correct without it.
 * - Values: `numeric` columns come back as numbers (`Number(text)`), timestamps as ISO-8601 UTC strings with
 *   microseconds (`2025-12-24T02:00:00.123456Z`, formatted by the server, so cursors are exact).
 *
 * @module
 */

import type postgres from "postgres";
import type { BrokerOrderView, BrokerTradeView } from "../../broker/types.ts";
import {
  brokerRejectReason,
  deriveStatus,
  type FillSummary,
  type FillTrade,
} from "../../orders/order_state.ts";
import type {
  Direction,
  InsertRequest,
  Offset,
  OrderEventRecord,
  OrderRecord,
  OrderSource,
  OrderStatus,
  OrderUpdate,
} from "../../orders/types.ts";
import type { Database } from "./connect.ts";

/** The fields of a refused request that could be read (any may be missing: it may be what was wrong). */
export interface RejectedRequest {
  order_id: string;
  portfolio_id?: string | null;
  symbol?: string | null;
  direction?: Direction | null;
  offset?: Offset | null;
  volume?: number | null;
  limit_price?: number | null;
  price_type?: string | null;
  time_condition?: string | null;
  volume_condition?: string | null;
}

/** One event to append: the status it records and its JSON `msg`. */
export interface NewEvent {
  status: OrderStatus;
  msg: Record<string, unknown> | null;
}

/** An order to record (the intent, before or instead of a send). */
export interface NewOrder {
  request: InsertRequest | RejectedRequest;
  status: "RECEIVED" | "SUBMITTED" | "REJECTED";
  source: OrderSource;
  broker_order_id?: string | null;
  reject_reason?: string | null;
  /** Hash of the request's content: the same id with the same hash is a duplicate, else a conflict. */
  request_hash?: string | null;
  trading_day?: string | null;
  /** The parent order of a CLOSE/CLOSETODAY split child. */
  parent_id?: string | null;
  /** Events, appended with seq 1, 2, … (e.g. RECEIVED then SUBMITTED). */
  events: NewEvent[];
}

/**
 * What happened to one intent: `created` (row and events written), `duplicate` (same id and same non-null
 * `request_hash` already recorded: nothing written), `conflict` (same id, different or missing hash: the
 * existing order is untouched except for a `conflicting_request` event recording the refusal). `record` is
 * the order's row after the call.
 */
export type IntentResult =
  | { outcome: "created"; record: OrderRecord }
  | { outcome: "duplicate"; record: OrderRecord }
  | { outcome: "conflict"; record: OrderRecord };

/** The result of one applied {@link OrderUpdate}. */
export interface AppliedUpdate {
  /** The order's row after this update. */
  record: OrderRecord;
  /** The appended event; null when the update was skipped as a replay (see {@link OrderStore.applyUpdates}). */
  event: OrderEventRecord | null;
}

/** A fill to record, with the client order it belongs to (null when unknown yet). */
export interface TradeInput {
  trade: BrokerTradeView;
  order_id: string | null;
}

/** One `trade` row. */
export interface TradeRecord {
  portfolio_id: string;
  trade_id: string;
  order_id: string | null;
  broker_order_id: string;
  symbol: string;
  direction: Direction;
  offset: Offset;
  price: number;
  volume: number;
  commission: number | null;
  trade_date_time: string;
  created_at: string;
}

/** Filters of {@link OrderStore.listOrders}. */
export interface ListOrdersOptions {
  status?: OrderStatus;
  symbol?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Only orders created before this instant (ISO-8601; use a record's `created_at` to page). */
  before?: string;
  /** With `before`: orders created at exactly `before` whose id sorts below this one (exact paging). */
  beforeId?: string;
}

/** Options of {@link OrderStore.recordExternalOrder}. */
export interface ExternalOrderOptions {
  /** The order's fills so far (status and filled quantity); default none. */
  fills?: FillSummary;
  trading_day?: string | null;
}

/** An error of a store write, naming the order when one order caused it. Nothing of the batch was written. */
export class OrderStoreError extends Error {
  /** The order that caused the failure, when known. */
  readonly orderId: string | null;
  /** PostgreSQL error fields (`code`, `constraint_name`, `detail`), when the server refused. */
  readonly pg: { code?: string; constraint?: string; detail?: string } | null;

  /** Builds the error; `cause` is the original error. */
  constructor(message: string, options: { orderId?: string | null; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "OrderStoreError";
    this.orderId = options.orderId ?? null;
    const c = options.cause as { code?: string; constraint_name?: string; detail?: string } | undefined;
    this.pg = c && typeof c === "object" && typeof c.code === "string"
      ? { code: c.code, constraint: c.constraint_name, detail: c.detail }
      : null;
  }
}

/** Statuses of orders that may still change. */
export const OPEN_STATUSES: readonly OrderStatus[] = [
  "RECEIVED",
  "SUBMITTED",
  "ACCEPTED",
  "PARTIALLY_FILLED",
  "UNKNOWN",
];

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** `order_history` columns in record order, timestamps as ISO strings. */
const ORDER_COLUMNS = `portfolio_id, id, status, symbol, direction, "offset", volume, limit_price, price_type,
  time_condition, volume_condition, filled_quantity, volume_left, avg_fill_price, exchange_order_id,
  broker_order_id, last_msg, reject_reason, source, request_hash, parent_id, trading_day,
  to_char(created_at at time zone 'UTC', ${ISO}) as created_at,
  to_char(updated_at at time zone 'UTC', ${ISO}) as updated_at`;

/** {@link ORDER_COLUMNS} qualified with the alias `o` (for `update order_history o … from …`). */
const QUALIFIED_ORDER_COLUMNS = `o.portfolio_id, o.id, o.status, o.symbol, o.direction, o."offset", o.volume,
  o.limit_price, o.price_type, o.time_condition, o.volume_condition, o.filled_quantity, o.volume_left,
  o.avg_fill_price, o.exchange_order_id, o.broker_order_id, o.last_msg, o.reject_reason, o.source,
  o.request_hash, o.parent_id, o.trading_day,
  to_char(o.created_at at time zone 'UTC', ${ISO}) as created_at,
  to_char(o.updated_at at time zone 'UTC', ${ISO}) as updated_at`;

const EVENT_COLUMNS = `portfolio_id, id, seq, status, msg,
  to_char(created_at at time zone 'UTC', ${ISO}) as created_at`;

const TRADE_COLUMNS = `portfolio_id, trade_id, order_id, broker_order_id, symbol, direction, "offset", price,
  volume, commission, to_char(trade_date_time at time zone 'UTC', ${ISO}) as trade_date_time,
  to_char(created_at at time zone 'UTC', ${ISO}) as created_at`;

/** Columns written by an {@link OrderUpdate}'s `fields`. */
const UPDATE_FIELDS = [
  "filled_quantity",
  "volume_left",
  "avg_fill_price",
  "exchange_order_id",
  "broker_order_id",
  "last_msg",
  "reject_reason",
  "trading_day",
] as const;

type Row = Record<string, unknown>;

/** The `order_history` columns an intent row sets (`#intentRow`), in statement order. */
export const INTENT_COLUMNS = [
  "portfolio_id",
  "id",
  "status",
  "symbol",
  "direction",
  "offset",
  "volume",
  "limit_price",
  "price_type",
  "time_condition",
  "volume_condition",
  "volume_left",
  "broker_order_id",
  "reject_reason",
  "source",
  "request_hash",
  "parent_id",
  "trading_day",
] as const;

/** One intent's `order_history` row: exactly the {@link INTENT_COLUMNS}. */
type IntentRow = Record<typeof INTENT_COLUMNS[number], unknown> & { id: string };

/**
 * `count` rows of `$n` placeholders for `columns`, numbered from `$first` (`($1, $2), ($3, $4)` for two rows
 * of two columns from 1): the `VALUES` list of a statement whose text depends only on its row count.
 */
function placeholderRows(columns: readonly string[], count: number, first: number): string {
  const width = columns.length;
  return Array.from(
    { length: count },
    (_, r) => `(${columns.map((_, c) => `$${first + r * width + c}`).join(", ")})`,
  ).join(", ");
}

/** The parameters of `rows` in `columns` order, row after row (as {@link placeholderRows} numbers them). */
function rowParams<C extends string>(rows: readonly Record<C, unknown>[], columns: readonly C[]): unknown[] {
  const params: unknown[] = [];
  for (const row of rows) for (const c of columns) params.push(row[c]);
  return params;
}

/** The statement for size `n`: `build()`'s text, kept in `built` (the usual batch sizes are built once). */
function builtOnce(built: Map<number, string>, n: number, build: () => string): string {
  let text = built.get(n);
  if (text === undefined) {
    text = build();
    if (built.size < 256) built.set(n, text);
  }
  return text;
}

const intentStatements = new Map<number, string>();
const knownUpdateStatements = new Map<number, string>();

/**
 * The one statement that records `n` new intents and their events (`recordIntents`' fast path): `n` rows of
 * {@link INTENT_COLUMNS} as `$1…`, then the portfolio id and the events as four arrays (id, seq, status,
 * msg). Inserts nothing for an id that exists; returns the new rows' `id` and `created_at`.
 */
export function intentStatement(n: number): string {
  return builtOnce(intentStatements, n, () => {
    const p = n * INTENT_COLUMNS.length;
    return `with ins as (
      insert into order_history (${INTENT_COLUMNS.map((c) => `"${c}"`).join(", ")})
      values ${placeholderRows(INTENT_COLUMNS, n, 1)}
      on conflict (portfolio_id, id) do nothing
      returning id, to_char(created_at at time zone 'UTC', ${ISO}) as created_at
    ), ev as (
      insert into order_event (portfolio_id, id, seq, status, msg)
      select $${p + 1}, e.id, e.seq, e.status, e.msg
      from unnest($${p + 2}::text[], $${p + 3}::int[], $${p + 4}::text[], $${p + 5}::text[])
        as e(id, seq, status, msg)
      where e.id in (select id from ins)
    )
    select * from ins`;
  });
}

type Tx = postgres.TransactionSql<{ int8: number }>;

/** How many orders' newest events the store remembers (a day's orders, many times over). */
const LAST_EVENT_CACHE = 100_000;

/** An order's newest event as committed: seq, status and msg (the JSON text). */
interface KnownEvent {
  seq: number;
  status: string;
  msg: string | null;
}

/** The SQLSTATE of an error PostgreSQL sent (five characters), or null (a client-side or connection error). */
function sqlState(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/** The last of a new order's events, as {@linkcode KnownEvent}. */
function lastOfIntent(intent: NewOrder): KnownEvent {
  const e = intent.events[intent.events.length - 1];
  return { seq: intent.events.length, status: e.status, msg: msgText(e.msg) };
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return n === 0 ? 0 : n; // -0 reads back from PostgreSQL as 0
}

/** An `order_history` row (selected with {@link ORDER_COLUMNS}) as an {@link OrderRecord}. */
function toOrder(r: Row): OrderRecord {
  return {
    portfolio_id: r.portfolio_id as string,
    id: r.id as string,
    status: r.status as OrderStatus,
    symbol: r.symbol as string | null,
    direction: r.direction as Direction | null,
    offset: r.offset as Offset | null,
    volume: numOrNull(r.volume),
    limit_price: numOrNull(r.limit_price),
    price_type: r.price_type as string | null,
    time_condition: r.time_condition as string | null,
    volume_condition: r.volume_condition as string | null,
    filled_quantity: Number(r.filled_quantity),
    volume_left: numOrNull(r.volume_left),
    avg_fill_price: numOrNull(r.avg_fill_price),
    exchange_order_id: r.exchange_order_id as string | null,
    broker_order_id: r.broker_order_id as string | null,
    last_msg: r.last_msg as string | null,
    reject_reason: r.reject_reason as string | null,
    source: r.source as OrderSource,
    request_hash: r.request_hash as string | null,
    parent_id: r.parent_id as string | null,
    trading_day: r.trading_day as string | null,
    created_at: r.created_at as string,
    updated_at: r.updated_at as string,
  };
}

/**
 * The record of an `order_history` row just inserted from `row` (an intent row: every column it lacks has
 * its default), as {@link toOrder} would read it back; `created_at` as written (`updated_at` is the same).
 */
function newOrderRecord(row: Row, createdAt: string): OrderRecord {
  return toOrder({
    filled_quantity: 0,
    avg_fill_price: null,
    exchange_order_id: null,
    last_msg: null,
    ...row,
    created_at: createdAt,
    updated_at: createdAt,
  });
}

function toEvent(r: Row): OrderEventRecord {
  return {
    portfolio_id: r.portfolio_id as string,
    id: r.id as string,
    seq: Number(r.seq),
    status: r.status as OrderStatus,
    msg: r.msg === null ? null : JSON.parse(r.msg as string),
    created_at: r.created_at as string,
  };
}

function toTrade(r: Row): TradeRecord {
  return {
    portfolio_id: r.portfolio_id as string,
    trade_id: r.trade_id as string,
    order_id: r.order_id as string | null,
    broker_order_id: r.broker_order_id as string,
    symbol: r.symbol as string,
    direction: r.direction as Direction,
    offset: r.offset as Offset,
    price: Number(r.price),
    volume: Number(r.volume),
    commission: numOrNull(r.commission),
    trade_date_time: r.trade_date_time as string,
    created_at: r.created_at as string,
  };
}

function describePgError(err: unknown): string {
  const e = err as { message?: string; detail?: string; constraint_name?: string };
  let text = e?.message ?? String(err);
  if (e?.constraint_name && !text.includes(e.constraint_name)) text += ` (constraint ${e.constraint_name})`;
  if (e?.detail) text += ` — ${e.detail}`;
  return text;
}

function msgText(msg: Record<string, unknown> | null): string | null {
  return msg === null ? null : JSON.stringify(msg);
}

/**
 * `update order_history o set … returning …` for `updates` (at most one per order): the status, the given
 * `fields` and `updated_at`, sent as one JSON document. A fragment, so a statement may lead with CTEs.
 */
function updateOrders(on: Database | Tx, portfolioId: string, updates: readonly OrderUpdate[]) {
  const q = on as Database; // the same tagged template and helpers on a transaction
  return q`
    update order_history o set ${q.unsafe(UPDATE_SET)}
    from jsonb_to_recordset(${q.json(updateInput(updates))}::jsonb) as u(id text, status text, f jsonb)
    where o.portfolio_id = ${portfolioId} and o.id = u.id
    returning ${q.unsafe(QUALIFIED_ORDER_COLUMNS)}`;
}

/** The JSON document of {@link updateOrders}: per update its id, status and the fields it sets (`f`). */
function updateInput(updates: readonly OrderUpdate[]): postgres.JSONValue {
  return updates.map((u) => {
    const f: Row = {};
    for (const k of UPDATE_FIELDS) if (u.fields[k] !== undefined) f[k] = u.fields[k];
    return { id: u.id, status: u.status, f };
  }) as unknown as postgres.JSONValue;
}

/** The `SET` list of {@link updateOrders}: the status, each field `u.f` holds, `updated_at`. */
const UPDATE_SET = `
      status = u.status,
      filled_quantity = case when u.f ? 'filled_quantity' then (u.f->>'filled_quantity')::int
        else o.filled_quantity end,
      volume_left = case when u.f ? 'volume_left' then (u.f->>'volume_left')::int else o.volume_left end,
      avg_fill_price = case when u.f ? 'avg_fill_price' then (u.f->>'avg_fill_price')::numeric
        else o.avg_fill_price end,
      exchange_order_id = case when u.f ? 'exchange_order_id' then u.f->>'exchange_order_id'
        else o.exchange_order_id end,
      broker_order_id = case when u.f ? 'broker_order_id' then u.f->>'broker_order_id'
        else o.broker_order_id end,
      last_msg = case when u.f ? 'last_msg' then u.f->>'last_msg' else o.last_msg end,
      reject_reason = case when u.f ? 'reject_reason' then u.f->>'reject_reason' else o.reject_reason end,
      trading_day = case when u.f ? 'trading_day' then u.f->>'trading_day' else o.trading_day end,
      updated_at = now()`;

/** The `trade` columns a fill row sets (`#tradeRows`), in statement order. */
export const TRADE_COLUMNS_IN = [
  "portfolio_id",
  "trade_id",
  "order_id",
  "broker_order_id",
  "symbol",
  "direction",
  "offset",
  "price",
  "volume",
  "commission",
  "trade_date_time",
] as const;

/** One fill's `trade` row: exactly the {@link TRADE_COLUMNS_IN}. */
type TradeRow = Record<typeof TRADE_COLUMNS_IN[number], string | number | Date | null>;

/**
 * The one statement of `#applyKnown` with `m` fills: `$1` the portfolio id, `$2…$5` the events as four
 * arrays (id, seq, status, msg), `$6` the updates' JSON document ({@link updateInput}), then `m` rows of
 * {@link TRADE_COLUMNS_IN}.
 */
export function knownUpdateStatement(m: number): string {
  return builtOnce(knownUpdateStatements, m, () => {
    const fills = m === 0 ? "" : `, fills as (
      insert into trade (${TRADE_COLUMNS_IN.map((c) => `"${c}"`).join(", ")})
      values ${placeholderRows(TRADE_COLUMNS_IN, m, 7)}
      on conflict (portfolio_id, trade_id) do nothing
    )`;
    return `with events as (
      insert into order_event (portfolio_id, id, seq, status, msg)
      select $1, e.id, e.seq, e.status, e.msg
      from unnest($2::text[], $3::int[], $4::text[], $5::text[]) as e(id, seq, status, msg)
    )${fills}
    update order_history o set ${UPDATE_SET}
    from jsonb_to_recordset($6::jsonb) as u(id text, status text, f jsonb)
    where o.portfolio_id = $1 and o.id = u.id
    returning ${QUALIFIED_ORDER_COLUMNS}`;
  });
}

/** Orders of one portfolio, their events and trades, in PostgreSQL. */
export class OrderStore {
  readonly #sql: Database;
  readonly #portfolioId: string;
  /**
   * The newest event of each order as this store last committed it: its seq (never ahead of the table:
   * events are append-only and numbered without gaps), status and msg. It lets {@linkcode applyUpdates}
   * number a batch's events without reading them first; see `#applyKnown`.
   */
  readonly #lastEvent = new Map<string, KnownEvent>();
  /** Rows written by this store, and the count at which statistics are refreshed next. */
  #written = 0;
  #nextAnalyze = 256;
  #analyzing = false;

  /** A store over an open client (search_path already set to the service's schema). */
  constructor(sql: Database, options: { portfolioId: string }) {
    if (!options.portfolioId) throw new TypeError("OrderStore: portfolioId is required");
    this.#sql = sql;
    this.#portfolioId = options.portfolioId;
  }

  /**
   * Refresh the planner's statistics of the order tables as they grow (at 256, 512, 1024 … rows written,
   * then every 50,000), in the background. A day's tables start empty: with the statistics of an empty table
   * the cached plans of the foreign-key checks and lookups scan instead of using the indexes, and every
   * write grows slower with the day (measured: an intent batch went from 2 ms to 12 ms over 5,000 orders,
   * back to 1.4 ms after ANALYZE). Autovacuum catches up only a minute or more later.
   */
  #noteWritten(rows: number): void {
    this.#written += rows;
    if (this.#written < this.#nextAnalyze || this.#analyzing) return;
    this.#nextAnalyze = Math.min(this.#written * 2, this.#written + 50_000);
    this.#analyzing = true;
    this.#sql`analyze order_history, order_event, trade`
      .catch(() => {/* best effort: lacking the privilege only costs speed */})
      .finally(() => this.#analyzing = false);
  }

  /**
   * Forget every cached event after a failure the database did not answer with a refusal (a lost
   * connection, a server going down): if the server that comes back lost commits it had acknowledged (a
   * failover to an asynchronous replica), the cache would be ahead of the table.
   */
  #forgetOnLostConnection(err: unknown): void {
    if (!/^(22|23|40|42)/.test(sqlState(err) ?? "")) this.#lastEvent.clear();
  }

  /** Remember order `id`'s newest committed event (the cache keeps the most recently written orders). */
  #noteEvent(id: string, event: KnownEvent): void {
    const known = this.#lastEvent.get(id);
    if (known !== undefined && known.seq >= event.seq) return;
    this.#lastEvent.delete(id);
    this.#lastEvent.set(id, event);
    if (this.#lastEvent.size > LAST_EVENT_CACHE) this.#lastEvent.delete(this.#lastEvent.keys().next().value!);
  }

  /** `trade` rows of `trades`, one per trade id. */
  #tradeRows(trades: readonly TradeInput[]): TradeRow[] {
    const seen = new Set<string>();
    const rows: TradeRow[] = [];
    for (const { trade, order_id } of trades) {
      if (seen.has(trade.trade_id)) continue;
      seen.add(trade.trade_id);
      rows.push({
        portfolio_id: this.#portfolioId,
        trade_id: trade.trade_id,
        order_id,
        broker_order_id: trade.broker_order_id,
        symbol: trade.symbol,
        direction: trade.direction,
        offset: trade.offset,
        price: trade.price,
        volume: trade.volume,
        commission: Number.isFinite(trade.commission) ? trade.commission : null,
        trade_date_time: new Date(trade.trade_time_ms),
      });
    }
    return rows;
  }

  /** The portfolio this store reads and writes. */
  get portfolioId(): string {
    return this.#portfolioId;
  }

  /**
   * Records new orders in one transaction: `INSERT … ON CONFLICT DO NOTHING RETURNING`, then, for the ids
   * that already existed, reads (and locks) their rows and classifies each intent as duplicate or conflict
   * (see {@link IntentResult}). Results are in input order. An id appearing twice in one batch is created
   * by its first occurrence; the later one is then a duplicate or a conflict of it.
   */
  async recordIntents(intents: readonly NewOrder[]): Promise<IntentResult[]> {
    if (intents.length === 0) return [];
    const rows = intents.map((intent) => this.#intentRow(intent));
    const firstIndex = new Map<string, number>();
    rows.forEach((r, i) => {
      if (!firstIndex.has(r.id)) firstIndex.set(r.id, i);
    });
    const toInsert = [...firstIndex.values()].map((i) => rows[i]);

    // Fast path (the usual batch: new ids only): orders and their events in ONE statement — one round trip,
    // atomic as any statement. Ids that turn out to exist already go through the full path below.
    if (toInsert.length === rows.length) {
      const created = await this.#insertNew(intents, toInsert);
      this.#noteWritten(created.size);
      intents.forEach((intent, i) => {
        if (created.has(rows[i].id)) this.#noteEvent(rows[i].id, lastOfIntent(intent));
      });
      if (created.size === rows.length) {
        return rows.map((r) => ({ outcome: "created" as const, record: created.get(r.id)! }));
      }
      const rest = intents.filter((_, i) => !created.has(rows[i].id));
      const restResults = await this.#recordIntentsTx(rest);
      let k = 0;
      return rows.map((r) =>
        created.has(r.id) ? { outcome: "created" as const, record: created.get(r.id)! } : restResults[k++]
      );
    }
    return await this.#recordIntentsTx(intents);
  }

  /** The full path of {@linkcode recordIntents}: one transaction that also classifies existing ids. */
  async #recordIntentsTx(intents: readonly NewOrder[]): Promise<IntentResult[]> {
    const rows = intents.map((intent) => this.#intentRow(intent));
    const firstIndex = new Map<string, number>();
    rows.forEach((r, i) => {
      if (!firstIndex.has(r.id)) firstIndex.set(r.id, i);
    });
    const toInsert = [...firstIndex.values()].map((i) => rows[i]);

    const results = await this.#transaction("recordIntents", async (tx) => {
      let inserted: Row[];
      try {
        inserted = await tx`
          insert into order_history ${tx(toInsert as Row[])}
          on conflict (portfolio_id, id) do nothing
          returning ${tx.unsafe(ORDER_COLUMNS)}`;
      } catch (err) {
        const failing = toInsert.find((r) =>
          describePgError(err).includes(`(${this.#portfolioId}, ${r.id},`)
        );
        throw new OrderStoreError(
          `recordIntents: inserting ${
            failing ? `order ${failing.id}` : `orders ${toInsert.map((r) => r.id).join(", ")}`
          }` +
            ` failed: ${describePgError(err)}`,
          { orderId: failing?.id ?? (toInsert.length === 1 ? toInsert[0].id : null), cause: err },
        );
      }
      const created = new Map(inserted.map((r) => [r.id as string, toOrder(r)]));

      // Rows that existed before (or were created earlier in this batch): read and lock them.
      const otherIds = [
        ...new Set(rows.map((r) => r.id).filter((id, i) => !(created.has(id) && firstIndex.get(id) === i))),
      ];
      const existing = new Map<string, OrderRecord>();
      if (otherIds.length > 0) {
        const found = await tx`
          select ${tx.unsafe(ORDER_COLUMNS)} from order_history
          where portfolio_id = ${this.#portfolioId} and id in ${tx(otherIds)}
          order by id for update`;
        for (const r of found) existing.set(r.id as string, toOrder(r));
      }

      const results: IntentResult[] = [];
      const events: Row[] = [];
      const conflictEvents: { id: string; status: OrderStatus; msg: string }[] = [];
      intents.forEach((intent, i) => {
        const id = rows[i].id;
        if (created.has(id) && firstIndex.get(id) === i) {
          const record = created.get(id)!;
          intent.events.forEach((e, k) => {
            events.push({
              portfolio_id: this.#portfolioId,
              id,
              seq: k + 1,
              status: e.status,
              msg: msgText(e.msg),
            });
          });
          results.push({ outcome: "created", record });
          return;
        }
        const record = existing.get(id);
        if (!record) {
          throw new OrderStoreError(`recordIntents: order ${id} was neither inserted nor found`, {
            orderId: id,
          });
        }
        const hash = intent.request_hash ?? null;
        if (record.request_hash !== null && record.request_hash === hash) {
          results.push({ outcome: "duplicate", record });
          return;
        }
        this.#lastEvent.delete(id); // an event is appended below: its seq is read there
        conflictEvents.push({
          id,
          status: record.status,
          msg: JSON.stringify({ event: "conflicting_request", request_hash: hash, source: intent.source }),
        });
        results.push({ outcome: "conflict", record });
      });

      if (events.length > 0) {
        try {
          await tx`insert into order_event ${tx(events)}`;
        } catch (err) {
          throw new OrderStoreError(`recordIntents: inserting events failed: ${describePgError(err)}`, {
            cause: err,
          });
        }
      }
      if (conflictEvents.length > 0) {
        const next = await this.#nextSeqs(tx, conflictEvents.map((e) => e.id));
        const conflictRows = conflictEvents.map((e) => {
          const seq = next.get(e.id)!;
          next.set(e.id, seq + 1);
          return { portfolio_id: this.#portfolioId, id: e.id, seq, status: e.status, msg: e.msg };
        });
        await tx`insert into order_event ${tx(conflictRows)}`;
      }
      return results;
    });
    // committed: the created orders' events are numbered 1 … n
    results.forEach((r, i) => {
      if (r.outcome === "created" && firstIndex.get(rows[i].id) === i) {
        this.#noteEvent(rows[i].id, lastOfIntent(intents[i]));
      }
    });
    return results;
  }

  /**
   * Applies state changes in one transaction: per update, sets `status`, the given `fields` and
   * `updated_at` on the order's row and appends an `order_event` with the order's next seq. Several updates
   * of one order in a batch apply in order.
   *
   * Replay-safe: when the order's latest events equal (status and `msg`, in order) the first updates of
   * that order in this batch, those updates were committed before (a retry after a commit whose
   * acknowledgement was lost, as the outbox does) and are skipped (`event: null`, `record` = the row as it
   * is). The state machine never produces the same event twice in a row (a fill names its trade id), so a
   * genuine new update never matches.
   *
   * Throws an {@link OrderStoreError} naming the order (an unknown order, a CHECK violation…); nothing of
   * the batch is then written.
   */
  async applyUpdates(
    updates: readonly OrderUpdate[],
    options: { trades?: readonly TradeInput[] } = {},
  ): Promise<AppliedUpdate[]> {
    if (updates.length === 0) {
      if (options.trades?.length) await this.recordTrades(options.trades);
      return [];
    }
    const tradeRows = options.trades?.length ? this.#tradeRows(options.trades) : [];
    const perOrder = new Map<string, number>();
    for (const u of updates) {
      if (u.portfolio_id !== this.#portfolioId) {
        throw new OrderStoreError(
          `applyUpdates: order ${u.id} belongs to portfolio ${u.portfolio_id}, not ${this.#portfolioId}`,
          { orderId: u.id },
        );
      }
      perOrder.set(u.id, (perOrder.get(u.id) ?? 0) + 1);
    }
    const ids = [...perOrder.keys()].sort();
    const maxPerOrder = Math.max(...perOrder.values());
    // (An update equal to the order's newest event goes the full way, which treats it as a replay.)
    const msgs = new Map(updates.map((u) => [u, JSON.stringify(u.event)]));
    const known = (u: OrderUpdate) => {
      const last = this.#lastEvent.get(u.id);
      return last !== undefined && !(last.status === u.status && last.msg === msgs.get(u));
    };
    if (maxPerOrder === 1 && updates.every(known)) {
      try {
        const applied = await this.#applyKnown(updates, { msgs, tradeRows });
        this.#noteWritten(updates.length + tradeRows.length);
        return applied;
      } catch (err) {
        // Whatever failed, forget what was assumed: the next attempt reads the events.
        for (const id of ids) this.#lastEvent.delete(id);
        // The database refused the statement's data (a seq taken meanwhile by another writer, a CHECK, an
        // unknown order, a value a column cannot hold): take the full path now; it numbers from the table,
        // recognises a batch already committed and names the order that fails. Anything else (the
        // connection lost, the server going down) would fail it too: the caller retries later (the outbox
        // does), on the full path.
        if (!/^2[23]/.test(sqlState(err) ?? "")) {
          this.#forgetOnLostConnection(err);
          throw new OrderStoreError(`applyUpdates: ${describePgError(err)}`, { cause: err });
        }
      }
    }
    const applied = await this.#applyFull(updates, { ids, maxPerOrder, tradeRows });
    this.#noteWritten(updates.length + tradeRows.length);
    return applied;
  }

  /**
   * The usual batch (each order once, its newest seq known from this store's own commits): the fills, the
   * events and the updates in ONE statement: one round trip, atomic as any statement. The events are
   * numbered from `#lastEvent`; if that is behind the table, the event's `(portfolio_id, id, seq)` key refuses
   * the statement and nothing is written. The events' `created_at` is the statement's `now()`, as is the
   * rows' `updated_at`.
   */
  async #applyKnown(
    batch: readonly OrderUpdate[],
    input: { msgs: ReadonlyMap<OrderUpdate, string>; tradeRows: TradeRow[] },
  ): Promise<AppliedUpdate[]> {
    const sql = this.#sql;
    // In id order, as the full path locks them: two writers never take the same rows' locks in opposite
    // orders (a deadlock). The results are returned in the batch's order.
    const updates = [...batch].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const seqs = updates.map((u) => this.#lastEvent.get(u.id)!.seq + 1);
    const msgs = updates.map((u) => input.msgs.get(u)!);
    // The statement's text depends only on the number of fills (built once per count): see intentStatement.
    const params: unknown[] = [
      this.#portfolioId,
      sql.array(updates.map((u) => u.id)),
      sql.array(seqs),
      sql.array(updates.map((u) => u.status)),
      sql.array(msgs),
      sql.json(updateInput(updates)),
      ...rowParams(input.tradeRows, TRADE_COLUMNS_IN),
    ];
    const rows = await sql.unsafe(
      knownUpdateStatement(input.tradeRows.length),
      params as postgres.ParameterOrJSON<never>[],
      { prepare: true },
    );
    const byId = new Map(rows.map((r) => [r.id as string, toOrder(r)]));
    const applied = new Map<OrderUpdate, AppliedUpdate>();
    updates.forEach((u, k) => {
      const record = byId.get(u.id);
      if (!record) {
        throw new OrderStoreError(`applyUpdates: order ${u.id} was not updated`, { orderId: u.id });
      }
      applied.set(u, {
        record,
        event: {
          portfolio_id: this.#portfolioId,
          id: u.id,
          seq: seqs[k],
          status: u.status,
          msg: JSON.parse(msgs[k]),
          created_at: record.updated_at,
        },
      });
      this.#noteEvent(u.id, { seq: seqs[k], status: u.status, msg: msgs[k] });
    });
    return batch.map((u) => applied.get(u)!);
  }

  /** Any batch: lock the orders, read their newest events, skip what was committed before, apply the rest. */
  async #applyFull(
    updates: readonly OrderUpdate[],
    batch: { ids: string[]; maxPerOrder: number; tradeRows: TradeRow[] },
  ): Promise<AppliedUpdate[]> {
    const { ids, maxPerOrder, tradeRows } = batch;
    const { applied, newest } = await this.#transaction("applyUpdates", async (tx) => {
      // Fills (when given), the lock and the event tails go out together (pipelined on the transaction's
      // connection): a fill and the update it causes commit together.
      const fills: Promise<unknown> = tradeRows.length > 0
        ? Promise.resolve(
          tx`insert into trade ${tx(tradeRows)} on conflict (portfolio_id, trade_id) do nothing`,
        )
          .then(() => null, (err) => err)
        : Promise.resolve(null);
      const [locked, tail] = await Promise.all([
        tx`
        select ${tx.unsafe(ORDER_COLUMNS)} from order_history
        where portfolio_id = ${this.#portfolioId} and id in ${tx(ids)}
        order by id for update`,
        // per order, its newest events through the (portfolio_id, id, seq) index: never a scan of the day
        tx`
        select t.id, e.seq, e.status, e.msg
        from unnest(${ids}::text[]) as t(id)
        cross join lateral (
          select seq, status, msg from order_event
          where portfolio_id = ${this.#portfolioId} and id = t.id
          order by seq desc limit ${maxPerOrder}
        ) e
        order by t.id, e.seq desc`,
      ]);
      const fillError = await fills;
      if (fillError) {
        throw new OrderStoreError(`applyUpdates: recording trades failed: ${describePgError(fillError)}`, {
          cause: fillError,
        });
      }
      const rows = new Map(locked.map((r) => [r.id as string, toOrder(r)]));
      const missing = ids.find((id) => !rows.has(id));
      if (missing !== undefined) {
        throw new OrderStoreError(
          `applyUpdates: order ${missing} does not exist in portfolio ${this.#portfolioId}`,
          { orderId: missing },
        );
      }
      // The latest events of each order (newest first), as many as the batch has updates for it.
      const tails = new Map<string, { seq: number; status: string; msg: string | null }[]>();
      for (const r of tail) {
        const list = tails.get(r.id as string) ?? [];
        list.push({ seq: Number(r.seq), status: r.status as string, msg: r.msg as string | null });
        tails.set(r.id as string, list);
      }
      const nextSeq = new Map(ids.map((id) => [id, (tails.get(id)?.[0]?.seq ?? 0) + 1]));
      const replayed = new Map<string, number>();
      for (const id of ids) {
        const own = updates.filter((u) => u.id === id).map((u) => ({
          status: u.status,
          msg: JSON.stringify(u.event),
        }));
        const events = [...(tails.get(id) ?? [])].reverse(); // oldest first
        let p = Math.min(own.length, events.length);
        for (; p > 0; p--) {
          const from = events.length - p;
          if (
            own.slice(0, p).every((u, k) =>
              events[from + k].status === u.status && events[from + k].msg === u.msg
            )
          ) {
            break;
          }
        }
        replayed.set(id, p);
      }

      // The updates go as bulk statements — round k holds the k-th update of each order, so an order's
      // updates still apply in order — pipelined with the event INSERT on the transaction's connection: a
      // few round trips per batch whatever its size. Each event's seq is known from the tails.
      const results: AppliedUpdate[] = [];
      const eventRows: Row[] = [];
      const eventSlots: number[] = [];
      const rounds: { slot: number; u: OrderUpdate }[][] = [];
      const roundOf = new Map<string, number>();
      for (const u of updates) {
        const skip = replayed.get(u.id)!;
        if (skip > 0) {
          replayed.set(u.id, skip - 1);
          results.push({ record: rows.get(u.id)!, event: null });
          continue;
        }
        const round = roundOf.get(u.id) ?? 0;
        roundOf.set(u.id, round + 1);
        (rounds[round] ??= []).push({ slot: results.length, u });
        const seq = nextSeq.get(u.id)!;
        nextSeq.set(u.id, seq + 1);
        eventSlots.push(results.length);
        results.push({ record: rows.get(u.id)!, event: null });
        eventRows.push({
          portfolio_id: this.#portfolioId,
          id: u.id,
          seq,
          status: u.status,
          msg: JSON.stringify(u.event),
        });
      }
      const roundQueries = rounds.map((round) =>
        Promise.resolve(tx`${updateOrders(tx, this.#portfolioId, round.map(({ u }) => u))}`)
      );
      const eventsQuery = eventRows.length > 0
        ? Promise.resolve(tx`insert into order_event ${tx(eventRows)} returning ${tx.unsafe(EVENT_COLUMNS)}`)
        : Promise.resolve([] as Row[]);
      // Settle everything before judging, so the first failure in order is the one reported.
      const settled = await Promise.allSettled([...roundQueries, eventsQuery]);
      for (let k = 0; k < rounds.length; k++) {
        const outcome = settled[k];
        if (outcome.status === "rejected") {
          const detail = describePgError(outcome.reason);
          const failing = rounds[k].find(({ u }) => detail.includes(`(${this.#portfolioId}, ${u.id},`))?.u ??
            (rounds[k].length === 1 ? rounds[k][0].u : undefined);
          throw new OrderStoreError(
            failing
              ? `applyUpdates: order ${failing.id} → ${failing.status} ${
                JSON.stringify(failing.fields)
              }: ${detail}`
              : `applyUpdates: updating orders ${rounds[k].map(({ u }) => u.id).join(", ")}: ${detail}`,
            { orderId: failing?.id ?? null, cause: outcome.reason },
          );
        }
        const byId = new Map(outcome.value.map((r) => [r.id as string, toOrder(r)]));
        for (const { slot, u } of rounds[k]) {
          const record = byId.get(u.id)!;
          rows.set(u.id, record);
          results[slot].record = record;
        }
      }
      const eventsOutcome = settled[rounds.length];
      if (eventsOutcome.status === "rejected") {
        throw new OrderStoreError(
          `applyUpdates: appending events failed: ${describePgError(eventsOutcome.reason)}`,
          { cause: eventsOutcome.reason },
        );
      }
      const byKey = new Map(eventsOutcome.value.map((r) => [`${r.id}\u0000${r.seq}`, toEvent(r)]));
      eventSlots.forEach((slot, k) => {
        results[slot].event = byKey.get(`${eventRows[k].id}\u0000${eventRows[k].seq}`) ?? null;
      });
      // each order's newest event now: the last one appended, or the newest read when all were replays
      const newest = new Map<string, KnownEvent>();
      for (const id of ids) {
        const tail = tails.get(id)?.[0];
        if (tail) newest.set(id, { seq: tail.seq, status: tail.status, msg: tail.msg });
      }
      for (const e of eventRows) {
        newest.set(e.id as string, {
          seq: e.seq as number,
          status: e.status as string,
          msg: e.msg as string,
        });
      }
      return { applied: results, newest };
    });
    for (const [id, event] of newest) this.#noteEvent(id, event);
    return applied;
  }

  /**
   * Records fills (deduplicated by `(portfolio_id, trade_id)`: a trade seen again is ignored) in one
   * transaction. Returns the ids of the trades inserted now, in input order.
   */
  async recordTrades(trades: readonly TradeInput[]): Promise<string[]> {
    if (trades.length === 0) return [];
    const rows = this.#tradeRows(trades);
    // One statement: atomic by itself, no transaction round trips.
    try {
      const inserted = await this.#sql`
        insert into trade ${
        this.#sql(rows)
      } on conflict (portfolio_id, trade_id) do nothing returning trade_id`;
      const ids = new Set(inserted.map((r) => r.trade_id as string));
      this.#noteWritten(ids.size);
      return rows.map((r) => r.trade_id as string).filter((id) => ids.has(id));
    } catch (err) {
      throw new OrderStoreError(`recordTrades: ${describePgError(err)}`, { cause: err });
    }
  }

  /**
   * Records an order placed outside this service (another terminal): `source` `external`, `id` =
   * `broker_order_id`, status derived from the view (and `fills`, when given), one event
   * `{"event":"external", …}`. Idempotent: an order already recorded under that id or broker order id is
   * returned as it is (`created: false`), nothing written.
   */
  async recordExternalOrder(
    view: BrokerOrderView,
    options: ExternalOrderOptions = {},
  ): Promise<{ created: boolean; record: OrderRecord }> {
    const fills = options.fills ?? { filled: 0, avgPrice: null };
    const status = deriveStatus(view, fills);
    const exchangeId = view.exchange_order_id.trim();
    const row: Row = {
      portfolio_id: this.#portfolioId,
      id: view.broker_order_id,
      status,
      symbol: view.symbol,
      direction: view.direction,
      offset: view.offset,
      volume: view.volume_orign,
      limit_price: view.limit_price,
      price_type: view.price_type,
      time_condition: view.time_condition,
      volume_condition: view.volume_condition,
      filled_quantity: fills.filled,
      volume_left: view.volume_left,
      avg_fill_price: fills.avgPrice,
      exchange_order_id: exchangeId === "" ? null : exchangeId,
      broker_order_id: view.broker_order_id,
      last_msg: view.last_msg,
      reject_reason: status === "REJECTED" ? brokerRejectReason(view.last_msg) : null,
      source: "external",
      request_hash: null,
      parent_id: null,
      trading_day: options.trading_day ?? null,
    };
    const msg = {
      event: "external",
      broker_order_id: view.broker_order_id,
      exchange_order_id: exchangeId,
      broker_status: view.status,
      volume_left: view.volume_left,
      filled_quantity: fills.filled,
      last_msg: view.last_msg,
    };
    return await this.#transaction("recordExternalOrder", async (tx) => {
      const findExisting = async () => {
        const [found] = await tx`
          select ${tx.unsafe(ORDER_COLUMNS)} from order_history
          where (portfolio_id = ${this.#portfolioId} and id = ${view.broker_order_id})
             or broker_order_id = ${view.broker_order_id}
          limit 1`;
        return found ? toOrder(found) : null;
      };
      const before = await findExisting();
      if (before) return { created: false, record: before };
      let inserted: Row[];
      try {
        inserted = await tx`
          insert into order_history ${tx(row)} on conflict do nothing
          returning ${tx.unsafe(ORDER_COLUMNS)}`;
      } catch (err) {
        throw new OrderStoreError(
          `recordExternalOrder: order ${view.broker_order_id}: ${describePgError(err)}`,
          { orderId: view.broker_order_id, cause: err },
        );
      }
      if (inserted.length === 0) {
        const raced = await findExisting();
        if (!raced) {
          throw new OrderStoreError(
            `recordExternalOrder: order ${view.broker_order_id} neither inserted nor found`,
            {
              orderId: view.broker_order_id,
            },
          );
        }
        return { created: false, record: raced };
      }
      await tx`insert into order_event ${
        tx({
          portfolio_id: this.#portfolioId,
          id: view.broker_order_id,
          seq: 1,
          status,
          msg: JSON.stringify(msg),
        })
      }`;
      return { created: true, record: toOrder(inserted[0]) };
    });
  }

  /** One order with its events (by seq), or null. */
  async getOrder(id: string): Promise<{ record: OrderRecord; events: OrderEventRecord[] } | null> {
    const [row] = await this.#sql`
      select ${this.#sql.unsafe(ORDER_COLUMNS)} from order_history
      where portfolio_id = ${this.#portfolioId} and id = ${id}`;
    if (!row) return null;
    const events = await this.#sql`
      select ${this.#sql.unsafe(EVENT_COLUMNS)} from order_event
      where portfolio_id = ${this.#portfolioId} and id = ${id} order by seq`;
    return { record: toOrder(row), events: events.map(toEvent) };
  }

  /** The order recorded with this broker order id, or null. */
  async getOrderByBrokerId(brokerOrderId: string): Promise<OrderRecord | null> {
    const [row] = await this.#sql`
      select ${this.#sql.unsafe(ORDER_COLUMNS)} from order_history
      where portfolio_id = ${this.#portfolioId} and broker_order_id = ${brokerOrderId}`;
    return row ? toOrder(row) : null;
  }

  /** Orders, newest first (`created_at` desc, then `id` desc), filtered by status and symbol. */
  async listOrders(options: ListOrdersOptions = {}): Promise<OrderRecord[]> {
    const sql = this.#sql;
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
    if (!Number.isFinite(limit)) throw new RangeError("listOrders: limit must be a number");
    const status = options.status ? sql`and status = ${options.status}` : sql``;
    const symbol = options.symbol ? sql`and symbol = ${options.symbol}` : sql``;
    let before = sql``;
    if (options.before !== undefined) {
      before = options.beforeId !== undefined
        ? sql`and (created_at, id) < (${options.before}::text::timestamptz, ${options.beforeId})`
        : sql`and created_at < ${options.before}::text::timestamptz`;
    }
    const rows = await sql`
      select ${sql.unsafe(ORDER_COLUMNS)} from order_history
      where portfolio_id = ${this.#portfolioId} ${status} ${symbol} ${before}
      order by created_at desc, id desc
      limit ${limit}`;
    return rows.map(toOrder);
  }

  /** Orders that may still change ({@link OPEN_STATUSES}), oldest first. */
  async openOrders(): Promise<OrderRecord[]> {
    const rows = await this.#sql`
      select ${this.#sql.unsafe(ORDER_COLUMNS)} from order_history
      where portfolio_id = ${this.#portfolioId} and status in ${this.#sql(OPEN_STATUSES as OrderStatus[])}
      order by created_at, id`;
    return rows.map(toOrder);
  }

  /** The trades of a client order, by trade time then trade id. */
  async tradesOf(id: string): Promise<TradeRecord[]> {
    const rows = await this.#sql`
      select ${this.#sql.unsafe(TRADE_COLUMNS)} from trade
      where portfolio_id = ${this.#portfolioId} and order_id = ${id}
      order by trade_date_time, trade_id`;
    return rows.map(toTrade);
  }

  /** The fills of a broker order, in time order: what a `FillLedger` is rebuilt from after a restart. */
  async fillsOf(brokerOrderId: string): Promise<FillTrade[]> {
    const rows = await this.#sql`
      select trade_id, price, volume from trade
      where portfolio_id = ${this.#portfolioId} and broker_order_id = ${brokerOrderId}
      order by trade_date_time, created_at, trade_id`;
    return rows.map((r) => ({
      trade_id: r.trade_id as string,
      price: Number(r.price),
      volume: Number(r.volume),
    }));
  }

  #intentRow(intent: NewOrder): IntentRow {
    const r = intent.request as Partial<InsertRequest> & RejectedRequest;
    const id = r.order_id;
    if (typeof id !== "string" || id === "") {
      throw new OrderStoreError("recordIntents: an intent has no order_id");
    }
    if (intent.status !== "REJECTED") {
      if (r.portfolio_id !== undefined && r.portfolio_id !== null && r.portfolio_id !== this.#portfolioId) {
        throw new OrderStoreError(
          `recordIntents: order ${id} is for portfolio ${r.portfolio_id}, this store writes ${this.#portfolioId}`,
          { orderId: id },
        );
      }
      const missing = (["symbol", "direction", "offset", "volume"] as const).filter((k) => r[k] == null);
      if (missing.length > 0) {
        throw new OrderStoreError(
          `recordIntents: order ${id} (${intent.status}) lacks ${
            missing.join(", ")
          }; only a REJECTED intent may`,
          { orderId: id },
        );
      }
    }
    if (intent.events.length === 0) {
      throw new OrderStoreError(`recordIntents: order ${id} has no events`, { orderId: id });
    }
    // A refused request keeps what could be read of it; a value the columns cannot hold (it may be why the
    // request was refused) is stored as null, so the refusal itself is always recorded.
    const rejected = intent.status === "REJECTED";
    const keep = <V>(v: V | null | undefined, ok: (x: unknown) => boolean): V | null =>
      v === undefined || v === null ? null : (!rejected || ok(v) ? v : null);
    const isText = (x: unknown) => typeof x === "string";
    const oneOf = (values: readonly string[]) => (x: unknown) => typeof x === "string" && values.includes(x);
    const volume = keep(
      r.volume,
      (x) => Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) < 2 ** 31,
    );
    return {
      portfolio_id: this.#portfolioId,
      id,
      status: intent.status,
      symbol: keep(r.symbol, isText),
      direction: keep(r.direction, oneOf(["BUY", "SELL"])),
      offset: keep(r.offset, oneOf(["OPEN", "CLOSE", "CLOSETODAY"])),
      volume,
      limit_price: keep(r.limit_price, (x) => typeof x === "number" && Number.isFinite(x)),
      price_type: keep(r.price_type, oneOf(["LIMIT", "ANY", "BEST", "FIVELEVEL"])),
      time_condition: keep(r.time_condition, oneOf(["IOC", "GFS", "GFD", "GTD", "GTC", "GFA"])),
      volume_condition: keep(r.volume_condition, oneOf(["ANY", "MIN", "ALL"])),
      volume_left: typeof volume === "number" && Number.isSafeInteger(volume) && volume >= 1 ? volume : null,
      broker_order_id: intent.broker_order_id ?? null,
      reject_reason: intent.reject_reason ?? null,
      source: intent.source,
      request_hash: intent.request_hash ?? null,
      parent_id: intent.parent_id ?? null,
      trading_day: keep(intent.trading_day, (x) => typeof x === "string" && /^[0-9]{8}$/.test(x)),
    };
  }

  /** Next seq per order (`coalesce(max(seq), 0) + 1`); the caller holds the orders' row locks. */
  async #nextSeqs(tx: Tx, ids: string[]): Promise<Map<string, number>> {
    const unique = [...new Set(ids)];
    const rows = await tx`
      select id, coalesce(max(seq), 0) + 1 as next from order_event
      where portfolio_id = ${this.#portfolioId} and id in ${tx(unique)}
      group by id`;
    const next = new Map<string, number>(unique.map((id) => [id, 1]));
    for (const r of rows) next.set(r.id as string, Number(r.next));
    return next;
  }

  /**
   * Insert new orders and, for those actually created, their events, in one statement (data-modifying
   * CTEs; the event rows' foreign key is checked at the end of the statement). Returns the created rows;
   * an id that already existed is absent and nothing of it was written.
   */
  async #insertNew(
    intents: readonly NewOrder[],
    rows: IntentRow[],
  ): Promise<Map<string, OrderRecord>> {
    // The events as four parallel arrays (cheaper to send and unpack than a JSON document).
    const ids: string[] = [];
    const seqs: number[] = [];
    const statuses: string[] = [];
    const msgs: (string | null)[] = [];
    intents.forEach((intent, i) =>
      intent.events.forEach((e, k) => {
        ids.push(rows[i].id);
        seqs.push(k + 1);
        statuses.push(e.status);
        msgs.push(msgText(e.msg));
      })
    );
    const sql = this.#sql;
    let inserted: Row[];
    try {
      // The statement's text depends only on the number of rows (built once per size): no query building
      // per call, which cost more than PostgreSQL's own parse of a new statement (~0.15 ms an intent).
      const params = [
        ...rowParams(rows, INTENT_COLUMNS),
        this.#portfolioId,
        sql.array(ids),
        sql.array(seqs),
        sql.array(statuses),
        sql.array(msgs as string[]),
      ];
      inserted = await sql.unsafe(intentStatement(rows.length), params as postgres.ParameterOrJSON<never>[], {
        prepare: true,
      });
    } catch (err) {
      this.#forgetOnLostConnection(err);
      const failing = rows.find((r) => describePgError(err).includes(`(${this.#portfolioId}, ${r.id},`));
      throw new OrderStoreError(
        `recordIntents: inserting ${
          failing ? `order ${failing.id}` : `orders ${rows.map((r) => r.id).join(", ")}`
        }` +
          ` failed: ${describePgError(err)}`,
        { orderId: failing?.id ?? (rows.length === 1 ? rows[0].id : null), cause: err },
      );
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    return new Map(inserted.map((r) => {
      const id = r.id as string;
      return [id, newOrderRecord(byId.get(id)!, r.created_at as string)];
    }));
  }

  async #transaction<T>(what: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await this.#sql.begin(fn) as T;
    } catch (err) {
      // (an OrderStoreError without a cause is the store's own finding, not the database's)
      const cause = err instanceof OrderStoreError ? err.cause : err;
      if (cause !== undefined) this.#forgetOnLostConnection(cause);
      if (err instanceof OrderStoreError) throw err;
      throw new OrderStoreError(`${what}: ${describePgError(err)}`, { cause: err });
    }
  }
}
