/**
 * The service (`serve`): builds every component from the configuration and gives the lifecycle their
 * start order. One order's path through what is built here:
 *
 * ```
 * RabbitMQ / REST → request_schema → OrderExecutor → SendGate (lease, readiness, rules) → Broker (tqsdk)
 * Broker events → OrderTracker → PostgreSQL (order_history, order_event, trade)
 *               → LiveView → RedisPositionWriter (Redis keys) and StreamHub (WebSocket)
 * ```
 *
 * Start: database (and migrations) → sim (in `sim` mode, unless `tq.sim_url`) → order tracker (open
 * orders of an earlier run) → live view, Redis writer and stream hub → broker → portfolio lease → HTTP →
 * RabbitMQ intake. Stop in reverse: intake first, stores last.
 *
 * @module
 */

import { Hono } from "hono";
import type { Config } from "./config.ts";
import { type Component, Lifecycle } from "./lifecycle.ts";
import { getLogger } from "./log.ts";
import { installProcessGuards } from "./process_guards.ts";
import { createBroker } from "./broker/mod.ts";
import type { Broker, BrokerEvent } from "./broker/types.ts";
import { closeDatabase, connectDatabase, type Database, describeDatabase } from "./store/pg/connect.ts";
import { migrate } from "./store/pg/migrate.ts";
import { loadCancelCounts } from "./store/pg/cancel_counts.ts";
import { type Lease, PortfolioLease, ProcessLease } from "./store/pg/lease.ts";
import { isEmbeddedConfig } from "./store/pg/connect.ts";
import { OrderStore } from "./store/pg/order_store.ts";
import { LiveView } from "./stream/live_view.ts";
import { connectLiveView } from "./stream/live_view.ts";
import { StreamHub } from "./stream/hub.ts";
import { RedisPositionWriter } from "./sinks/redis_positions.ts";
import { OrderTracker } from "./orders/tracker.ts";
import { SendGate } from "./orders/send_gate.ts";
import { OrderExecutor } from "./orders/executor.ts";
import { awaitQuote, preTradeChecks } from "./orders/pre_trade.ts";
import { PreTradeRules } from "./orders/rules/mod.ts";
import { intakeAnswer } from "./orders/outcomes.ts";
import { decodeBodyOnce, parseOrderRequest } from "./orders/request_schema.ts";
import { RabbitIntake } from "./intake/rabbitmq.ts";
import { createApiApp, type HttpServer, startHttpServer } from "./http/server.ts";
import type { HealthComponentFn } from "./http/health.ts";
import { healthRoutes } from "../routes/health.ts";
import { positionRoutes } from "../routes/positions.ts";
import { accountRoutes } from "../routes/account.ts";
import { wsRoutes } from "../routes/ws.ts";
import { orderRoutes } from "../routes/orders.ts";
import { type Sim, startSim } from "./sim/mod.ts";
import { brokerCheckDeps, KillSwitch, parseControlMessage } from "./orders/kill_switch.ts";
import { KillSwitchStore } from "./store/pg/kill_switch_store.ts";
import { parseBrokerOrderId } from "./broker/order_ids.ts";
import { formatFieldErrors } from "./orders/request_schema.ts";
import { killSwitchRoutes } from "../routes/kill_switch.ts";
import { observeExecutor, ServiceMetrics } from "./metrics.ts";
import { applyHttpMiddleware } from "./http/middleware.ts";
import { bindWarning } from "./http/auth.ts";
import { databaseHealth, exchangeTimeFromQuotes, ReachabilityProbe } from "./http/health.ts";
import { buildOpenApiDocument } from "./http/openapi.ts";
import { IntradaySeries } from "./http/page/intraday.ts";
import { metricsRoutes } from "../routes/metrics.ts";
import { docsRoutes } from "../routes/docs.ts";
import { pageRoutes } from "../routes/page.ts";

/** Test and embedding knobs of {@linkcode buildService}. */
export interface ServiceOptions {
  /** Lease polling interval (default 2000 ms). */
  leaseIntervalMs?: number;
  /** How long an order waits for its symbol's first quote (default 2000 ms). */
  quoteWaitMs?: number;
  /**
   * After a takeover on a live broker view: how long to wait before judging the orders the previous holder
   * left open, so its last sends (it stops within one lease interval of losing its session) show up first.
   * Default: the lease interval + 500 ms.
   */
  takeoverGraceMs?: number;
}

