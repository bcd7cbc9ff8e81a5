/**
 * The order executor: where an order request goes after intake (RabbitMQ or REST, the same path).
 *
 * insert: parse result → the send gate decides → the intent is committed to PostgreSQL (`SUBMITTED`, or
 * `REJECTED` with the reason) in a group commit → only then the gate sends → the tracker follows the order.
 * The caller acknowledges the request (RabbitMQ ack, HTTP 202) only after this returns, so an intent is
 * durable before anyone is told it was taken. The same `order_id` again places nothing: the existing record
 * is returned (same content) or the request is refused as a conflict (different content), and recorded.
 *
 * cancel: the order is looked up, the gate decides (lease, readiness, cancel rules) and sends; the request
 * is recorded as an event of the order. The broker's answer arrives through the tracker.
 *
 * SHFE/INE `CLOSE` (when `splitContext` is given): split by `close_split.ts` into `CLOSETODAY`/`CLOSE`
 * children (ids `<order_id>~closetoday` / `~close`, broker ids derived with the same suffixes); each child
 * passes the gate (all or nothing: one refusal refuses the parent, nothing sent); parent and children are
 * recorded in one transaction (children with `source` `split` and `parent_id`); the parent itself is never
 * sent and the tracker aggregates its status and fills from the children. A cancel of the parent cancels
 * its open children. `CLOSETODAY` on other exchanges is sent as `CLOSE`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { BrokerInsert } from "../broker/types.ts";
import { deriveBrokerOrderId } from "../broker/order_ids.ts";
import type { IntentResult, NewOrder, OrderStore } from "../store/pg/order_store.ts";
import { formatFieldErrors, requestHash } from "./request_schema.ts";
import {
  childOrderId,
  isCloseTodayExchange,
  normalizeOffset,
  planCloseSplit,
  type SplitContext,
} from "./close_split.ts";
import type { GateRefusal, SendGate } from "./send_gate.ts";
import type { OrderTracker } from "./tracker.ts";
import {
  type CancelRequest,
  type FieldError,
  type InsertRequest,
  type OrderRecord,
  type OrderSource,
  type ParsedRequest,
  TERMINAL_STATUSES,
} from "./types.ts";

/** What became of an insert request. */
export type SubmitOutcome =
  /** Recorded and sent (or, with `duplicate`, the same request was already recorded: nothing new sent). */
  | { kind: "accepted"; record: OrderRecord; duplicate: boolean; warnings: string[] }
  /** Refused by the gate (rules, kill switch, broker not ready): recorded `REJECTED` with the reason. */
  | { kind: "refused"; record: OrderRecord; refusal: GateRefusal }
  /** Schema errors; recorded `REJECTED` when the body had a usable `order_id` of this portfolio. */
  | { kind: "invalid"; errors: FieldError[]; record: OrderRecord | null }
  /** The `order_id` is taken by a request with different content: refused, recorded on the existing order. */
  | { kind: "conflict"; record: OrderRecord }
  /**
   * Nothing was recorded or sent and the same request may be retried later: PostgreSQL could not record
   * it, or the service cannot trade right now (`code`: broker NOT_CONNECTED / RECONCILING / STOPPED, or
   * NOT_LEADER on a standby instance). The `order_id` stays free for that retry.
   */
  | { kind: "unavailable"; message: string; code?: string };

/** What became of a cancel request. */
export type CancelOutcome =
  | { kind: "sent"; record: OrderRecord }
  | { kind: "not_found"; order_id: string }
  | { kind: "finished"; record: OrderRecord }
  | { kind: "refused"; record: OrderRecord; refusal: GateRefusal }
  | { kind: "unavailable"; message: string; code?: string };

/** Options of {@linkcode OrderExecutor}. */
export interface OrderExecutorOptions {
  portfolioId: string;
  log: Logger;
  /** The broker's current trading day (`YYYYMMDD`), "" when unknown. */
  tradingDay: () => string;
  /** Called with every record the executor creates or changes (for the stream and metrics). */
  onRecord?: (record: OrderRecord) => void;
  /** Runs before the gate judges an insert (e.g. waits for the symbol's first quote). */
  prepare?: (request: InsertRequest) => Promise<void>;
  /**
   * Our position in a symbol and the gate's pending orders the broker does not show yet, for the SHFE/INE
   * close split; null when unknown (no snapshot). Absent = no split (a CLOSE is sent as it is).
   */
  splitContext?: (symbol: string) => SplitContext | null;
}

