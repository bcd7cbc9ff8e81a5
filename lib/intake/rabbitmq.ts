/**
 * The RabbitMQ intake: consumes order requests from the seed queue and hands each delivery to a handler,
 * acknowledging only after the handler says so (contract §2; the predecessor acked before processing and
 * dropped bad messages — lessons §0 — this never does either).
 *
 * Topology, declared on every (re)connect ({@link declareIntakeTopology}):
 * - the seed durable **topic** exchange `order_request_exchange`;
 * - the seed durable queue `order_request_queue`, bound with `order_request_routing_key` (`{portfolio_id}`
 *   filled in). It is declared with **no arguments** (no `x-dead-letter-exchange`, no `x-queue-type`):
 *   declaring an existing queue with different arguments fails with PRECONDITION_FAILED, so adding them
 *   would break a deployed queue. Migration note: nothing to migrate, an existing queue works as is. And
 *   the other way round: a queue (or exchange) that already exists with arguments of its own — an operator
 *   made it quorum or gave it `x-dead-letter-exchange` — fails even a plain declare (406, checked on
 *   RabbitMQ 3.10), so on 406 it is only checked passively and used as it is (logged);
 * - a durable topic dead-letter exchange (`dead_letter_exchange`, default `<exchange>.dead`) and a durable
 *   dead-letter queue (`dead_letter_queue`, default `<queue>.dead`) bound to it with `#`.
 *
 * Dead-lettering is done by this consumer, not by the broker: the original body is published to the
 * dead-letter exchange (same routing key, persistent, original properties and headers kept) with the headers
 * `x-reject-reason`, `x-reject-fields` (JSON array of `{field, message}`), `x-original-routing-key`,
 * `x-original-exchange`, `x-rejected-at` (ISO-8601), `x-portfolio-id`, on a **confirm** channel, `mandatory`
 * so an unroutable publish counts as a failure; only after the broker confirms is the original acked. A crash
 * between the two can leave a duplicate in the dead-letter queue, never lose the message. If the publish
 * fails the original is requeued.
 *
 * Delivery handling: manual ack, `prefetch` deliveries at once, so up to `prefetch` handler calls run
 * concurrently. The handler's {@link IntakeOutcome} decides: `ack` → ack; `dead_letter` → as above;
 * `requeue` (a transient failure such as the database being down) → nack with requeue after
 * `requeueDelayMs`. A handler that throws is treated as `requeue` (logged), never acked. Poison protection:
 * redeliveries are counted in memory per (message-id, body SHA-256) — or taken from a quorum queue's
 * `x-delivery-count` header when larger — and a delivery redelivered more than `maxRedeliveries` times (5)
 * is dead-lettered with reason `redelivery limit` without calling the handler. The count is lost on restart
 * (a classic queue keeps none), which only delays the limit. A delivery whose channel died before the handler
 * finished is neither acked nor nacked: the broker redelivers it (`redelivered: true`), so handlers must be
 * idempotent (the same `order_id` twice places one order).
 *
 * Connection: plain `amqp.connect` with our own loop (jittered exponential backoff from
 * `reconnect_initial_ms` to `reconnect_max_ms`, forever), heartbeats (`?heartbeat=<heartbeat_s>` unless the
 * URL has one), a `connection_name` client property (visible in `rabbitmqctl list_connections`). Any channel
 * or connection loss closes the whole connection and starts over, re-declaring the topology. amqplib's
 * `recovery` option was not used: channels made outside its `setup` die and a throwing listener loops it;
 * an explicit loop keeps the state for /health obvious.
 *
 * @module
 */
import amqp from "amqplib";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import { Buffer } from "node:buffer";
import { createHash, randomUUID } from "node:crypto";
import { fillPortfolioId, type RabbitmqConfig, redactUrl } from "../config.ts";
import { getLogger, type Logger } from "../log.ts";
import type { FieldError } from "../orders/types.ts";

