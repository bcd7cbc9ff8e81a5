/**
 * The single send gate: every order and cancel the service sends passes here, and this is the only code
 * that calls `broker.insert` / `broker.cancel`. It decides, in one place and a fixed order:
 *
 * 1. the portfolio lease (only the active instance sends: `NOT_LEADER`),
 * 2. broker readiness (`NOT_CONNECTED`, `RECONCILING`, `STOPPED`: never queued across a disconnect),
 * 3. the checks plugged in by trading safety (kill switch, exchange rules, desk limits, rates), in order.
 *
 * Deciding and sending are two steps because the intent is committed to PostgreSQL between them: the gate
 * decides, the executor records the decision, then the gate sends (re-checking lease and readiness, which
 * may have changed during the commit). Orders decided but not yet visible at the broker are held as
 * "pending" so limits that depend on working orders count them. A check may hand back the exact tick-grid
 * price to send (written into the reserved order) and an undo for what it spent (an insert token), run
 * when the order is not sent after all.
 *
 * @module
 */

import type { Broker, BrokerInsert, BrokerOrderView, SendResult } from "../broker/types.ts";
import type { InsertRequest, OrderRecord } from "./types.ts";

/** Why the gate refused: a code, the request field it concerns (`$` for none) and a readable message. */
export interface GateRefusal {
  code: string;
  field: string;
  message: string;
}

/** The gate's verdict on one request. */
export type GateDecision = { ok: true; warnings: string[] } | { ok: false; refusal: GateRefusal };

/** What an insert check sees besides the request. */
export interface InsertCheckContext {
  /** Orders the gate passed that the broker does not show yet (they count as working). */
  pending: readonly BrokerOrderView[];
}

/** What a passing insert check may answer besides "nothing to say" (`null`). */
export interface InsertCheckPass {
  /** Logged and returned with the outcome. */
  warnings: string[];
  /**
   * The price to send instead of the requested one: the same price exactly on the tick grid (the request's
   * `3400.0000000001` goes out as `3400`). The gate writes it into the order it reserves and sends.
   */
  limit_price?: number;
  /**
   * Undo what the check spent for this order (an insert token) when the order is not sent after all: a
   * later check refuses it, {@linkcode SendGate.release}, or the send finds the connection gone.
   */
  undo?: () => void;
}

/** A check on an insert: a refusal, a pass with something to say, or nothing. */
export type InsertCheck = (
  request: InsertRequest,
  context: InsertCheckContext,
) => GateRefusal | InsertCheckPass | null;

/** A check on a cancel of a recorded order. */
export type CancelCheck = (order: OrderRecord) => GateRefusal | { warnings: string[] } | null;

/** Options of {@linkcode SendGate}. */
export interface SendGateOptions {
  /** Whether this instance holds the portfolio lease (default: always). */
  isLeader?: () => boolean;
  insertChecks?: InsertCheck[];
  cancelChecks?: CancelCheck[];
  /** Called after every successful send (for rate counters, metrics), with the order's contract. */
  onSent?: (kind: "insert" | "cancel", id: string, symbol: string | null) => void;
}

/** The single send gate. */
export class SendGate {
  readonly #pending = new Map<string, BrokerOrderView>();
  /** Per reserved order, the undo steps of each decision not yet sent or released (usually one). */
  readonly #undo = new Map<string, (() => void)[][]>();
  readonly #insertChecks: InsertCheck[];
  readonly #cancelChecks: CancelCheck[];

  constructor(private readonly broker: Broker, private readonly options: SendGateOptions = {}) {
    this.#insertChecks = [...(options.insertChecks ?? [])];
    this.#cancelChecks = [...(options.cancelChecks ?? [])];
  }

  /** Add checks (trading safety plugs its rules in here, in order). */
  addChecks(checks: { insert?: InsertCheck[]; cancel?: CancelCheck[] }): void {
    this.#insertChecks.push(...(checks.insert ?? []));
    this.#cancelChecks.push(...(checks.cancel ?? []));
  }