/** Takes order and cancel requests from intake to the broker. */
export class OrderExecutor {
  readonly #inflight = new Map<string, Promise<SubmitOutcome>>();
  readonly #batcher: IntentBatcher;

  constructor(
    private readonly store: OrderStore,
    private readonly gate: SendGate,
    private readonly tracker: OrderTracker,
    private readonly options: OrderExecutorOptions,
  ) {
    this.#batcher = new IntentBatcher((intents) => store.recordIntents(intents));
  }

  /** Handle one parsed request from `source`. */
  async handle(
    parsed: ParsedRequest,
    source: Exclude<OrderSource, "external" | "split">,
  ): Promise<SubmitOutcome | CancelOutcome> {
    if (parsed.kind === "cancel") return await this.cancel(parsed.request);
    return await this.submit(parsed, source);
  }

  /** Handle an insert request (or an invalid one, which is recorded when it can be). */
  submit(
    parsed: Exclude<ParsedRequest, { kind: "cancel" }>,
    source: Exclude<OrderSource, "external" | "split">,
  ): Promise<SubmitOutcome> {
    if (parsed.kind === "invalid" && parsed.order_id === null) return this.#invalid(parsed, source);
    const orderId = parsed.kind === "insert" ? parsed.request.order_id : parsed.order_id as string;
    // The same id twice at once (a redelivery racing a retry): the second waits for the first's outcome.
    const previous = this.#inflight.get(orderId);
    const run = (previous ?? Promise.resolve()).catch(() => {}).then(() =>
      parsed.kind === "insert" ? this.#insert(parsed.request, source) : this.#invalid(parsed, source)
    );
    this.#inflight.set(orderId, run);
    return run.finally(() => {
      if (this.#inflight.get(orderId) === run) this.#inflight.delete(orderId);
    });
  }

  async #invalid(
    parsed: Extract<ParsedRequest, { kind: "invalid" }>,
    source: Exclude<OrderSource, "external" | "split">,
  ): Promise<SubmitOutcome> {
    const { log, portfolioId } = this.options;
    const reason = `INVALID_REQUEST: ${formatFieldErrors(parsed.errors)}`;
    log.warn("refused an invalid request: {reason}", {
      reason,
      order_id: parsed.order_id,
      portfolio_id: parsed.portfolio_id,
      source,
    });
    if (parsed.order_id === null || parsed.portfolio_id !== portfolioId) {
      return { kind: "invalid", errors: parsed.errors, record: null };
    }
    const intent: NewOrder = {
      request: { order_id: parsed.order_id, portfolio_id: portfolioId },
      status: "REJECTED",
      source,
      reject_reason: reason,
      request_hash: null,
      trading_day: this.options.tradingDay() || null,
      events: [
        { status: "RECEIVED", msg: { event: "received", source } },
        { status: "REJECTED", msg: { event: "invalid_request", errors: parsed.errors } },
      ],
    };
    const result = await this.#record(intent);
    if ("kind" in result) return result;
    if (result.outcome !== "created") {
      // The id belongs to an order already: this invalid reuse is recorded on it as a conflict.
      return { kind: "conflict", record: result.record };
    }
    this.options.onRecord?.(result.record);
    return { kind: "invalid", errors: parsed.errors, record: result.record };
  }