/** One delivery, as the handler sees it. */
export interface IntakeDelivery {
  /** The message body (a Node `Buffer`, which is a `Uint8Array`). */
  body: Uint8Array;
  /** The AMQP `message-id` property, when the publisher set one. */
  messageId?: string;
  /** True when the broker delivered this message before (to us or another consumer). */
  redelivered: boolean;
  /** How many times this message was redelivered, as far as this process knows (0 on a first delivery). */
  redeliveries: number;
  /** AMQP headers (empty object when none). */
  headers: Record<string, unknown>;
  /** The routing key it was published with. */
  routingKey: string;
  /** The exchange it was published to. */
  exchange: string;
}

/** What to do with a delivery once the handler is done. */
export type IntakeOutcome =
  | { action: "ack" }
  | { action: "dead_letter"; reason: string; fields?: FieldError[] }
  | {
    action: "requeue";
    reason: string;
    /**
     * The service cannot take requests right now (broker reconnecting, standby instance): the message is
     * fine and must wait. A transient requeue does not count towards the poison limit.
     */
    transient?: boolean;
  };

/** Handles one delivery; must be idempotent (a delivery can come again after a connection loss). */
export type IntakeHandler = (delivery: IntakeDelivery) => Promise<IntakeOutcome>;

/** `rabbitmq` config plus this service's portfolio. */
export type RabbitIntakeConfig = RabbitmqConfig & { portfolio_id: string };

