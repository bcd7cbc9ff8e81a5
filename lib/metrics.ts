/**
 * Prometheus metrics (`GET /metrics`): one prom-client registry per service instance, fed through small
 * hook functions that `lib/service.ts` wires to the order path, the broker, the sinks and the HTTP layer.
 * The order-path modules know nothing of Prometheus: they call optional callbacks (executor wrapper, send
 * gate `onSent`, tracker `onUpdate`), and values that already live elsewhere (WebSocket clients, snapshot
 * age, Redis writer failures) are read when Prometheus scrapes.
 *
 * | metric | type | labels | meaning |
 * | --- | --- | --- | --- |
 * | `tbc_orders_total` | counter | `source`, `outcome` | insert requests by outcome: `accepted`, `duplicate`, `refused`, `invalid`, `conflict`, `unavailable` |
 * | `tbc_order_rejects_total` | counter | `stage`, `reason` | refusals before sending (`stage="intake"`, reason = rule code) and rejects by the broker/exchange (`stage="broker"`) |
 * | `tbc_cancels_total` | counter | `outcome` | cancel requests: `sent`, `not_found`, `finished`, `refused`, `unavailable` |
 * | `tbc_order_updates_total` | counter | `status` | order state changes recorded (SUBMITTED, ACCEPTED, FILLED, …) |
 * | `tbc_order_intake_to_send_seconds` | histogram | | request received → insert written to the broker socket (validation, rules, durable intent) |
 * | `tbc_order_send_to_ack_seconds` | histogram | | insert sent → first broker answer (accepted or rejected) |
 * | `tbc_order_send_to_first_fill_seconds` | histogram | | insert sent → first fill |
 * | `tbc_broker_connected` | gauge | | 1 when the broker connection is ready to trade |
 * | `tbc_broker_phase` | gauge | `phase` | 1 for the current connection phase |
 * | `tbc_broker_reconnects_total` | counter | | broker reconnections |
 * | `tbc_broker_alarm` | gauge | | 1 when not ready for longer than `tq.reconnect.alarm_after_s` |
 * | `tbc_snapshot_age_seconds` | gauge | | how old the live view is: 0 while the broker is ready, else time since it was last confirmed; -1 before the first snapshot |
 * | `tbc_broker_last_data_age_seconds` | gauge | | time since the last frame from the broker; -1 before any |
 * | `tbc_sink_errors_total` | counter | `sink` | `redis` (failed writes), `postgresql` (failed order writes, intents that could not be recorded), `rabbitmq` (connection losses) |
 * | `tbc_sink_up` | gauge | `sink` | 1 when that sink is working (only configured sinks are listed) |
 * | `tbc_order_burst_seconds_today` | gauge | | seconds of this trading day with ≥ 10 inserts + cancels (the programmatic-trading supervision count) |
 * | `tbc_order_actions_max_per_second_today` | gauge | | the most inserts + cancels in one second this trading day |
 * | `tbc_order_actions_today` | gauge | | inserts + cancels sent this trading day |
 * | `tbc_order_burst_trigger_reached` | gauge | | 1 once the burst seconds reach the daily reporting trigger (10) |
 * | `tbc_ws_clients` | gauge | | open `/ws` subscribers |
 * | `tbc_ws_messages_total` | counter | | messages handed to `/ws` subscribers |
 * | `tbc_http_requests_total` | counter | `method`, `route`, `status` | answered HTTP requests |
 * | `tbc_http_request_duration_seconds` | histogram | `method`, `route` | their duration |
 * | `process_*`, `nodejs_*` | | | prom-client's default process metrics (CPU, RSS, heap, event-loop lag) |
 *
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BrokerPhase, BrokerState } from "./broker/types.ts";
import { deriveBrokerOrderId } from "./broker/order_ids.ts";
import type { CancelOutcome, OrderExecutor, SubmitOutcome } from "./orders/executor.ts";
import type { OrderRecord, OrderUpdate } from "./orders/types.ts";
import type { RequestInfo } from "./http/middleware.ts";
import type { BurstStats } from "./orders/rules/supervision.ts";

/** Latency buckets in seconds (1 ms … 30 s). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

const PHASES: readonly BrokerPhase[] = [
  "stopped",
  "connecting",
  "logging_in",
  "syncing",
  "confirming",
  "ready",
  "backoff",
];

/** Statuses that are the broker's first answer to an insert. */
const ACK_STATUSES = new Set(["ACCEPTED", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED"]);

/** Values read at scrape time. Every one is optional. */
export interface MetricSources {
  /**
   * Epoch ms up to which the live view is known to match the broker at `now` (`LiveView.confirmedAt(now)`:
   * `now` itself while ready); 0 = no snapshot.
   */
  confirmedAt?: (now: number) => number;
  /** The broker state (for `last_data_at`). */
  brokerState?: () => BrokerState;
  /** Open `/ws` subscribers and messages sent (`StreamHub.stats()`). */
  ws?: () => { clients: number; messages_sent: number };
  /** Redis writer: `ok` and its failed batch count since start. */
  redis?: () => { ok: boolean; failures: number };
  /** RabbitMQ intake: connected. */
  rabbitmq?: () => { connected: boolean };
  /** PostgreSQL: false while order writes are failing. */
  postgresql?: () => { ok: boolean };
  /** Burst statistics of the sent inserts + cancels (`PreTradeRules.burstStats()`). */
  bursts?: () => BurstStats;
}

/** Options of {@linkcode ServiceMetrics}. */
export interface ServiceMetricsOptions {
  /** Portfolio id (maps client order ids to broker order ids for the latency histograms). */
  portfolioId: string;
  /** Include prom-client's default process metrics (default true). */
  processMetrics?: boolean;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Pending latency measurements are dropped after this long (default 1 h). */
  pendingTtlMs?: number;
}

interface Pending {
  intakeAt: number;
  sentAt: number | null;
  acked: boolean;
  filled: boolean;
}

/** The service's metrics and the hooks that move them. */
export class ServiceMetrics {
  /** The registry `GET /metrics` renders. */
  readonly registry: Registry = new Registry();
  #now: () => number;
  #portfolioId: string;
  #ttl: number;
  #pending = new Map<string, Pending>();
  #sources: MetricSources = {};
  #seen = { redisFailures: 0, wsMessages: 0, reconnects: -1, rabbitConnected: null as boolean | null };

  #orders: Counter<"source" | "outcome">;
  #rejects: Counter<"stage" | "reason">;
  #cancels: Counter<"outcome">;
  #updates: Counter<"status">;
  #intakeToSend: Histogram;
  #sendToAck: Histogram;
  #sendToFill: Histogram;
  #connected: Gauge;
  #phase: Gauge<"phase">;
  #reconnects: Counter;
  #alarm: Gauge;
  #sinkErrors: Counter<"sink">;
  #wsMessages: Counter;
  #httpRequests: Counter<"method" | "route" | "status">;
  #httpDuration: Histogram<"method" | "route">;

  constructor(options: ServiceMetricsOptions) {
    this.#now = options.now ?? Date.now;
    this.#portfolioId = options.portfolioId;
    this.#ttl = options.pendingTtlMs ?? 3_600_000;
    const registers = [this.registry];
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#orders = new Counter({
      name: "tbc_orders_total",
      help: "Insert requests by source and outcome.",
      labelNames: ["source", "outcome"],
      registers,
    });
    this.#rejects = new Counter({
      name: "tbc_order_rejects_total",
      help: "Orders refused before sending (stage=intake, reason=rule code) or rejected by the broker.",
      labelNames: ["stage", "reason"],
      registers,
    });
    this.#cancels = new Counter({
      name: "tbc_cancels_total",
      help: "Cancel requests by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.#updates = new Counter({
      name: "tbc_order_updates_total",
      help: "Order state changes recorded, by new status.",
      labelNames: ["status"],
      registers,
    });
    const buckets = [...LATENCY_BUCKETS];
    this.#intakeToSend = new Histogram({
      name: "tbc_order_intake_to_send_seconds",
      help: "Order request received to insert written to the broker.",
      buckets,
      registers,
    });
    this.#sendToAck = new Histogram({
      name: "tbc_order_send_to_ack_seconds",
      help: "Insert sent to the broker's first answer (accepted or rejected).",
      buckets,
      registers,
    });
    this.#sendToFill = new Histogram({
      name: "tbc_order_send_to_first_fill_seconds",
      help: "Insert sent to its first fill.",
      buckets,
      registers,
    });
    this.#connected = new Gauge({
      name: "tbc_broker_connected",
      help: "1 when the broker connection is ready to trade.",
      registers,
    });
    this.#phase = new Gauge({
      name: "tbc_broker_phase",
      help: "1 for the broker connection's current phase.",
      labelNames: ["phase"],
      registers,
    });
    for (const p of PHASES) this.#phase.set({ phase: p }, p === "stopped" ? 1 : 0);
    this.#reconnects = new Counter({
      name: "tbc_broker_reconnects_total",
      help: "Broker reconnections.",
      registers,
    });
    this.#alarm = new Gauge({
      name: "tbc_broker_alarm",
      help: "1 when the broker has not been ready for longer than the alarm threshold.",
      registers,
    });
    new Gauge({
      name: "tbc_snapshot_age_seconds",
      help:
        "Age of the live view: 0 while the broker is ready, else seconds since last confirmed; -1 before any.",
      registers,
      collect() {
        // one clock reading for both: while ready the age is exactly 0, not the time between two readings
        const now = self.#now();
        const at = self.#sources.confirmedAt?.(now) ?? 0;
        this.set(at > 0 ? Math.max(0, (now - at) / 1000) : -1);
      },
    });
    new Gauge({
      name: "tbc_broker_last_data_age_seconds",
      help: "Seconds since the last frame from the broker; -1 before any.",
      registers,
      collect() {
        const at = self.#sources.brokerState?.().last_data_at ?? 0;
        this.set(at > 0 ? Math.max(0, (self.#now() - at) / 1000) : -1);
      },
    });
    this.#sinkErrors = new Counter({
      name: "tbc_sink_errors_total",
      help: "Errors of redis (failed writes), postgresql (failed writes) and rabbitmq (connection losses).",
      labelNames: ["sink"],
      registers,
      collect() {
        const r = self.#sources.redis?.();
        if (r && r.failures > self.#seen.redisFailures) {
          this.inc({ sink: "redis" }, r.failures - self.#seen.redisFailures);
          self.#seen.redisFailures = r.failures;
        }
      },
    });
    new Gauge({
      name: "tbc_sink_up",
      help: "1 when the sink works (configured sinks only).",
      labelNames: ["sink"],
      registers,
      collect() {
        this.reset();
        const s = self.#sources;
        if (s.redis) this.set({ sink: "redis" }, s.redis().ok ? 1 : 0);
        if (s.rabbitmq) this.set({ sink: "rabbitmq" }, s.rabbitmq().connected ? 1 : 0);
        if (s.postgresql) this.set({ sink: "postgresql" }, s.postgresql().ok ? 1 : 0);
      },
    });
    const burstGauge = (name: string, help: string, value: (b: BurstStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const b = self.#sources.bursts?.();
          this.set(b ? value(b) : 0);
        },
      });
    burstGauge(
      "tbc_order_burst_seconds_today",
      "Seconds of this trading day with at least 10 inserts + cancels.",
      (b) => b.bursts_today,
    );
    burstGauge(
      "tbc_order_actions_max_per_second_today",
      "Most inserts + cancels sent in one second this trading day.",
      (b) => b.max_per_second_today,
    );
    burstGauge("tbc_order_actions_today", "Inserts + cancels sent this trading day.", (b) => b.actions_today);
    burstGauge(
      "tbc_order_burst_trigger_reached",
      "1 once the burst seconds reach the daily reporting trigger.",
      (b) => b.trigger_reached ? 1 : 0,
    );
    new Gauge({
      name: "tbc_ws_clients",
      help: "Open /ws subscribers.",
      registers,
      collect() {
        this.set(self.#sources.ws?.().clients ?? 0);
      },
    });
    this.#wsMessages = new Counter({
      name: "tbc_ws_messages_total",
      help: "Messages handed to /ws subscribers.",
      registers,
      collect() {
        const sent = self.#sources.ws?.().messages_sent ?? 0;
        if (sent > self.#seen.wsMessages) {
          this.inc(sent - self.#seen.wsMessages);
          self.#seen.wsMessages = sent;
        }
      },
    });
    this.#httpRequests = new Counter({
      name: "tbc_http_requests_total",
      help: "Answered HTTP requests.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: "tbc_http_request_duration_seconds",
      help: "HTTP request duration.",
      labelNames: ["method", "route"],
      buckets,
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Set the values read at scrape time (merged with earlier ones). */
  setSources(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  /** The Prometheus text exposition. */
  async render(): Promise<string> {
    return await this.registry.metrics();
  }

  /** The content type of {@link render}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** An insert request for `orderId` arrived (REST or RabbitMQ). */
  intake(orderId: string): void {
    this.#prune();
    const brokerOrderId = this.#brokerId(orderId);
    if (brokerOrderId === null) return; // not a usable id: it will be refused
    if (!this.#pending.has(brokerOrderId)) {
      this.#pending.set(brokerOrderId, { intakeAt: this.#now(), sentAt: null, acked: false, filled: false });
    }
  }

  /** What became of an insert request (`orderId`: the request's id, when it had a usable one). */
  submitOutcome(outcome: SubmitOutcome, source: string, orderId?: string): void {
    const kind = outcome.kind === "accepted" && outcome.duplicate ? "duplicate" : outcome.kind;
    this.#orders.inc({ source, outcome: kind });
    if (outcome.kind === "refused") this.#rejects.inc({ stage: "intake", reason: outcome.refusal.code });
    if (outcome.kind === "invalid") this.#rejects.inc({ stage: "intake", reason: "INVALID_REQUEST" });
    if (outcome.kind === "conflict") this.#rejects.inc({ stage: "intake", reason: "ORDER_ID_CONFLICT" });
    if (outcome.kind === "unavailable") this.#sinkErrors.inc({ sink: "postgresql" });
    if (outcome.kind !== "accepted" || outcome.duplicate) {
      // nothing (new) was sent: forget the pending measurement
      const id = orderId === undefined ? null : this.#brokerId(orderId);
      if (id && this.#pending.get(id)?.sentAt === null) this.#pending.delete(id);
    }
  }

  /** What became of a cancel request. */
  cancelOutcome(outcome: CancelOutcome): void {
    this.#cancels.inc({ outcome: outcome.kind });
    if (outcome.kind === "unavailable") this.#sinkErrors.inc({ sink: "postgresql" });
  }

  /** The send gate wrote an insert or a cancel to the broker (`SendGate` `onSent`). */
  sent(kind: "insert" | "cancel", brokerOrderId: string): void {
    if (kind !== "insert") return;
    const p = this.#pending.get(brokerOrderId);
    const now = this.#now();
    if (p && p.sentAt === null) {
      p.sentAt = now;
      this.#intakeToSend.observe((now - p.intakeAt) / 1000);
    }
  }

  /** The tracker recorded an order change (`OrderTracker` `onUpdate`). */
  orderUpdate(record: OrderRecord, update: OrderUpdate): void {
    this.#updates.inc({ status: update.status });
    const id = update.fields.broker_order_id ?? record.broker_order_id;
    if (update.status === "REJECTED" && id) {
      const reason = rejectReasonCode(update.fields.reject_reason ?? record.reject_reason);
      const p = this.#pending.get(id);
      // a reject after the send (or of an order of an earlier run) came from the broker/exchange
      if (!p || p.sentAt !== null) this.#rejects.inc({ stage: "broker", reason });
    }
    if (!id) return;
    const p = this.#pending.get(id);
    if (!p || p.sentAt === null) return;
    const now = this.#now();
    if (!p.acked && ACK_STATUSES.has(update.status)) {
      p.acked = true;
      this.#sendToAck.observe((now - p.sentAt) / 1000);
    }
    const filled = update.fields.filled_quantity ?? 0;
    if (!p.filled && (filled > 0 || update.status === "PARTIALLY_FILLED" || update.status === "FILLED")) {
      p.filled = true;
      this.#sendToFill.observe((now - p.sentAt) / 1000);
    }
    if (["FILLED", "CANCELED", "REJECTED"].includes(update.status)) this.#pending.delete(id);
  }

  /** The broker connection's state changed. */
  brokerState(state: BrokerState): void {
    this.#connected.set(state.ready ? 1 : 0);
    for (const p of PHASES) this.#phase.set({ phase: p }, p === state.phase ? 1 : 0);
    this.#alarm.set(state.alarm ? 1 : 0);
    if (this.#seen.reconnects >= 0 && state.reconnects > this.#seen.reconnects) {
      this.#reconnects.inc(state.reconnects - this.#seen.reconnects);
    }
    this.#seen.reconnects = Math.max(this.#seen.reconnects, state.reconnects);
  }

  /** The RabbitMQ intake's connection state changed (counts losses). */
  rabbitmqState(connected: boolean): void {
    if (this.#seen.rabbitConnected === true && !connected) this.#sinkErrors.inc({ sink: "rabbitmq" });
    this.#seen.rabbitConnected = connected;
  }

  /** A write to `sink` failed (e.g. the tracker's order writes). */
  sinkError(sink: "redis" | "postgresql" | "rabbitmq"): void {
    this.#sinkErrors.inc({ sink });
  }

  /** An HTTP request was answered. */
  httpRequest(info: RequestInfo): void {
    this.#httpRequests.inc({ method: info.method, route: info.route, status: String(info.status) });
    this.#httpDuration.observe({ method: info.method, route: info.route }, info.durationMs / 1000);
  }

  /** Pending latency measurements (tests). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #brokerId(orderId: string): string | null {
    try {
      return deriveBrokerOrderId(this.#portfolioId, orderId);
    } catch {
      return null;
    }
  }

  #prune(): void {
    if (this.#pending.size < 1000) return;
    const cutoff = this.#now() - this.#ttl;
    for (const [id, p] of this.#pending) if (p.intakeAt < cutoff) this.#pending.delete(id);
  }
}

/** A bounded label for a reject reason (`RULE_CODE: text` → `RULE_CODE`; free text → `BROKER`). */
export function rejectReasonCode(reason: string | null | undefined): string {
  const m = /^([A-Z][A-Z0-9_]{1,40}):/.exec(reason ?? "");
  return m ? m[1] : "BROKER";
}

/**
 * Observe every request `executor` handles, REST and RabbitMQ alike: wraps its `submit` and `cancel`
 * (intake time, outcome). Returns a function that restores the originals.
 */
export function observeExecutor(executor: OrderExecutor, metrics: ServiceMetrics): () => void {
  const submit = executor.submit;
  const cancel = executor.cancel;
  const wrappedSubmit: OrderExecutor["submit"] = (parsed, source) => {
    const orderId = parsed.kind === "insert" ? parsed.request.order_id : undefined;
    if (orderId !== undefined) metrics.intake(orderId);
    return submit.call(executor, parsed, source).then((outcome) => {
      metrics.submitOutcome(outcome, source, orderId);
      return outcome;
    });
  };
  const wrappedCancel: OrderExecutor["cancel"] = (request) =>
    cancel.call(executor, request).then((outcome) => {
      metrics.cancelOutcome(outcome);
      return outcome;
    });
  Object.defineProperty(executor, "submit", { value: wrappedSubmit, configurable: true, writable: true });
  Object.defineProperty(executor, "cancel", { value: wrappedCancel, configurable: true, writable: true });
  return () => {
    delete (executor as unknown as Record<string, unknown>).submit;
    delete (executor as unknown as Record<string, unknown>).cancel;
  };
}