  async #insert(
    request: InsertRequest,
    source: Exclude<OrderSource, "external" | "split">,
  ): Promise<SubmitOutcome> {
    const { log, portfolioId } = this.options;
    const ids = { order_id: request.order_id, portfolio_id: portfolioId };
    const unavailable = this.gate.unavailable();
    if (unavailable) {
      // Not the order's fault: nothing is recorded, so the same order_id can be retried when we can trade.
      log.warn("order {order_id} not taken now ({code}): {message}", { ...ids, ...unavailable, source });
      return { kind: "unavailable", code: unavailable.code, message: unavailable.message };
    }
    if (this.options.splitContext && request.offset === "CLOSE" && isCloseTodayExchange(request.symbol)) {
      await this.options.prepare?.(request);
      return await this.#insertSplit(request, source);
    }
    const brokerOrderId = deriveBrokerOrderId(portfolioId, request.order_id);
    const order = this.#brokerInsert(request, brokerOrderId);
    await this.options.prepare?.(request);
    const decision = this.gate.decideInsert(request, order);
    const hash = requestHash(request);
    const tradingDay = this.options.tradingDay() || null;
    const received = {
      status: "RECEIVED" as const,
      msg: { event: "received", source, request_id: request.request_id },
    };
    const intent: NewOrder = decision.ok
      ? {
        request,
        status: "SUBMITTED",
        source,
        broker_order_id: brokerOrderId,
        request_hash: hash,
        trading_day: tradingDay,
        events: [received, {
          status: "SUBMITTED",
          msg: {
            event: "submitted",
            broker_order_id: brokerOrderId,
            warnings: decision.warnings,
            ...(order.offset !== request.offset ? { offset_sent: order.offset } : {}),
          },
        }],
      }
      : {
        request,
        status: "REJECTED",
        source,
        broker_order_id: null,
        request_hash: hash,
        reject_reason: `${decision.refusal.code}: ${decision.refusal.message}`,
        trading_day: tradingDay,
        events: [received, {
          status: "REJECTED",
          msg: { event: "refused", ...decision.refusal },
        }],
      };

    const result = await this.#record(intent);
    if ("kind" in result) {
      this.gate.release(brokerOrderId);
      return result;
    }
    if (result.outcome !== "created") {
      if (result.outcome === "duplicate") {
        const resumed = this.#resumeUnsent(result.record, order, decision, source);
        if (resumed) return resumed;
      }
      this.gate.release(brokerOrderId);
      if (result.outcome === "duplicate") {
        log.info("order {order_id} again (same content): nothing new sent ({status})", {
          ...ids,
          status: result.record.status,
          source,
        });
        return { kind: "accepted", record: result.record, duplicate: true, warnings: [] };
      }
      log.warn("order {order_id} reused with different content: refused", { ...ids, source });
      return { kind: "conflict", record: result.record };
    }
    if (!decision.ok) {
      log.warn("order {order_id} refused: {code} {field}: {message}", {
        ...ids,
        ...decision.refusal,
        source,
      });
      this.options.onRecord?.(result.record);
      return { kind: "refused", record: result.record, refusal: decision.refusal };
    }

    return this.#send(result.record, order, decision.warnings, source);
  }

  /**
   * The same request again finds its intent committed as `SUBMITTED` but unknown to the tracker: the
   * commit succeeded while its answer was lost (the connection dropped after COMMIT), so the first attempt
   * answered "unavailable" and sent nothing; nothing is sent before a confirmed commit. Send it now, with
   * the same derived broker order id (a broker refuses a repeated id, so this can never place two), or
   * follow it if the broker shows it after all. Null when the record is not such an intent.
   */
  #resumeUnsent(
    record: OrderRecord,
    order: BrokerInsert,
    decision: ReturnType<SendGate["decideInsert"]>,
    source: Exclude<OrderSource, "external" | "split">,
  ): SubmitOutcome | null {
    if (record.status !== "SUBMITTED" || record.broker_order_id !== order.broker_order_id) return null;
    if (this.tracker.currentRecord(order.broker_order_id)) return null;
    const { log, portfolioId } = this.options;
    const ids = { order_id: record.id, portfolio_id: portfolioId, source };
    const view = this.gate.atBroker(order.broker_order_id);
    if (view) {
      this.gate.release(order.broker_order_id);
      this.tracker.track(record);
      this.tracker.handle({ type: "order", order: view });
      log.warn("order {order_id} was recorded but not followed: the broker has it, following it now", ids);
      return { kind: "accepted", record, duplicate: true, warnings: [] };
    }
    log.warn("order {order_id} was recorded but never sent (the commit's answer was lost): sending it", ids);
    if (!decision.ok) {
      this.tracker.track(record);
      return this.#rejectTracked(record, order.broker_order_id, decision.refusal, "refused");
    }
    return this.#send(record, order, decision.warnings, source);
  }

  /** A tracked intent that will not be sent: recorded REJECTED (event `event`) through the tracker. */
  #rejectTracked(
    record: OrderRecord,
    brokerOrderId: string,
    refusal: GateRefusal,
    event: "refused" | "not_sent",
  ): SubmitOutcome {
    const reason = `${refusal.code}: ${refusal.message}`;
    this.tracker.recordUpdate({
      portfolio_id: this.options.portfolioId,
      id: record.id,
      status: "REJECTED",
      fields: { reject_reason: reason },
      event: { event, ...refusal },
    }, brokerOrderId);
    const rejected = { ...record, status: "REJECTED" as const, reject_reason: reason };
    this.options.onRecord?.(rejected);
    return { kind: "refused", record: rejected, refusal };
  }

  /** Send an insert whose intent is committed, and follow it. */
  #send(
    record: OrderRecord,
    order: BrokerInsert,
    warnings: string[],
    source: Exclude<OrderSource, "external" | "split">,
  ): SubmitOutcome {
    const { log, portfolioId } = this.options;
    const ids = { order_id: record.id, portfolio_id: portfolioId };
    const brokerOrderId = order.broker_order_id;
    this.tracker.track(record);
    const sent = this.gate.sendInsert(order);
    if (!sent.ok) {
      // Nothing left the process: the connection changed while the intent was being recorded.
      const refusal: GateRefusal = { code: sent.reason, field: "$", message: sent.message };
      log.warn("order {order_id} not sent: {reason}", { ...ids, reason: sent.message });
      return this.#rejectTracked(record, brokerOrderId, refusal, "not_sent");
    }
    log.info("order {order_id} sent as {broker_order_id}: {direction} {offset} {volume} {symbol} @ {price}", {
      ...ids,
      broker_order_id: brokerOrderId,
      direction: order.direction,
      offset: order.offset,
      volume: order.volume,
      symbol: order.symbol,
      price: order.limit_price ?? "market",
      time_condition: order.time_condition,
      volume_condition: order.volume_condition,
      source,
    });
    this.options.onRecord?.(record);
    return { kind: "accepted", record, duplicate: false, warnings };
  }

  /** Handle a cancel request. */
  async cancel(request: CancelRequest): Promise<CancelOutcome> {
    const { log, portfolioId } = this.options;
    const ids = { order_id: request.order_id, portfolio_id: portfolioId };
    const unavailable = this.gate.unavailable();
    if (unavailable) {
      // Not the request's fault (standby, broker reconnecting): nothing recorded, the cancel may be retried
      // (RabbitMQ requeues it, REST answers 503) rather than acknowledged and lost.
      log.warn("cancel of order {order_id} not taken now ({code}): {message}", { ...ids, ...unavailable });
      return { kind: "unavailable", code: unavailable.code, message: unavailable.message };
    }
    let found;
    try {
      found = await this.store.getOrder(request.order_id);
    } catch (e) {
      return { kind: "unavailable", message: `database: ${(e as Error).message}` };
    }
    if (!found) {
      log.warn("cancel of unknown order {order_id}", ids);
      return { kind: "not_found", order_id: request.order_id };
    }
    // The tracker's view is newer than the row (writes may be queued): never act on the stale row.
    const record =
      (found.record.broker_order_id && this.tracker.currentRecord(found.record.broker_order_id)) ||
      this.tracker.openParent(found.record.id) || found.record;
    if (!TERMINAL_STATUSES.has(record.status) && !record.broker_order_id) {
      const children = this.tracker.childrenOf(record.id).filter((c) => !TERMINAL_STATUSES.has(c.status));
      if (children.length > 0) return this.#cancelSplit(record, children, request);
    }
    if (TERMINAL_STATUSES.has(record.status) || !record.broker_order_id) {
      log.info("cancel of order {order_id}: already {status}", { ...ids, status: record.status });
      return { kind: "finished", record };
    }
    const decision = this.gate.decideCancel(record);
    const sent = decision.ok ? this.gate.sendCancel(record) : null;
    const refusal: GateRefusal | null = !decision.ok
      ? decision.refusal
      : sent && !sent.ok
      ? { code: sent.reason, field: "$", message: sent.message }
      : null;
    this.tracker.recordUpdate({
      portfolio_id: portfolioId,
      id: record.id,
      status: record.status,
      fields: {},
      event: refusal
        ? { event: "cancel_refused", request_id: request.request_id, ...refusal }
        : { event: "cancel_requested", request_id: request.request_id },
    });
    if (refusal) {
      log.warn("cancel of order {order_id} refused: {code}: {message}", { ...ids, ...refusal });
      return { kind: "refused", record, refusal };
    }
    log.info("cancel of order {order_id} sent", { ...ids, broker_order_id: record.broker_order_id });
    return { kind: "sent", record };
  }

  /** Cancel the open children of a split parent; refused when the gate refuses any of them. */
  #cancelSplit(parent: OrderRecord, children: OrderRecord[], request: CancelRequest): CancelOutcome {
    const { log, portfolioId } = this.options;
    let refusal: GateRefusal | null = null;
    const sent: string[] = [];
    for (const child of children) {
      const decision = this.gate.decideCancel(child);
      const result = decision.ok ? this.gate.sendCancel(child) : null;
      const childRefusal: GateRefusal | null = !decision.ok
        ? decision.refusal
        : result && !result.ok
        ? { code: result.reason, field: "$", message: result.message }
        : null;
      this.tracker.recordUpdate({
        portfolio_id: portfolioId,
        id: child.id,
        status: child.status,
        fields: {},
        event: childRefusal
          ? { event: "cancel_refused", request_id: request.request_id, parent_id: parent.id, ...childRefusal }
          : { event: "cancel_requested", request_id: request.request_id, parent_id: parent.id },
      });
      if (childRefusal) refusal ??= childRefusal;
      else sent.push(child.id);
    }
    this.tracker.recordUpdate({
      portfolio_id: portfolioId,
      id: parent.id,
      status: parent.status,
      fields: {},
      event: refusal
        ? { event: "cancel_refused", request_id: request.request_id, children_sent: sent, ...refusal }
        : { event: "cancel_requested", request_id: request.request_id, children: sent },
    });
    if (refusal) {
      log.warn("cancel of split order {order_id} refused: {code}: {message}", {
        order_id: parent.id,
        portfolio_id: portfolioId,
        ...refusal,
      });
      return { kind: "refused", record: parent, refusal };
    }
    log.info("cancel of split order {order_id} sent to {children}", {
      order_id: parent.id,
      portfolio_id: portfolioId,
      children: sent.join(", "),
    });
    return { kind: "sent", record: parent };
  }

  /** A SHFE/INE CLOSE: planned, decided child by child, recorded with its children, children sent. */
  async #insertSplit(
    request: InsertRequest,
    source: Exclude<OrderSource, "external" | "split">,
  ): Promise<SubmitOutcome> {
    const { log, portfolioId } = this.options;
    const ids = { order_id: request.order_id, portfolio_id: portfolioId };
    const hash = requestHash(request);
    const tradingDay = this.options.tradingDay() || null;
    const received = {
      status: "RECEIVED" as const,
      msg: { event: "received", source, request_id: request.request_id },
    };
    const refusedIntent = (refusal: GateRefusal, extra: Record<string, unknown> = {}): NewOrder => ({
      request,
      status: "REJECTED",
      source,
      broker_order_id: null,
      request_hash: hash,
      reject_reason: `${refusal.code}: ${refusal.message}`,
      trading_day: tradingDay,
      events: [received, { status: "REJECTED", msg: { event: "refused", ...refusal, ...extra } }],
    });
    const finishRefused = async (refusal: GateRefusal, extra: Record<string, unknown> = {}) => {
      const result = await this.#record(refusedIntent(refusal, extra));
      if ("kind" in result) return result;
      return this.#notCreated(result, source) ?? this.#refused(result.record, refusal, source);
    };

    // The same order id again: the existing record answers (duplicate or conflict), nothing is planned.
    let existing;
    try {
      existing = await this.store.getOrder(request.order_id);
    } catch (e) {
      return { kind: "unavailable", message: `database: ${(e as Error).message}` };
    }
    if (existing) {
      const result = await this.#record(refusedIntent({ code: "DUPLICATE", field: "order_id", message: "" }));
      if ("kind" in result) return result;
      return this.#notCreated(result, source) ??
        { kind: "conflict", record: result.record };
    }

    const context = this.options.splitContext!(request.symbol);
    if (context === null) {
      // No position snapshot: the gate says why (not connected, reconciling …).
      const parentOrder = this.#brokerInsert(request, deriveBrokerOrderId(portfolioId, request.order_id));
      const decision = this.gate.decideInsert(request, parentOrder);
      this.gate.release(parentOrder.broker_order_id);
      return await finishRefused(
        decision.ok
          ? { code: "RECONCILING", field: "$", message: "no position snapshot to split a SHFE/INE close" }
          : decision.refusal,
      );
    }
    const plan = planCloseSplit(request, context);
    if (plan.kind === "as_is") throw new Error("unreachable: a SHFE/INE CLOSE is always split");
    if (plan.kind === "refuse") return await finishRefused(plan.refusal, { closable: plan.closable });

    const children = plan.children.map((c) => {
      const childRequest: InsertRequest = {
        ...request,
        order_id: childOrderId(request.order_id, c.suffix),
        offset: c.offset,
        volume: c.volume,
      };
      const brokerOrderId = deriveBrokerOrderId(portfolioId, request.order_id, { suffix: c.suffix });
      return { request: childRequest, order: this.#brokerInsert(childRequest, brokerOrderId) };
    });
    const warnings: string[] = [];
    for (const [k, child] of children.entries()) {
      const decision = this.gate.decideInsert(child.request, child.order);
      if (!decision.ok) {
        for (const earlier of children.slice(0, k)) this.gate.release(earlier.order.broker_order_id);
        return await finishRefused(decision.refusal, { child: child.request.order_id });
      }
      warnings.push(...decision.warnings);
    }
    const parentIntent: NewOrder = {
      request,
      status: "SUBMITTED",
      source,
      broker_order_id: null,
      request_hash: hash,
      trading_day: tradingDay,
      events: [received, {
        status: "SUBMITTED",
        msg: {
          event: "split",
          children: children.map((c) => ({
            id: c.request.order_id,
            broker_order_id: c.order.broker_order_id,
            offset: c.request.offset,
            volume: c.request.volume,
          })),
          closable: plan.closable,
          warnings,
        },
      }],
    };
    const childIntents: NewOrder[] = children.map((c) => ({
      request: c.request,
      status: "SUBMITTED",
      source: "split",
      broker_order_id: c.order.broker_order_id,
      request_hash: requestHash(c.request),
      trading_day: tradingDay,
      parent_id: request.order_id,
      events: [
        { status: "RECEIVED", msg: { event: "received", source: "split", parent_id: request.order_id } },
        { status: "SUBMITTED", msg: { event: "submitted", broker_order_id: c.order.broker_order_id } },
      ],
    }));
    let results: IntentResult[];
    try {
      results = await this.#batcher.recordAll([parentIntent, ...childIntents]);
    } catch (e) {
      for (const c of children) this.gate.release(c.order.broker_order_id);
      const message = `could not record the request: ${(e as Error).message}`;
      log.error("{message}", { message, ...ids });
      return { kind: "unavailable", message };
    }
    if (results.some((r) => r.outcome !== "created")) {
      for (const c of children) this.gate.release(c.order.broker_order_id);
      return this.#notCreated(results[0], source) ?? { kind: "conflict", record: results[0].record };
    }
    const parent = results[0].record;
    const childRecords = results.slice(1).map((r) => r.record);
    this.tracker.trackSplit(parent, childRecords);
    for (const [k, child] of children.entries()) {
      const sent = this.gate.sendInsert(child.order);
      if (!sent.ok) {
        this.tracker.recordUpdate({
          portfolio_id: portfolioId,
          id: child.request.order_id,
          status: "REJECTED",
          fields: { reject_reason: `${sent.reason}: ${sent.message}` },
          event: { event: "not_sent", code: sent.reason, field: "$", message: sent.message },
        }, child.order.broker_order_id);
        log.warn("split child {child} of order {order_id} not sent: {reason}", {
          ...ids,
          child: child.request.order_id,
          reason: sent.message,
        });
        continue;
      }
      this.options.onRecord?.(childRecords[k]);
    }
    log.info("order {order_id} split into {children} ({direction} {volume} {symbol} @ {price})", {
      ...ids,
      children: children.map((c) => `${c.request.offset} ${c.request.volume}`).join(" + "),
      direction: request.direction,
      volume: request.volume,
      symbol: request.symbol,
      price: request.limit_price ?? "market",
      source,
    });
    const record = this.tracker.openParent(parent.id) ?? parent;
    this.options.onRecord?.(record);
    return { kind: "accepted", record, duplicate: false, warnings };
  }

  #brokerInsert(request: InsertRequest, brokerOrderId: string): BrokerInsert {
    return {
      broker_order_id: brokerOrderId,
      symbol: request.symbol,
      direction: request.direction,
      offset: normalizeOffset(request.symbol, request.offset),
      volume: request.volume,
      price_type: request.price_type,
      limit_price: request.limit_price ?? undefined,
      time_condition: request.time_condition,
      volume_condition: request.volume_condition,
    };
  }

  /** A duplicate or conflicting intent as the outcome; null when it was created. */
  #notCreated(result: IntentResult, source: OrderSource): SubmitOutcome | null {
    const ids = { order_id: result.record.id, portfolio_id: this.options.portfolioId, source };
    if (result.outcome === "duplicate") {
      this.options.log.info("order {order_id} again (same content): nothing new sent ({status})", {
        ...ids,
        status: result.record.status,
      });
      return { kind: "accepted", record: result.record, duplicate: true, warnings: [] };
    }
    if (result.outcome === "conflict") {
      this.options.log.warn("order {order_id} reused with different content: refused", ids);
      return { kind: "conflict", record: result.record };
    }
    return null;
  }

  #refused(record: OrderRecord, refusal: GateRefusal, source: OrderSource): SubmitOutcome {
    this.options.log.warn("order {order_id} refused: {code} {field}: {message}", {
      order_id: record.id,
      portfolio_id: this.options.portfolioId,
      ...refusal,
      source,
    });
    this.options.onRecord?.(record);
    return { kind: "refused", record, refusal };
  }

  async #record(intent: NewOrder): Promise<IntentResult | { kind: "unavailable"; message: string }> {
    try {
      return await this.#batcher.record(intent);
    } catch (e) {
      const message = `could not record the request: ${(e as Error).message}`;
      this.options.log.error("{message}", {
        message,
        order_id: intent.request.order_id,
        portfolio_id: this.options.portfolioId,
      });
      return { kind: "unavailable", message };
    }
  }
}