  /** Lease and readiness, the checks every send needs. */
  #connectionRefusal(): GateRefusal | null {
    if (this.options.isLeader && !this.options.isLeader()) {
      return {
        code: "NOT_LEADER",
        field: "$",
        message: "this instance is on standby: another instance holds the portfolio lease",
      };
    }
    const state = this.broker.state();
    if (state.ready) return null;
    if (state.phase === "stopped") {
      return { code: "STOPPED", field: "$", message: "the broker connection is shut down" };
    }
    if (state.phase === "syncing" || state.phase === "confirming") {
      return {
        code: "RECONCILING",
        field: "$",
        message: `the broker connection is ${state.phase}: waiting for a complete snapshot`,
      };
    }
    return {
      code: "NOT_CONNECTED",
      field: "$",
      message: `the broker connection is not ready (${state.phase}${
        state.last_error ? `: ${state.last_error.message}` : ""
      })`,
    };
  }

  /**
   * Why nothing can be sent right now (standby instance, broker not ready), or null. Such a refusal is
   * about the moment, not the order: the executor records nothing and the request may be retried.
   */
  unavailable(): GateRefusal | null {
    return this.#connectionRefusal();
  }

  /**
   * Decide whether `order` (the request, as it would be sent) may be sent now. When it may, the order is
   * reserved as pending at once, so requests decided while it is being recorded count it; call
   * {@linkcode release} when it is not sent after all. A check may normalise the price: `order.limit_price`
   * is then set, in place, to the exact tick-grid price that {@linkcode sendInsert} will send.
   */
  decideInsert(request: InsertRequest, order: BrokerInsert): GateDecision {
    const refusal = this.#connectionRefusal();
    if (refusal) return { ok: false, refusal };
    const warnings: string[] = [];
    const undo: (() => void)[] = [];
    let limitPrice: number | undefined;
    const context: InsertCheckContext = { pending: [...this.#pending.values()] };
    for (const check of this.#insertChecks) {
      const result = check(request, context);
      if (result === null) continue;
      if (!("warnings" in result)) {
        runAll(undo);
        return { ok: false, refusal: result };
      }
      warnings.push(...result.warnings);
      if (result.undo) undo.push(result.undo);
      if (result.limit_price !== undefined) limitPrice = result.limit_price;
    }
    if (limitPrice !== undefined && order.limit_price !== undefined) order.limit_price = limitPrice;
    this.#pending.set(order.broker_order_id, pendingView(order));
    const stack = this.#undo.get(order.broker_order_id);
    if (stack) stack.push(undo);
    else this.#undo.set(order.broker_order_id, [undo]);
    return { ok: true, warnings };
  }

  /**
   * An order reserved by `decideInsert` will not be sent (duplicate, database failure, send refused): it no
   * longer counts as pending, and what its decision spent (an insert token) is given back.
   */
  release(brokerOrderId: string): void {
    this.#pending.delete(brokerOrderId);
    runAll(this.#takeUndo(brokerOrderId));
  }

  /** The undo steps of the latest open decision on `brokerOrderId` (none left: empty). */
  #takeUndo(brokerOrderId: string): (() => void)[] {
    const stack = this.#undo.get(brokerOrderId);
    const undo = stack?.pop() ?? [];
    if (stack !== undefined && stack.length === 0) this.#undo.delete(brokerOrderId);
    return undo;
  }

  /** Decide whether a cancel of `order` may be sent now. */
  decideCancel(order: OrderRecord): GateDecision {
    const refusal = this.#connectionRefusal();
    if (refusal) return { ok: false, refusal };
    const warnings: string[] = [];
    for (const check of this.#cancelChecks) {
      const result = check(order);
      if (result === null) continue;
      if ("warnings" in result) warnings.push(...result.warnings);
      else return { ok: false, refusal: result };
    }
    return { ok: true, warnings };
  }

  /**
   * Send an insert that `decideInsert` passed and the executor recorded. Lease and readiness are checked
   * again; a refusal here means nothing left the process.
   */
  sendInsert(order: BrokerInsert): SendResult {
    const refusal = this.#connectionRefusal();
    const result: SendResult = refusal
      ? { ok: false, reason: asSendReason(refusal.code), message: refusal.message }
      : guarded(() => this.broker.insert(order));
    const undo = this.#takeUndo(order.broker_order_id);
    if (result.ok) this.options.onSent?.("insert", order.broker_order_id, order.symbol);
    else {
      this.#pending.delete(order.broker_order_id);
      runAll(undo);
    }
    return result;
  }

  /** Send a cancel of `order` (its record) that `decideCancel` passed. */
  sendCancel(order: Pick<OrderRecord, "broker_order_id" | "symbol">): SendResult {
    const refusal = this.#connectionRefusal();
    if (refusal) return { ok: false, reason: asSendReason(refusal.code), message: refusal.message };
    const brokerOrderId = order.broker_order_id!;
    const result = guarded(() => this.broker.cancel(brokerOrderId));
    // The count belongs to the record's contract, whatever the broker shows (it may not show the order yet).
    if (result.ok) this.options.onSent?.("cancel", brokerOrderId, order.symbol);
    return result;
  }

  /** The broker now shows this order (or it will never show it): it no longer counts as pending. */
  settled(brokerOrderId: string): void {
    this.#pending.delete(brokerOrderId);
  }

  /** The broker's view of one of our orders, if it shows it (deciding whether an intent was ever sent). */
  atBroker(brokerOrderId: string): BrokerOrderView | undefined {
    return this.broker.order(brokerOrderId);
  }

  /** Orders sent and not yet seen at the broker. */
  pending(): BrokerOrderView[] {
    return [...this.#pending.values()];
  }
}

function runAll(steps: readonly (() => void)[]): void {
  for (const step of steps) step();
}

/** A send that throws (a malformed order the broker refuses to write) left nothing on the wire. */
function guarded(send: () => SendResult): SendResult {
  try {
    return send();
  } catch (e) {
    return { ok: false, reason: "MALFORMED", message: `not sent: ${(e as Error).message}` };
  }
}

function asSendReason(code: string): "NOT_CONNECTED" | "RECONCILING" | "STOPPED" {
  return code === "RECONCILING" || code === "STOPPED" ? code : "NOT_CONNECTED";
}

function pendingView(order: BrokerInsert): BrokerOrderView {
  return {
    broker_order_id: order.broker_order_id,
    exchange_order_id: "",
    symbol: order.symbol,
    direction: order.direction,
    offset: order.offset,
    volume_orign: order.volume,
    volume_left: order.volume,
    price_type: order.price_type,
    limit_price: order.limit_price ?? null,
    time_condition: order.time_condition,
    volume_condition: order.volume_condition,
    status: "ALIVE",
    last_msg: "",
    insert_time_ms: 0,
  };
}