/**
 * How long the service's stop may take in all: 25 s, inside the 30 s a container gets between SIGTERM and
 * SIGKILL (`stop_grace_period` in docker-compose.yml, `docker stop -t 30`). Nine components with a 10 s
 * limit each could otherwise take 90 s.
 */
export const SERVICE_STOP_BUDGET_MS = 25_000;

/** How long the tracker keeps writing queued broker updates when the service stops. */
const TRACKER_DRAIN_MS = 5_000;
/** How long closing the database lets queries in flight finish. */
const DATABASE_CLOSE_SECONDS = 5;
/** What the stop budget keeps for the orders component: the tracker's drain, and 1 s. */
const ORDERS_STOP_RESERVE_MS = TRACKER_DRAIN_MS + 1_000;
/** What the stop budget keeps for the database: its close, and 1 s. */
const DATABASE_STOP_RESERVE_MS = DATABASE_CLOSE_SECONDS * 1_000 + 1_000;

/** The built service: its lifecycle and the parts tests and ops look at. */
export interface Service {
  lifecycle: Lifecycle;
  /** Set once started. */
  readonly http: HttpServer | null;
  readonly sim: Sim | null;
  readonly broker: Broker | null;
  readonly store: OrderStore | null;
  readonly intake: RabbitIntake | null;
  readonly lease: Lease | null;
  readonly tracker: OrderTracker | null;
  /** The kill switch (set once the order path is built). */
  readonly killSwitch: KillSwitch | null;
  /** Prometheus metrics (`GET /metrics`). */
  readonly metrics: ServiceMetrics;
  /** The HTTP app (set once the HTTP component started). */
  readonly app: Hono | null;
}