/**
 * Group commit: intents recorded while a transaction is in flight wait and go together in the next one.
 * One transaction at a time; the first intent after a quiet period goes at once.
 */
export class IntentBatcher {
  #queue: { intents: NewOrder[]; resolve: (r: IntentResult[]) => void; reject: (e: Error) => void }[] = [];
  #running = false;

  constructor(
    private readonly write: (intents: NewOrder[]) => Promise<IntentResult[]>,
    private readonly maxBatch = 256,
  ) {}

  /** Record one intent; resolves with its result once its transaction committed. */
  record(intent: NewOrder): Promise<IntentResult> {
    return this.recordAll([intent]).then((results) => results[0]);
  }

  /** Record several intents in the same transaction (never split across two); results in input order. */
  recordAll(intents: NewOrder[]): Promise<IntentResult[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ intents, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    // Let the requests of this tick join the first batch.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      // Whole groups, up to maxBatch intents (a larger group goes alone).
      let count = 0;
      let take = 0;
      while (
        take < this.#queue.length && (take === 0 || count + this.#queue[take].intents.length <= this.maxBatch)
      ) {
        count += this.#queue[take].intents.length;
        take++;
      }
      const batch = this.#queue.splice(0, take);
      // One order id appears once per transaction; a repeat goes to the next one (it then sees the first).
      const seen = new Set<string>();
      const now: typeof batch = [];
      const later: typeof batch = [];
      for (const item of batch) {
        const itemIds = item.intents.map((i) => i.request.order_id);
        (itemIds.some((id) => seen.has(id)) ? later : now).push(item);
        for (const id of itemIds) seen.add(id);
      }
      this.#queue.unshift(...later);
      try {
        const results = await this.write(now.flatMap((i) => i.intents));
        let at = 0;
        for (const item of now) {
          item.resolve(results.slice(at, at + item.intents.length));
          at += item.intents.length;
        }
      } catch (e) {
        for (const item of now) item.reject(e as Error);
      }
    }
    this.#running = false;
  }
}
