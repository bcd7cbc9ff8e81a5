/**
 * The order path's vocabulary: validated requests (what intake hands to the executor), order records (what
 * `order_history` holds and the API returns) and the updates the state machine produces. Field names follow
 * the contract (§2, §4) in snake_case because they are the boundary.
 *
 * @module
 */

import type { Direction, Offset } from "../diff/types.ts";
import type { OrderSource, OrderStatusName } from "../store/pg/migrations.ts";

export type { Direction, Offset, OrderSource };

/** `order_history.status` / `order_event.status`. */
export type OrderStatus = OrderStatusName;

/** Statuses after which an order never changes again. */
export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(["FILLED", "CANCELED", "REJECTED"]);

/** One problem with a request, naming the field (dotted path for nested fields, `$` for the whole body). */
export interface FieldError {
  field: string;
  message: string;
}

/** A validated insert request (seed flat form, or the envelope's payload). */
export interface InsertRequest {
  /** Client id: 1–64 chars of `[A-Za-z0-9_.:-]`, unique forever per portfolio. */
  order_id: string;
  portfolio_id: string;
  /** `EXCHANGE.code`, e.g. `SHFE.rb2605`. */
  symbol: string;
  direction: Direction;
  offset: Offset;
  /** Integer ≥ 1. */
  volume: number;
  /** Present for LIMIT orders; null for market (`ANY`) orders. */
  limit_price: number | null;
  price_type: "LIMIT" | "ANY";
  time_condition: "GFD" | "IOC";
  /** `ALL` with `IOC` = FOK; `ANY` with `IOC` = FAK. */
  volume_condition: "ANY" | "ALL";
  /** Client timestamp (epoch ms) from `timestamp` (ns number or ISO-8601), null when absent. */
  timestamp_ms: number | null;
  /** The envelope's `request_id`, when the envelope form was used. */
  request_id: string | null;
}

/** A validated cancel request. */
export interface CancelRequest {
  order_id: string;
  portfolio_id: string;
  request_id: string | null;
}

/** The result of parsing one request body. */
export type ParsedRequest =
  | { kind: "insert"; request: InsertRequest }
  | { kind: "cancel"; request: CancelRequest }
  | {
    kind: "invalid";
    /** Readable ids, when the body had them in a usable form (so the refusal can be recorded). */
    order_id: string | null;
    portfolio_id: string | null;
    errors: FieldError[];
  };

/** One `order_history` row, as the service reads and returns it. */
export interface OrderRecord {
  portfolio_id: string;
  id: string;
  status: OrderStatus;
  symbol: string | null;
  direction: Direction | null;
  offset: Offset | null;
  volume: number | null;
  limit_price: number | null;
  price_type: string | null;
  time_condition: string | null;
  volume_condition: string | null;
  filled_quantity: number;
  volume_left: number | null;
  avg_fill_price: number | null;
  exchange_order_id: string | null;
  broker_order_id: string | null;
  last_msg: string | null;
  reject_reason: string | null;
  source: OrderSource;
  request_hash: string | null;
  parent_id: string | null;
  trading_day: string | null;
  created_at: string;
  updated_at: string;
}

/** One `order_event` row. */
export interface OrderEventRecord {
  portfolio_id: string;
  id: string;
  seq: number;
  status: OrderStatus;
  /** Parsed JSON of `msg`. */
  msg: Record<string, unknown> | null;
  created_at: string;
}

/** A change to one order: the new current state plus the event that explains it. */
export interface OrderUpdate {
  portfolio_id: string;
  id: string;
  status: OrderStatus;
  /** Columns to set besides status (only those present are written). */
  fields: Partial<
    Pick<
      OrderRecord,
      | "filled_quantity"
      | "volume_left"
      | "avg_fill_price"
      | "exchange_order_id"
      | "broker_order_id"
      | "last_msg"
      | "reject_reason"
      | "trading_day"
    >
  >;
  /** The event's `msg` (JSON): what happened and why, e.g. `{"event":"fill","trade_id":…}`. */
  event: Record<string, unknown>;
}