/** Build the service for `config` (nothing starts until `lifecycle.start()`). */
export function buildService(config: Config, options: ServiceOptions = {}): Service {
  const log = getLogger("app");
  const portfolioId = config.tq.portfolio_id;
  const schema = config.database.schema;
  // The whole stop stays inside a container's usual 30 s grace (compose's stop_grace_period) before SIGKILL.
  const lifecycle = new Lifecycle({ stopBudgetMs: SERVICE_STOP_BUDGET_MS });
  const metrics = new ServiceMetrics({ portfolioId });
  let httpApp: Hono | null = null;
  let unsubscribeMetrics: (() => void) | null = null;
  let series: IntradaySeries | null = null;
  const parts: {
    sql: Database | null;
    leaseSql: Database | null;
    store: OrderStore | null;
    sim: Sim | null;
    broker: Broker | null;
    tracker: OrderTracker | null;
    view: LiveView | null;
    hub: StreamHub | null;
    writer: RedisPositionWriter | null;
    lease: Lease | null;
    http: HttpServer | null;
    intake: RabbitIntake | null;
  } = {
    sql: null,
    leaseSql: null,
    store: null,
    sim: null,
    broker: null,
    tracker: null,
    view: null,
    hub: null,
    writer: null,
    lease: null,
    http: null,
    intake: null,
  };
  const need = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`${what} is not started`);
    return value;
  };

  // --- process guards (first up, last down) ---------------------------------------------------------
  let removeGuards: (() => void) | null = null;
  lifecycle.add(component("guards", () => {
    removeGuards = installProcessGuards();
    return Promise.resolve();
  }, () => {
    removeGuards?.();
    return Promise.resolve();
  }));

  // --- stores ---------------------------------------------------------------------------------------
  lifecycle.add(component("database", async () => {
    log.info("database: {database}", { database: describeDatabase(config.database, { schema }) });
    parts.sql = await connectDatabase(config.database, { schema, applicationName: "tqsdk-broker-connect" });
    const applied = await migrate(parts.sql, { schema });
    if (applied.length > 0) log.info("applied migrations {versions}", { versions: applied.join(", ") });
    parts.store = new OrderStore(parts.sql, { portfolioId });
  }, async () => {
    if (parts.sql) await closeDatabase(parts.sql, { timeoutSeconds: DATABASE_CLOSE_SECONDS });
    parts.sql = null;
  }, { minStopMs: DATABASE_STOP_RESERVE_MS }));

  // --- the local exchange -----------------------------------------------------------------------------
  const simInProcess = config.tq.run_mode === "sim" && config.tq.sim_url === "";
  if (simInProcess) {
    const simLog = getLogger("sim");
    lifecycle.add(component("sim", async () => {
      parts.sim = await startSim({
        host: config.sim.host,
        port: config.sim.port,
        clock: config.sim.clock,
        seed: config.sim.seed,
        tickMs: config.sim.tick_ms,
        accounts: config.sim.accounts,
        onLog: (level, message, props) =>
          level === "warning" ? simLog.warn(message, props ?? {}) : simLog.info(message, props ?? {}),
      });
      simLog.info("sim exchange listening on {url}", { url: parts.sim.baseUrl });
    }, async () => {
      await parts.sim?.close();
      parts.sim = null;
    }));
  }

  // --- broker, order tracking, live state -----------------------------------------------------------
  const tradingDay = () => parts.broker?.state().trading_day ?? "";
  const rules = new PreTradeRules(config.risk);
  let gate: SendGate | null = null;
  let executor: OrderExecutor | null = null;
  /**
   * Consume order requests only while they can be sent: this instance holds the lease and the broker is
   * ready. Otherwise the messages wait in RabbitMQ (the few in flight are requeued without being recorded),
   * so a reconnect never burns an order id.
   */
  let intakePaused: boolean | null = null;
  /**
   * This instance may send: it holds the lease AND has taken over the portfolio's state (open orders
   * adopted by the tracker, kill switch reloaded), see `activate` in the lease component.
   */
  let activated = false;
  const tradingActive = () => activated && (parts.lease?.held ?? false);
  const syncIntake = () => {
    const intake = parts.intake;
    if (!intake) return;
    const consume = tradingActive() && (parts.broker?.state().ready ?? false);
    if (intakePaused === !consume) return;
    intakePaused = !consume;
    const change = consume ? intake.resume() : intake.pause();
    change.catch((e) =>
      log.warn("intake {what} failed: {error}", { what: consume ? "resume" : "pause", error: String(e) })
    );
  };
  let killSwitch: KillSwitch | null = null;
  let flattenResumed = false;
  let resumeFlatten = () => {};
  let unsubscribeResume: (() => void) | null = null;
  let killSwitchStore: KillSwitchStore | null = null;
  let unsubscribeTracker: (() => void) | null = null;
  let unsubscribeView: (() => void) | null = null;

  lifecycle.add(component("orders", async () => {
    const store = need(parts.store, "database");
    const simBaseUrl = parts.sim?.baseUrl ?? (config.tq.sim_url || undefined);
    parts.broker = createBroker(config.tq, { simBaseUrl, simAccounts: config.sim.accounts });
    const broker = parts.broker;
    parts.tracker = new OrderTracker(store, {
      portfolioId,
      log: getLogger("orders.tracker"),
      onSettled: (id) => gate?.settled(id),
      onUpdate: (record, update) => metrics.orderUpdate(record, update),
      onWriteError: () => metrics.sinkError("postgresql"),
    });
    // The tracker follows orders only once this instance holds the lease (`activate` below).
    const tracker = parts.tracker;
    unsubscribeTracker = broker.subscribe((event: BrokerEvent) => tracker.handle(event));
    const checks = preTradeChecks(rules, { broker, portfolioId, now: Date.now, tradingDay });
    // The kill switch: loaded before any request is taken, checked before the pre-trade rules.
    killSwitchStore = new KillSwitchStore(need(parts.sql, "database"), { portfolioId });
    const ks = new KillSwitch(killSwitchStore, {
      portfolioId,
      log: getLogger("orders.kill_switch"),
      isActive: tradingActive,
    });
    await ks.load();
    killSwitch = ks;
    gate = new SendGate(broker, {
      isLeader: tradingActive,
      insertChecks: [ks.check(brokerCheckDeps(broker, portfolioId)), ...checks.insert],
      cancelChecks: checks.cancel,
      onSent: (kind, id, symbol) => {
        checks.onSent(kind, id, symbol);
        metrics.sent(kind, id);
      },
    });
    executor = new OrderExecutor(store, gate, tracker, {
      portfolioId,
      log: getLogger("orders"),
      tradingDay,
      prepare: (request) => awaitQuote(broker, request.symbol, options.quoteWaitMs ?? 2000),
      splitContext: (symbol) => {
        if (!broker.state().ready) return null;
        const unseen = (gate?.pending() ?? []).filter((o) =>
          o.symbol === symbol && !broker.order(o.broker_order_id)
        );
        return { position: broker.position(symbol), unseen };
      },
    });
    observeExecutor(executor, metrics);
    unsubscribeMetrics = broker.subscribe((event) => {
      if (event.type === "state") metrics.brokerState(event.state);
    });
    const exec = executor;
    // A FLATTEN in force at start (or when this instance takes over) is run again once we may send.
    resumeFlatten = () => {
      if (flattenResumed || !broker.state().ready || !tradingActive()) return;
      if (!ks.state.entries().some((e) => e.mode === "FLATTEN")) return;
      flattenResumed = true;
      ks.resumeFlatten().catch((e) =>
        log.error("kill switch: resuming FLATTEN failed: {error}", { error: (e as Error).message })
      );
    };
    unsubscribeResume = broker.subscribe((event) => {
      if (event.type !== "state") return;
      syncIntake();
      resumeFlatten();
    });
    ks.attachFlatten({
      snapshot: () => broker.snapshot(),
      quote: (symbol) => broker.quote(symbol),
      instrument: (symbol) => broker.instrument(symbol),
      awaitQuote: (symbol) => awaitQuote(broker, symbol, options.quoteWaitMs ?? 2000),
      ours: (brokerOrderId) => {
        const id = parseBrokerOrderId(brokerOrderId, portfolioId);
        return id === null ? null : id.suffix ? `${id.clientOrderId}~${id.suffix}` : id.clientOrderId;
      },
      cancel: (orderId) => exec.cancel({ order_id: orderId, portfolio_id: portfolioId, request_id: null }),
      submit: (request, source) => exec.submit({ kind: "insert", request }, source),
      maxOrderVolume: (symbol) =>
        rules.limitsFor(symbol, broker.instrument(symbol)?.product_id).max_order_volume,
    });
  }, async () => {
    unsubscribeResume?.();
    await killSwitch?.settled();
    unsubscribeMetrics?.();
    unsubscribeTracker?.();
    const left = await parts.tracker?.stop(TRACKER_DRAIN_MS);
    if (left) log.error("{count} broker update(s) could not be recorded before stopping", { count: left });
  }, { minStopMs: ORDERS_STOP_RESERVE_MS }));

  lifecycle.add(component("live", async () => {
    const broker = need(parts.broker, "broker");
    parts.view = new LiveView();
    unsubscribeView = connectLiveView(broker, parts.view);
    parts.hub = new StreamHub(parts.view);
    if (config.redis) {
      parts.writer = new RedisPositionWriter(parts.view, { portfolioId, redis: config.redis });
      await parts.writer.start();
    }
  }, async () => {
    parts.hub?.close(1001, "service stopping");
    await parts.writer?.stop();
    unsubscribeView?.();
  }));

  lifecycle.add(component("broker", async () => {
    const broker = need(parts.broker, "broker");
    await broker.start();
    log.info("broker connection started ({mode})", { mode: config.tq.run_mode });
  }, async () => {
    await parts.broker?.stop();
  }));

  lifecycle.add(component("lease", async () => {
    const leaseLog = getLogger("lease");
    const broker = need(parts.broker, "broker");
    const tracker = need(parts.tracker, "order tracker");
    const ks = need(killSwitch, "kill switch");
    let activation: Promise<void> | null = null;
    let everHeld = false;
    /**
     * The lease was gained: take over the portfolio before sending anything. The kill switch is read again
     * (another instance may have changed it), and the tracker adopts the open orders in PostgreSQL (left by
     * an earlier run or by the previous holder) and decides them from the broker's view. On a takeover with
     * the broker already logged in, wait a grace period first so the previous holder's last sends show up.
     */
    const activate = async (takeover: boolean) => {
      const live = broker.state().ready;
      if (takeover && live) {
        const grace = options.takeoverGraceMs ?? (options.leaseIntervalMs ?? 2000) + 500;
        await new Promise((r) => setTimeout(r, grace));
      }
      if (!(parts.lease?.held ?? false)) return;
      await ks.load();
      // Today's cancels per contract, so the daily cancel limit holds across a restart or takeover.
      rules.restoreCancelCounts(await loadCancelCounts(need(parts.sql, "database"), { portfolioId }));
      const adopted = await tracker.activate(() => broker.state().ready ? broker.snapshot() : null);
      if (!(parts.lease?.held ?? false)) return;
      activated = true;
      leaseLog.info("this instance is ACTIVE for portfolio {portfolio_id}: {count} open order(s) adopted", {
        portfolio_id: portfolioId,
        count: adopted,
      });
      syncIntake();
      resumeFlatten();
    };
    const onChange = (held: boolean, released?: boolean) => {
      if (held) {
        const takeover = everHeld || !isEmbeddedConfig(config.database);
        everHeld = true;
        const run = (activation ?? Promise.resolve()).then(() => activate(takeover));
        activation = run.catch((e) => {
          leaseLog.error("taking over portfolio {portfolio_id} failed: {error}", {
            portfolio_id: portfolioId,
            error: (e as Error).message,
          });
        });
      } else {
        activated = false;
        flattenResumed = false;
        if (released) {
          leaseLog.info("lease for portfolio {portfolio_id} released: the service is stopping", {
            portfolio_id: portfolioId,
          });
        } else {
          leaseLog.warn("this instance is on STANDBY for portfolio {portfolio_id}", {
            portfolio_id: portfolioId,
          });
        }
        syncIntake();
      }
    };
    if (isEmbeddedConfig(config.database)) {
      // One process owns the embedded data folder: it holds the lease.
      parts.lease = new ProcessLease({ onChange });
    } else {
      parts.leaseSql = await connectDatabase(config.database, {
        schema,
        max: 1,
        idleTimeoutSeconds: 0,
        maxLifetimeSeconds: null,
        applicationName: "tqsdk-broker-connect lease",
      });
      parts.lease = new PortfolioLease(parts.leaseSql, portfolioId, {
        intervalMs: options.leaseIntervalMs,
        onChange,
        onError: (e) => leaseLog.warn("lease: {error}", { error: e.message }),
      });
    }
    await parts.lease.start();
    // The first activation (the lease gained at start) completes before the service counts as started.
    await activation;
    if (!parts.lease.held) {
      leaseLog.warn("another instance holds portfolio {portfolio_id}: standing by", {
        portfolio_id: portfolioId,
      });
    }
  }, async () => {
    await parts.lease?.stop();
    if (parts.leaseSql) await closeDatabase(parts.leaseSql);
    parts.leaseSql = null;
  }));

  // --- HTTP -------------------------------------------------------------------------------------------
  lifecycle.add(component("http", async () => {
    const broker = need(parts.broker, "broker");
    const view = need(parts.view, "live view");
    const hub = need(parts.hub, "stream hub");
    const store = need(parts.store, "database");
    const components: Record<string, HealthComponentFn> = {
      // reachability: one `select 1` per 3 s at most (cached), 1.5 s timeout; plus the order writes
      database: databaseHealth(
        new ReachabilityProbe(() => need(parts.sql, "database")`select 1`, { ttlMs: 3000, timeoutMs: 1500 }),
        { backlog: () => parts.tracker?.backlog ?? 0, lastError: () => parts.tracker?.lastError() ?? null },
      ),
      // only the active instance trades: a standby (or one still taking over) cannot (503)
      lease: () => {
        const held = parts.lease?.held ?? false;
        const active = tradingActive();
        return {
          enabled: true,
          ok: active,
          blocks_trading: true,
          active,
          role: active ? "active" : held ? "taking_over" : "standby",
          since: held && parts.lease ? new Date(parts.lease.since).toISOString() : null,
        };
      },
      // programmatic-trading supervision: seconds with ≥ 10 inserts + cancels this trading day
      supervision: () => ({
        enabled: true,
        ok: true,
        burst_per_second: rules.burstMonitor.perSecond,
        trigger_bursts_per_day: rules.burstMonitor.perDay,
        ...rules.burstStats(Date.now()),
      }),
    };
    if (parts.writer) {
      const writer = parts.writer;
      components.redis = () => ({ ...writer.status() });
    }
    if (config.rabbitmq) {
      components.rabbitmq = () => {
        const s = parts.intake?.state();
        return s ? { enabled: true, ok: s.connected, ...s } : { enabled: true, ok: false };
      };
    }
    const app: Hono = createApiApp();
    // request id, access log, CORS, bearer-token scopes, body limit (lib/http/middleware.ts)
    applyHttpMiddleware(app, {
      tokens: { token: config.http.token, read_token: config.http.read_token },
      corsOrigins: config.http.cors_origins,
      maxBodyBytes: config.http.max_body_bytes,
      onRequest: (info) => metrics.httpRequest(info),
    });
    metrics.setSources({
      confirmedAt: (now) => view.confirmedAt(now),
      brokerState: () => broker.state(),
      ws: () => hub.stats(),
      redis: parts.writer ? (() => parts.writer!.status()) : undefined,
      rabbitmq: config.rabbitmq ? () => ({ connected: parts.intake?.state().connected ?? false }) : undefined,
      postgresql: () => ({ ok: (parts.tracker?.lastError() ?? null) === null }),
      bursts: () => rules.burstStats(Date.now()),
    });
    series = new IntradaySeries(view);
    series.sample();
    const market = {
      symbols: () => [...view.symbols(), ...view.orders().map((o) => o.symbol)],
      tradingTime: (symbol: string) => broker.instrument(symbol)?.trading_time,
      exchangeNow: () => {
        const quotes = [];
        for (const s of new Set([...view.symbols(), ...view.orders().map((o) => o.symbol)])) {
          const q = broker.quote(s);
          if (q) quotes.push(q);
        }
        return exchangeTimeFromQuotes(quotes);
      },
    };
    app.route("/", healthRoutes({ brokerState: () => broker.state(), components, market }));
    app.route("/", metricsRoutes(metrics));
    app.route("/", docsRoutes({ document: () => buildOpenApiDocument() }));
    app.route("/", pageRoutes({ portfolioId, series }));
    app.route("/", positionRoutes(view));
    app.route("/", accountRoutes(view));
    app.route("/", wsRoutes(hub));
    app.route("/", orderRoutes({ portfolioId, executor: need(executor, "executor"), store }));
    const ksStore = need(killSwitchStore, "kill switch store");
    app.route(
      "/",
      killSwitchRoutes({
        killSwitch: need(killSwitch, "kill switch"),
        history: (limit) => ksStore.history({ limit }),
      }),
    );
    const warning = bindWarning(config.http.host, config.http);
    if (warning) log.warn(warning);
    httpApp = app;
    parts.http = await startHttpServer(app, { host: config.http.host, port: config.http.port });
    log.info("HTTP API on {url} (authentication {auth})", {
      url: parts.http.url,
      auth: config.http.token ? (config.http.read_token ? "on: token + read_token" : "on: token") : "OFF",
    });
  }, async () => {
    await parts.http?.close();
    parts.http = null;
    series?.close();
    series = null;
  }));

  // --- intake -----------------------------------------------------------------------------------------
  if (config.rabbitmq) {
    const rabbit = config.rabbitmq;
    lifecycle.add(component("intake", async () => {
      const exec = need(executor, "executor");
      const ks = need(killSwitch, "kill switch");
      const intakeOptions = { onState: (s: { connected: boolean }) => metrics.rabbitmqState(s.connected) };
      parts.intake = new RabbitIntake({ ...rabbit, portfolio_id: portfolioId }, async (delivery) => {
        // A control message (`{"type":"KILL_SWITCH",…}`) first; anything else is an order request.
        // The body's JSON is parsed once for both (anything but a JSON object goes on as the bytes it was).
        const body = decodeBodyOnce(delivery.body);
        const control = parseControlMessage(body, { portfolioId });
        if (control?.kind === "invalid") {
          return { action: "dead_letter", reason: formatFieldErrors(control.errors), fields: control.errors };
        }
        if (control) {
          try {
            await ks.set(control.change, { source: "rabbitmq" });
            return { action: "ack" };
          } catch (e) {
            return { action: "requeue", reason: `kill switch not changed: ${(e as Error).message}` };
          }
        }
        const parsed = parseOrderRequest(body, { portfolioId });
        const outcome = await exec.handle(parsed, "rabbitmq");
        const answer = intakeAnswer(outcome);
        // A cancel's event goes through the tracker's outbox: acknowledge only once it is in PostgreSQL (an
        // insert's intent is committed before `handle` returns).
        if (parsed.kind === "cancel" && answer.action === "ack") {
          await need(parts.tracker, "tracker").written();
        }
        return answer;
      }, intakeOptions);
      await parts.intake.start();
      syncIntake();
    }, async () => {
      await parts.intake?.stop();
    }));
  }

  return {
    lifecycle,
    get http() {
      return parts.http;
    },
    get sim() {
      return parts.sim;
    },
    get broker() {
      return parts.broker;
    },
    get store() {
      return parts.store;
    },
    get intake() {
      return parts.intake;
    },
    get lease() {
      return parts.lease;
    },
    get tracker() {
      return parts.tracker;
    },
    get killSwitch() {
      return killSwitch;
    },
    metrics,
    get app() {
      return httpApp;
    },
  };
}

function component(
  name: string,
  start: () => Promise<void>,
  stop: () => Promise<void>,
  options: { minStopMs?: number } = {},
): Component {
  return { name, start, stop, ...options };
}