/** The names the intake declares. */
export interface IntakeTopology {
  exchange: string;
  queue: string;
  /** The binding key with `{portfolio_id}` filled in. */
  routingKey: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

/** For /health: connection status and counters since start. */
export interface IntakeState {
  /** Connected with the topology declared. */
  connected: boolean;
  /** A consumer is active (connected and not paused). */
  consuming: boolean;
  paused: boolean;
  /** ISO-8601 time of the last change of `connected`, null before the first attempt. */
  since: string | null;
  /** Active consumers of this intake (0 or 1). */
  consumers: number;
  /** Deliveries whose handling has not finished. */
  in_flight: number;
  last_error: string | null;
  /** Connections made after the first one. */
  reconnects: number;
  delivered: number;
  acked: number;
  dead_lettered: number;
  requeued: number;
}

/** Options for {@link RabbitIntake}. */
export interface RabbitIntakeOptions {
  /** Default: the `intake.rabbitmq` logger. */
  logger?: Logger;
  /** Called with a fresh state whenever connected/consuming/paused/last_error changes. */
  onState?: (state: IntakeState) => void;
  /** A delivery redelivered more than this many times is dead-lettered unseen (default 5). */
  maxRedeliveries?: number;
  /** Wait before a requeue nack (default 1000 ms), so a transient failure does not spin. */
  requeueDelayMs?: number;
  /** `stop()` waits this long for in-flight handlers (default 10 000 ms); the rest are redelivered. */
  stopTimeoutMs?: number;
  /** `connection_name` client property (default `tqsdk-broker-connect intake <portfolio> <random>`). */
  connectionName?: string;
}

/** Resolve the names to declare from the config (`{portfolio_id}` filled in the routing key). */
export function intakeTopology(config: RabbitIntakeConfig): IntakeTopology {
  return {
    exchange: config.order_request_exchange,
    queue: config.order_request_queue,
    routingKey: fillPortfolioId(config.order_request_routing_key, config.portfolio_id),
    deadLetterExchange: config.dead_letter_exchange,
    deadLetterQueue: config.dead_letter_queue,
  };
}

/** True for a channel error 406 PRECONDITION_FAILED (an existing entity declared differently). */
function isPreconditionFailed(e: unknown): boolean {
  return (e as { code?: unknown })?.code === 406 || /PRECONDITION.FAILED/.test(errorText(e));
}

/**
 * Declare the intake's exchanges, queues and bindings (idempotent), on a channel of its own that is closed
 * afterwards. The seed queue is declared durable with no arguments. An exchange or queue that already exists
 * with other properties (a queue an operator made quorum, or gave `x-dead-letter-exchange`/`x-max-length`)
 * makes a plain declare fail with 406 PRECONDITION_FAILED: it is then only checked to exist (passively) and
 * used as it is. Returns the names that were found pre-existing with different properties.
 */
export async function declareIntakeTopology(conn: ChannelModel, topology: IntakeTopology): Promise<string[]> {
  const kept: string[] = [];
  let ch = await conn.createChannel();
  ch.on("error", () => {}); // a 406 closes the channel; the rejected promise below reports it
  async function declare(
    name: string,
    active: (c: Channel) => Promise<unknown>,
    passive: (c: Channel) => Promise<unknown>,
  ) {
    try {
      await active(ch);
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
      ch = await conn.createChannel();
      ch.on("error", () => {});
      await passive(ch);
      kept.push(name);
    }
  }
  try {
    const { exchange, queue, deadLetterExchange: dlx, deadLetterQueue: dlq } = topology;
    await declare(
      exchange,
      (c) => c.assertExchange(exchange, "topic", { durable: true }),
      (c) => c.checkExchange(exchange),
    );
    await declare(queue, (c) => c.assertQueue(queue, { durable: true }), (c) => c.checkQueue(queue));
    await ch.bindQueue(queue, exchange, topology.routingKey);
    await declare(dlx, (c) => c.assertExchange(dlx, "topic", { durable: true }), (c) => c.checkExchange(dlx));
    await declare(dlq, (c) => c.assertQueue(dlq, { durable: true }), (c) => c.checkQueue(dlq));
    await ch.bindQueue(dlq, dlx, "#");
  } finally {
    await ch.close().catch(() => {});
  }
  return kept;
}

/** Add `heartbeat=<s>` to an AMQP URL unless it already has a heartbeat. */
export function withHeartbeat(url: string, heartbeatS: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}heartbeat=${heartbeatS}`;
}

/** Reconnect delay for attempt `n` (1-based): exponential, capped, with ±25 % jitter. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.75 + random() * 0.5));
}

interface Session {
  conn: ChannelModel;
  consumeCh: Channel;
  confirmCh: ConfirmChannel;
  consumerTag: string | null;
  /** Set once the connection or a channel is gone: nothing may be acked on it any more. */
  closed: boolean;
  /** Dead-letter publishes the broker returned as unroutable (by `x-dead-letter-id`). */
  returned: Set<string>;
}

const REDELIVERY_MEMORY = 10_000;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Consumes the order-request queue. `start()` connects (and keeps retrying in the background when the
 * broker is down), `stop()` drains, `pause()`/`resume()` cancel and re-create the consumer (standby), and
 * `state()` reports for /health.
 */
export class RabbitIntake {
  /** Component name (for the lifecycle and logs). */
  readonly name = "rabbitmq intake";
  /** The names this intake declares and consumes. */
  readonly topology: IntakeTopology;
  readonly #config: RabbitIntakeConfig;
  readonly #handler: IntakeHandler;
  readonly #log: Logger;
  readonly #onState?: (state: IntakeState) => void;
  readonly #maxRedeliveries: number;
  readonly #requeueDelayMs: number;
  readonly #stopTimeoutMs: number;
  readonly #connectionName: string;

  #session: Session | null = null;
  #running = false;
  #stopping = false;
  #paused = false;
  #attempt = 0;
  #everConnected = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #connecting: Promise<boolean> | null = null;
  #inFlight = new Set<Promise<void>>();
  #sleepers = new Set<() => void>();
  #redeliveries = new Map<string, number>();
  #consumingWaiters = new Set<() => void>();
  #state: IntakeState = {
    connected: false,
    consuming: false,
    paused: false,
    since: null,
    consumers: 0,
    in_flight: 0,
    last_error: null,
    reconnects: 0,
    delivered: 0,
    acked: 0,
    dead_lettered: 0,
    requeued: 0,
  };

  /** Nothing happens until {@link RabbitIntake.start}. */
  constructor(config: RabbitIntakeConfig, handler: IntakeHandler, options: RabbitIntakeOptions = {}) {
    this.#config = config;
    this.#handler = handler;
    this.topology = intakeTopology(config);
    this.#log = options.logger ?? getLogger("intake.rabbitmq");
    this.#onState = options.onState;
    this.#maxRedeliveries = options.maxRedeliveries ?? 5;
    this.#requeueDelayMs = options.requeueDelayMs ?? 1000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.#connectionName = options.connectionName ??
      `tqsdk-broker-connect intake ${config.portfolio_id} ${randomUUID().slice(0, 8)}`;
  }

  /** The `connection_name` client property of this intake's connections. */
  get connectionName(): string {
    return this.#connectionName;
  }

  /** A snapshot for /health. */
  state(): IntakeState {
    return { ...this.#state, in_flight: this.#inFlight.size };
  }

  /**
   * Connect, declare the topology and start consuming. Resolves after the first attempt either way: when it
   * failed, `state().last_error` says why and attempts continue in the background.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    await this.#connect();
  }

  /** Resolve once a consumer is active (rejects after `timeoutMs`, default 30 s). */
  whenConsuming(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state.consuming) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#consumingWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#consumingWaiters.delete(done);
        reject(
          new Error(`RabbitMQ intake not consuming after ${timeoutMs} ms: ${this.#state.last_error ?? "?"}`),
        );
      }, timeoutMs);
      this.#consumingWaiters.add(done);
    });
  }

  /** Stop consuming (cancel the consumer) but stay connected; in-flight deliveries still finish. */
  async pause(): Promise<void> {
    this.#paused = true;
    this.#update({ paused: true });
    const s = this.#session;
    if (s && s.consumerTag !== null) {
      const tag = s.consumerTag;
      s.consumerTag = null;
      this.#update({ consuming: false, consumers: 0 });
      try {
        await s.consumeCh.cancel(tag);
      } catch (e) {
        this.#log.warn("cancel of the RabbitMQ consumer failed: {error}", { error: errorText(e) });
      }
    }
  }

  /** Re-create the consumer after {@link RabbitIntake.pause}. */
  async resume(): Promise<void> {
    this.#paused = false;
    this.#update({ paused: false });
    const s = this.#session;
    if (s && !s.closed && s.consumerTag === null) {
      try {
        await this.#consume(s);
      } catch (e) {
        this.#fail(s, `consume failed: ${errorText(e)}`);
      }
    }
  }

  /**
   * Cancel the consumer, wait (at most `stopTimeoutMs`) for in-flight handlers — pending requeue delays are
   * cut short — then close the channels and the connection. Deliveries still unfinished are redelivered by
   * the broker.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#stopping = true;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    if (this.#connecting) await this.#connecting.catch(() => false);
    const s = this.#session;
    if (s && s.consumerTag !== null && !s.closed) {
      const tag = s.consumerTag;
      s.consumerTag = null;
      try {
        await s.consumeCh.cancel(tag);
      } catch { /* the connection is going anyway */ }
    }
    this.#update({ consuming: false, consumers: 0 });
    for (const wake of this.#sleepers) wake();
    if (this.#inFlight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.#inFlight]).then(() => false),
        new Promise<boolean>((r) => timer = setTimeout(() => r(true), this.#stopTimeoutMs)),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#log.warn(
          "stop: {count} RabbitMQ deliveries still in flight after {ms} ms; the broker redelivers them",
          {
            count: this.#inFlight.size,
            ms: this.#stopTimeoutMs,
          },
        );
      }
    }
    if (s) {
      s.closed = true;
      // Channels first: amqplib multiplexes per-channel frame streams, so a connection.close written right
      // after an ack can overtake it; channel.close travels behind the acks and its close-ok confirms them.
      for (const ch of [s.consumeCh, s.confirmCh]) {
        try {
          await ch.close();
        } catch { /* already closed */ }
      }
      try {
        await s.conn.close();
      } catch { /* already closed */ }
    }
    this.#session = null;
    this.#running = false;
    this.#update({ connected: false, since: new Date().toISOString() });
  }

  // -------------------------------------------------------------------------------------------------------
  // Connection
  // -------------------------------------------------------------------------------------------------------

  #update(patch: Partial<IntakeState>): void {
    const before = this.#state;
    this.#state = { ...before, ...patch };
    const changed = (["connected", "consuming", "paused", "last_error"] as const).some((k) =>
      before[k] !== this.#state[k]
    );
    if (this.#state.consuming) {
      for (const wake of [...this.#consumingWaiters]) wake();
    }
    if (changed && this.#onState) {
      try {
        this.#onState(this.state());
      } catch (e) {
        this.#log.warn("onState listener threw: {error}", { error: errorText(e) });
      }
    }
  }

  #connect(): Promise<boolean> {
    const attempt = this.#connectOnce().finally(() => {
      this.#connecting = null;
    });
    this.#connecting = attempt;
    return attempt;
  }

  async #connectOnce(): Promise<boolean> {
    const url = withHeartbeat(this.#config.url, this.#config.heartbeat_s);
    let conn: ChannelModel | null = null;
    let current: Session | null = null;
    try {
      conn = await amqp.connect(url, {
        clientProperties: { connection_name: this.#connectionName },
        timeout: 10_000,
      });
      const c = conn;
      const consumeCh = await c.createChannel();
      const confirmCh = await c.createConfirmChannel();
      const session: Session = {
        conn: c,
        consumeCh,
        confirmCh,
        consumerTag: null,
        closed: false,
        returned: new Set(),
      };
      current = session;
      c.on("error", (e: Error) => this.#update({ last_error: `connection error: ${e.message}` }));
      c.on(
        "close",
        (e?: Error) => this.#onClosed(session, e ? `connection closed: ${e.message}` : "connection closed"),
      );
      for (const [name, ch] of [["consume", consumeCh], ["confirm", confirmCh]] as const) {
        ch.on("error", (e: Error) => this.#update({ last_error: `${name} channel error: ${e.message}` }));
        // Deferred: when the whole connection goes, its close event (with the reason) comes right after.
        ch.on("close", () => setTimeout(() => this.#fail(session, `${name} channel closed`), 0));
      }
      confirmCh.on("return", (m: ConsumeMessage) => {
        const id = m.properties.headers?.["x-dead-letter-id"];
        if (typeof id === "string") session.returned.add(id);
      });
      const kept = await declareIntakeTopology(c, this.topology);
      if (kept.length > 0) {
        this.#log.warn("RabbitMQ {names} exist with other properties (arguments, type): used as they are", {
          names: kept.join(", "),
        });
      }
      await consumeCh.prefetch(this.#config.prefetch);
      if (this.#stopping) {
        session.closed = true;
        await c.close().catch(() => {});
        return false;
      }
      this.#session = session;
      if (this.#everConnected) this.#update({ reconnects: this.#state.reconnects + 1 });
      this.#everConnected = true;
      this.#attempt = 0;
      this.#update({ connected: true, since: new Date().toISOString(), last_error: null });
      this.#log.info("RabbitMQ intake connected to {url}: queue {queue} bound to {exchange} with {key}", {
        url: redactUrl(this.#config.url),
        queue: this.topology.queue,
        exchange: this.topology.exchange,
        key: this.topology.routingKey,
      });
      if (!this.#paused) await this.#consume(session);
      return true;
    } catch (e) {
      const why = `connect failed: ${errorText(e)}`;
      this.#log.warn("RabbitMQ intake {why}", { why });
      if (current) current.closed = true; // its late close events must not touch a later session
      if (conn) await conn.close().catch(() => {});
      if (current !== null && this.#session === current) this.#session = null;
      this.#update({
        connected: false,
        consuming: false,
        consumers: 0,
        last_error: why,
        since: this.#state.connected || this.#state.since === null
          ? new Date().toISOString()
          : this.#state.since,
      });
      this.#scheduleReconnect();
      return false;
    }
  }

  #scheduleReconnect(): void {
    if (this.#stopping || !this.#running || this.#reconnectTimer !== null) return;
    this.#attempt++;
    const delay = backoffDelay(
      this.#attempt,
      this.#config.reconnect_initial_ms,
      this.#config.reconnect_max_ms,
    );
    this.#log.info("RabbitMQ intake reconnects in {delay} ms (attempt {attempt})", {
      delay,
      attempt: this.#attempt,
    });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (!this.#stopping) this.#connect();
    }, delay);
  }

  /** A channel died or the consumer was cancelled: drop the whole connection and start over. */
  #fail(session: Session, why: string): void {
    if (session.closed) return;
    this.#update({ last_error: why });
    session.conn.close().catch(() => {}); // its "close" event does the rest
    // If close() cannot emit (already half-closed), make sure we still recover.
    this.#onClosed(session, why);
  }

  #onClosed(session: Session, why: string): void {
    if (session.closed) return;
    session.closed = true;
    session.consumerTag = null;
    // Only the current session drives the state; one that never got that far is handled by its connect.
    if (this.#session !== session) return;
    this.#session = null;
    if (this.#stopping) return;
    this.#log.warn("RabbitMQ intake lost its connection: {why}", { why });
    this.#update({
      connected: false,
      consuming: false,
      consumers: 0,
      since: new Date().toISOString(),
      last_error: why,
    });
    this.#scheduleReconnect();
  }

  async #consume(session: Session): Promise<void> {
    const { consumerTag } = await session.consumeCh.consume(
      this.topology.queue,
      (msg) => {
        if (msg === null) {
          this.#fail(session, "consumer cancelled by the broker (queue deleted?)");
          return;
        }
        this.#onDelivery(session, msg);
      },
      { noAck: false },
    );
    if (session.closed) return;
    session.consumerTag = consumerTag;
    this.#update({ consuming: true, consumers: 1 });
  }

  // -------------------------------------------------------------------------------------------------------
  // Deliveries
  // -------------------------------------------------------------------------------------------------------

  /**
   * The delivery's key in the redelivery memory (message id and a SHA-256 of the body), computed on first
   * use: a first delivery needs it only when the memory holds any message, so the usual delivery skips the
   * hash.
   */
  #redeliveryKey(msg: ConsumeMessage): () => string {
    let key: string | null = null;
    return () =>
      key ??= `${msg.properties.messageId ?? ""}:${createHash("sha256").update(msg.content).digest("hex")}`;
  }

  /** Forget the delivery's redelivery count (nothing to do while the memory is empty). */
  #forgetRedelivery(key: () => string): void {
    if (this.#redeliveries.size > 0) this.#redeliveries.delete(key());
  }

  #countRedelivery(key: () => string, msg: ConsumeMessage): number {
    const header = Number(msg.properties.headers?.["x-delivery-count"] ?? 0);
    if (!msg.fields.redelivered) {
      this.#forgetRedelivery(key);
      return Number.isFinite(header) ? header : 0;
    }
    const k = key();
    const count = Math.max((this.#redeliveries.get(k) ?? 0) + 1, Number.isFinite(header) ? header : 0);
    this.#redeliveries.delete(k); // re-insert at the end: the map is kept in recency order
    this.#redeliveries.set(k, count);
    if (this.#redeliveries.size > REDELIVERY_MEMORY) {
      const oldest = this.#redeliveries.keys().next().value;
      if (oldest !== undefined) this.#redeliveries.delete(oldest);
    }
    return count;
  }

  #onDelivery(session: Session, msg: ConsumeMessage): void {
    this.#update({ delivered: this.#state.delivered + 1 });
    const task = this.#handle(session, msg).catch((e) => {
      this.#log.error("RabbitMQ delivery handling failed unexpectedly: {error}", { error: errorText(e) });
    });
    this.#inFlight.add(task);
    task.finally(() => this.#inFlight.delete(task));
  }

  async #handle(session: Session, msg: ConsumeMessage): Promise<void> {
    const key = this.#redeliveryKey(msg);
    const redeliveries = this.#countRedelivery(key, msg);
    if (redeliveries > this.#maxRedeliveries) {
      this.#log.warn("RabbitMQ message {id} redelivered {n} times: dead-lettered unhandled", {
        id: msg.properties.messageId ?? key().slice(-16),
        n: redeliveries,
      });
      await this.#deadLetter(session, msg, key, {
        reason: "redelivery limit",
        fields: [{
          field: "$",
          message: `redelivered ${redeliveries} times (limit ${this.#maxRedeliveries})`,
        }],
      });
      return;
    }
    const delivery: IntakeDelivery = {
      body: msg.content,
      messageId: msg.properties.messageId ?? undefined,
      redelivered: msg.fields.redelivered,
      redeliveries,
      headers: { ...(msg.properties.headers ?? {}) },
      routingKey: msg.fields.routingKey,
      exchange: msg.fields.exchange,
    };
    let outcome: IntakeOutcome;
    try {
      outcome = await this.#handler(delivery);
    } catch (e) {
      this.#log.error("RabbitMQ handler threw (message requeued): {error}", { error: errorText(e) });
      outcome = { action: "requeue", reason: `handler threw: ${errorText(e)}` };
    }
    switch (outcome?.action) {
      case "ack":
        if (this.#settle(session, msg, "ack")) {
          this.#forgetRedelivery(key);
          this.#update({ acked: this.#state.acked + 1 });
        }
        return;
      case "dead_letter":
        await this.#deadLetter(session, msg, key, outcome);
        return;
      case "requeue":
        if (outcome.transient) this.#forgetRedelivery(key);
        await this.#requeue(session, msg, outcome.reason);
        return;
      default:
        this.#log.error("RabbitMQ handler returned an unknown outcome {outcome}: requeued", {
          outcome: JSON.stringify(outcome) ?? String(outcome),
        });
        await this.#requeue(session, msg, "unknown handler outcome");
    }
  }

  /** Ack or nack-requeue on the delivery's own channel; false when that channel is gone (broker redelivers). */
  #settle(session: Session, msg: ConsumeMessage, how: "ack" | "requeue"): boolean {
    if (session.closed) {
      this.#log.warn("RabbitMQ channel gone before {how} of delivery {tag}: the broker redelivers it", {
        how,
        tag: msg.fields.deliveryTag,
      });
      return false;
    }
    try {
      if (how === "ack") session.consumeCh.ack(msg);
      else session.consumeCh.nack(msg, false, true);
      return true;
    } catch (e) {
      this.#log.warn("RabbitMQ {how} failed: {error}", { how, error: errorText(e) });
      return false;
    }
  }

  async #requeue(session: Session, msg: ConsumeMessage, reason: string): Promise<void> {
    this.#log.warn("RabbitMQ delivery requeued in {ms} ms: {reason}", { ms: this.#requeueDelayMs, reason });
    await this.#sleep(this.#requeueDelayMs);
    if (this.#settle(session, msg, "requeue")) this.#update({ requeued: this.#state.requeued + 1 });
  }

  /** Sleep, cut short by stop(). */
  #sleep(ms: number): Promise<void> {
    if (this.#stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  async #deadLetter(
    session: Session,
    msg: ConsumeMessage,
    key: () => string,
    outcome: { reason: string; fields?: FieldError[] },
  ): Promise<void> {
    if (session.closed) {
      this.#settle(session, msg, "requeue"); // logs; the broker redelivers
      return;
    }
    const id = randomUUID();
    const p = msg.properties;
    const headers: Record<string, unknown> = {
      ...(p.headers ?? {}),
      "x-reject-reason": outcome.reason,
      "x-reject-fields": JSON.stringify(outcome.fields ?? []),
      "x-original-routing-key": msg.fields.routingKey,
      "x-original-exchange": msg.fields.exchange,
      "x-rejected-at": new Date().toISOString(),
      "x-portfolio-id": this.#config.portfolio_id,
      "x-dead-letter-id": id,
    };
    try {
      await new Promise<void>((resolve, reject) => {
        session.confirmCh.publish(
          this.topology.deadLetterExchange,
          msg.fields.routingKey,
          Buffer.from(msg.content),
          {
            persistent: true,
            mandatory: true,
            headers,
            contentType: p.contentType ?? undefined,
            contentEncoding: p.contentEncoding ?? undefined,
            messageId: p.messageId ?? undefined,
            correlationId: p.correlationId ?? undefined,
            timestamp: p.timestamp ?? undefined,
            appId: p.appId ?? undefined,
            type: p.type ?? undefined,
          },
          (err: unknown) => {
            if (err) reject(err instanceof Error ? err : new Error(String(err)));
            else if (session.returned.delete(id)) {
              reject(new Error(`unroutable: no queue bound to ${this.topology.deadLetterExchange}`));
            } else resolve();
          },
        );
      });
    } catch (e) {
      this.#log.error("RabbitMQ dead-letter publish failed ({error}): message requeued", {
        error: errorText(e),
      });
      this.#update({ last_error: `dead-letter publish failed: ${errorText(e)}` });
      await this.#requeue(session, msg, "dead-letter publish failed");
      return;
    }
    if (this.#settle(session, msg, "ack")) {
      this.#forgetRedelivery(key);
      this.#update({ dead_lettered: this.#state.dead_lettered + 1 });
      this.#log.warn("RabbitMQ message dead-lettered to {dlx}: {reason}", {
        dlx: this.topology.deadLetterExchange,
        reason: outcome.reason,
      });
    }
  }
}
