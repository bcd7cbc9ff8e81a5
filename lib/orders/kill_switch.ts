/**
 * The kill switch: a portfolio-wide mode plus per-symbol modes that stop or restrict new orders, checked
 * first among the send gate's insert checks (before the pre-trade rules).
 *
 * Modes, from loosest to strictest (`OFF` < `REDUCE_ONLY` < `HALT` < `FLATTEN`); the mode in force for a
 * symbol is the stricter of the portfolio's and the symbol's, so a symbol's `OFF` never loosens a
 * portfolio-wide mode:
 * - `OFF`: no restriction.
 * - `REDUCE_ONLY`: only orders that shrink |net position| are allowed: never an `OPEN`, and a close only when,
 *   counting our working orders in the same direction as if they filled (like `projectNet` of the desk
 *   limits), the net moves toward zero without passing it.
 * - `HALT`: no new orders; cancels are allowed.
 * - `FLATTEN`: no new orders (except the flatten's own closes); on being set, our working orders in scope are
 *   cancelled through the gate, then (once they are finished, bounded wait) every position in scope is closed
 *   with marketable limit orders ({@linkcode planFlatten}). It stays `FLATTEN` until changed.
 *
 * A refusal is `KILL_SWITCH`, field `$` (`offset` for an `OPEN` under `REDUCE_ONLY`, `volume` for a close
 * that would flip), its message naming the mode, the scope, the reason and who set it.
 *
 * Every change is persisted (current state + an append-only event) before it takes effect, and loaded at
 * start before any request is taken. The RabbitMQ control message ({@linkcode parseControlMessage}) and
 * `PUT /kill-switch` take the same fields.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { z } from "zod";
import { parseBrokerOrderId } from "../broker/order_ids.ts";
import type {
  AccountSnapshot,
  Broker,
  BrokerOrderView,
  InstrumentView,
  PositionView,
  QuoteView,
} from "../broker/types.ts";
import { KILL_SWITCH_MODES, type KillSwitchMode } from "../store/pg/migrations.ts";
import type { GateRefusal, InsertCheck } from "./send_gate.ts";
import type { FieldError, InsertRequest } from "./types.ts";
import { zodFieldErrors } from "./request_schema.ts";

export { KILL_SWITCH_MODES, type KillSwitchMode };

/** Strictness of each mode (higher = stricter). */
export const MODE_RANK: Readonly<Record<KillSwitchMode, number>> = Object.freeze({
  OFF: 0,
  REDUCE_ONLY: 1,
  HALT: 2,
  FLATTEN: 3,
});

/** The current setting of one scope (`symbol` "" = the whole portfolio). */
export interface KillSwitchEntry {
  symbol: string;
  mode: KillSwitchMode;
  reason: string;
  set_by: string;
  /** ISO-8601 (UTC). */
  updated_at: string;
}

/** A requested change. */
export interface KillSwitchChange {
  mode: KillSwitchMode;
  /** "" or absent = the whole portfolio. */
  symbol: string;
  reason: string;
  set_by: string;
}

/** The mode in force for one symbol and where it comes from. */
export interface EffectiveMode {
  mode: KillSwitchMode;
  /** `portfolio` or the symbol; `none` when OFF everywhere. */
  scope: string;
  entry: KillSwitchEntry | null;
}

/** In-memory kill-switch state (the persisted rows, applied). */
export class KillSwitchState {
  readonly #entries = new Map<string, KillSwitchEntry>();
  readonly #exempt = new Set<string>();

  /** State with these entries applied in order. */
  constructor(entries: readonly KillSwitchEntry[] = []) {
    for (const e of entries) this.apply(e);
  }

  /** Apply one entry (it replaces the scope's setting). */
  apply(entry: KillSwitchEntry): void {
    this.#entries.set(entry.symbol, { ...entry });
  }

  /** Every scope's setting, portfolio first then symbols sorted. */
  entries(): KillSwitchEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
  }

  /** The portfolio-wide setting (OFF when never set). */
  portfolio(): KillSwitchEntry {
    return this.#entries.get("") ?? { symbol: "", mode: "OFF", reason: "", set_by: "", updated_at: "" };
  }

  /** The stricter of the portfolio's and the symbol's mode (the portfolio wins a tie). */
  effective(symbol: string): EffectiveMode {
    const p = this.#entries.get("");
    const s = symbol === "" ? undefined : this.#entries.get(symbol);
    const pm = p?.mode ?? "OFF";
    const sm = s?.mode ?? "OFF";
    if (pm === "OFF" && sm === "OFF") return { mode: "OFF", scope: "none", entry: null };
    if (MODE_RANK[sm] > MODE_RANK[pm]) return { mode: sm, scope: symbol, entry: s! };
    return { mode: pm, scope: "portfolio", entry: p! };
  }

  /** Symbols (and "" for the portfolio) whose own setting is FLATTEN. */
  flattenScopes(): string[] {
    return this.entries().filter((e) => e.mode === "FLATTEN").map((e) => e.symbol);
  }

  /** Let the flatten's own order through while FLATTEN is in force. */
  exempt(orderId: string): void {
    this.#exempt.add(orderId);
  }

  /** Whether an order id is a flatten order (or a split child of one: `<id>~<suffix>`). */
  isExempt(orderId: string): boolean {
    const tilde = orderId.indexOf("~");
    return this.#exempt.has(tilde < 0 ? orderId : orderId.slice(0, tilde));
  }
}

/** What the kill-switch check reads of the broker. */
export interface KillSwitchCheckDeps {
  /** Our position in the symbol (undefined = flat). */
  position: (symbol: string) => PositionView | undefined;
  /** Our ALIVE orders on the symbol, including the gate's pending ones (given). */
  working: (symbol: string, pending: readonly BrokerOrderView[]) => BrokerOrderView[];
}

/**
 * The check's view of the broker: our position, and our ALIVE orders on the symbol (the broker's, plus the
 * gate's pending ones it does not show yet).
 */
export function brokerCheckDeps(broker: Broker, portfolioId: string): KillSwitchCheckDeps {
  return {
    position: (symbol) => broker.position(symbol),
    working: (symbol, pending) => {
      const seen = new Set<string>();
      const out: BrokerOrderView[] = [];
      for (const o of broker.workingOrders(symbol)) {
        if (parseBrokerOrderId(o.broker_order_id, portfolioId) === null) continue;
        out.push(o);
        seen.add(o.broker_order_id);
      }
      for (const o of pending) if (o.symbol === symbol && !seen.has(o.broker_order_id)) out.push(o);
      return out;
    },
  };
}

function describe(effective: EffectiveMode): string {
  const e = effective.entry;
  const scope = effective.scope === "portfolio" ? "portfolio-wide" : `on ${effective.scope}`;
  const details = [e?.reason ? `reason: ${e.reason}` : "", e?.set_by ? `set by ${e.set_by}` : ""]
    .filter((d) => d !== "").join("; ");
  return `kill switch ${effective.mode} ${scope}${details ? ` (${details})` : ""}`;
}

/**
 * The REDUCE_ONLY verdict for a request, given our net position and our working orders on the symbol:
 * `OPEN` is refused; otherwise, with `s` = +1 for BUY and −1 for SELL, `before = net + s·working(same
 * direction)` and `after = before + s·volume`, the order passes only when `before` is on the side the order
 * reduces (`s·before < 0`) and `after` does not pass zero (`s·after ≤ 0`).
 */
export function reduceOnlyRefusal(
  request: InsertRequest,
  net: number,
  working: readonly BrokerOrderView[],
): { field: string; message: string } | null {
  if (request.offset === "OPEN") return { field: "offset", message: "only orders that reduce a position" };
  const s = request.direction === "BUY" ? 1 : -1;
  let same = 0;
  for (const o of working) {
    if (o.status === "ALIVE" && o.symbol === request.symbol && o.direction === request.direction) {
      same += Math.max(0, o.volume_left);
    }
  }
  const before = net + s * same;
  const after = before + s * request.volume;
  if (s * before < 0 && s * after <= 0) return null;
  return {
    field: "volume",
    message:
      `only orders that reduce a position: ${request.direction} ${request.volume} would take the net ` +
      `position of ${request.symbol} from ${before} (net ${net}, working ${request.direction} ${same}) to ${after}`,
  };
}

/** The kill switch as a send-gate insert check. */
export function killSwitchCheck(state: KillSwitchState, deps: KillSwitchCheckDeps): InsertCheck {
  return (request, context): GateRefusal | null => {
    const effective = state.effective(request.symbol);
    switch (effective.mode) {
      case "OFF":
        return null;
      case "HALT":
        return { code: "KILL_SWITCH", field: "$", message: `${describe(effective)}: no new orders` };
      case "FLATTEN":
        if (state.isExempt(request.order_id)) return null;
        return {
          code: "KILL_SWITCH",
          field: "$",
          message: `${describe(effective)}: positions are being closed, no new orders`,
        };
      case "REDUCE_ONLY": {
        const p = deps.position(request.symbol);
        const net = p ? p.long - p.short : 0;
        const why = reduceOnlyRefusal(request, net, deps.working(request.symbol, context.pending));
        if (why === null) return null;
        return { code: "KILL_SWITCH", field: why.field, message: `${describe(effective)}: ${why.message}` };
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// FLATTEN
// ---------------------------------------------------------------------------------------------------------

/** What {@linkcode planFlatten} looks at. */
export interface FlattenInput {
  portfolioId: string;
  /** The FLATTEN change's event id: makes the closing orders' ids unique and deterministic. */
  seq: number;
  /** "" = every symbol, else one symbol. */
  scope: string;
  positions: Record<string, PositionView>;
  quote: (symbol: string) => QuoteView | undefined;
  instrument: (symbol: string) => InstrumentView | undefined;
  /** Largest volume of one closing order (the desk's `max_order_volume` for the symbol). */
  maxOrderVolume?: (symbol: string) => number;
}

/** The closing orders of a flatten, plus the positions it cannot close (no price). */
export interface FlattenPlan {
  orders: InsertRequest[];
  skipped: { symbol: string; side: "long" | "short"; lots: number; reason: string }[];
}

function finite(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/**
 * The marketable limit price of a closing order: the limit-band bound on the order's side (upper_limit for
 * BUY rounded down to a tick, lower_limit for SELL rounded up), which fills against any resting price in
 * the band; without a band, the opposite best price (ask for BUY, bid for SELL). Null when none is known.
 */
export function marketablePrice(
  direction: "BUY" | "SELL",
  quote: QuoteView | undefined,
  tick: number,
): number | null {
  const bound = direction === "BUY" ? finite(quote?.upper_limit) : finite(quote?.lower_limit);
  const best = direction === "BUY" ? finite(quote?.ask_price1) : finite(quote?.bid_price1);
  const raw = bound ?? best;
  if (raw === null) return null;
  if (!(tick > 0)) return raw;
  const ticks = raw / tick;
  const n = direction === "BUY" ? Math.floor(ticks + 1e-9) : Math.ceil(ticks - 1e-9);
  return Number((n * tick).toFixed(10));
}

/**
 * The closing orders of a flatten: for every position in scope, on each side with closable lots (held −
 * frozen), `CLOSE` orders in the closing direction (SELL for long, BUY for short) at
 * {@linkcode marketablePrice}, GFD, split into chunks of at most the instrument's `max_limit_order_volume`
 * and `maxOrderVolume`. Ids: `flatten-<seq>-<symbol>-<L|S><n>`. On SHFE/INE the executor splits each
 * `CLOSE` into `CLOSETODAY`/`CLOSE` children.
 */
export function planFlatten(input: FlattenInput): FlattenPlan {
  const out: FlattenPlan = { orders: [], skipped: [] };
  const symbols = Object.keys(input.positions).filter((s) => input.scope === "" || s === input.scope).sort();
  for (const symbol of symbols) {
    const p = input.positions[symbol];
    for (const side of ["long", "short"] as const) {
      const lots = Math.max(0, p[`${side}_today`] - p[`${side}_frozen_today`]) +
        Math.max(0, p[`${side}_his`] - p[`${side}_frozen_his`]);
      if (lots <= 0) continue;
      const direction = side === "long" ? "SELL" : "BUY";
      const ins = input.instrument(symbol);
      const price = marketablePrice(direction, input.quote(symbol), ins?.price_tick ?? 0);
      if (price === null) {
        out.skipped.push({ symbol, side, lots, reason: "no quote or price limits to price the close" });
        continue;
      }
      const caps = [ins?.max_limit_order_volume ?? 0, input.maxOrderVolume?.(symbol) ?? 0].filter((v) =>
        v > 0
      );
      const chunk = caps.length > 0 ? Math.min(...caps) : lots;
      let left = lots;
      for (let n = 1; left > 0; n++) {
        const volume = Math.min(chunk, left);
        left -= volume;
        out.orders.push({
          order_id: `flatten-${input.seq}-${symbol}-${side === "long" ? "L" : "S"}${n}`,
          portfolio_id: input.portfolioId,
          symbol,
          direction,
          offset: "CLOSE",
          volume,
          limit_price: price,
          price_type: "LIMIT",
          time_condition: "GFD",
          volume_condition: "ANY",
          timestamp_ms: null,
          request_id: `kill-switch-${input.seq}`,
        });
      }
    }
  }
  return out;
}

/** What the flatten runner uses (the service wires the broker and the executor in). */
export interface FlattenDeps {
  snapshot: () => AccountSnapshot | null;
  quote: (symbol: string) => QuoteView | undefined;
  instrument: (symbol: string) => InstrumentView | undefined;
  /** Wait (bounded) for a symbol's first quote. */
  awaitQuote: (symbol: string) => Promise<void>;
  /** The `order_history` id of one of our broker orders; null for orders that are not ours. */
  ours: (brokerOrderId: string) => string | null;
  /** Cancel one of our orders by its `order_history` id (through the gate). */
  cancel: (orderId: string) => Promise<{ kind: string }>;
  /** Submit one closing order (through the gate, recorded like any order). */
  submit: (
    request: InsertRequest,
    source: "rest" | "rabbitmq",
  ) => Promise<{ kind: string; refusal?: GateRefusal }>;
  maxOrderVolume?: (symbol: string) => number;
  /** How long to wait for the cancelled orders to finish (default 10 000 ms). */
  cancelWaitMs?: number;
  /** Poll interval while waiting (default 50 ms). */
  pollMs?: number;
}

/** What a flatten did. */
export interface FlattenReport {
  seq: number;
  scope: string;
  cancels: { order_id: string; outcome: string }[];
  /** Orders still working when the wait ended. */
  still_working: string[];
  orders: { order_id: string; outcome: string; code?: string }[];
  skipped: FlattenPlan["skipped"];
}

function workingOurs(deps: FlattenDeps, scope: string): { brokerId: string; orderId: string }[] {
  const out: { brokerId: string; orderId: string }[] = [];
  for (const o of Object.values(deps.snapshot()?.orders ?? {})) {
    if (o.status !== "ALIVE" || (scope !== "" && o.symbol !== scope)) continue;
    const id = deps.ours(o.broker_order_id);
    if (id !== null) out.push({ brokerId: o.broker_order_id, orderId: id });
  }
  return out;
}

/**
 * Run a flatten: cancel our working orders in scope, wait until none is working (at most `cancelWaitMs`),
 * then submit the closing orders of {@linkcode planFlatten} (their ids exempted from the FLATTEN refusal).
 */
export async function runFlatten(
  state: KillSwitchState,
  input: { portfolioId: string; seq: number; scope: string; source?: "rest" | "rabbitmq" },
  deps: FlattenDeps,
): Promise<FlattenReport> {
  const report: FlattenReport = {
    seq: input.seq,
    scope: input.scope,
    cancels: [],
    still_working: [],
    orders: [],
    skipped: [],
  };
  for (const w of workingOurs(deps, input.scope)) {
    const outcome = await deps.cancel(w.orderId);
    report.cancels.push({ order_id: w.orderId, outcome: outcome.kind });
  }
  const end = Date.now() + (deps.cancelWaitMs ?? 10_000);
  while (workingOurs(deps, input.scope).length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, deps.pollMs ?? 50));
  }
  report.still_working = workingOurs(deps, input.scope).map((w) => w.orderId);
  const positions = deps.snapshot()?.positions ?? {};
  for (const symbol of Object.keys(positions)) {
    if (input.scope === "" || symbol === input.scope) await deps.awaitQuote(symbol);
  }
  const plan = planFlatten({
    portfolioId: input.portfolioId,
    seq: input.seq,
    scope: input.scope,
    positions,
    quote: deps.quote,
    instrument: deps.instrument,
    maxOrderVolume: deps.maxOrderVolume,
  });
  report.skipped = plan.skipped;
  for (const order of plan.orders) {
    state.exempt(order.order_id);
    const outcome = await deps.submit(order, input.source ?? "rest");
    report.orders.push({
      order_id: order.order_id,
      outcome: outcome.kind,
      ...(outcome.refusal ? { code: outcome.refusal.code } : {}),
    });
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------------
// Requests: PUT /kill-switch and the RabbitMQ control message
// ---------------------------------------------------------------------------------------------------------

const SYMBOL_RE = /^[A-Z]{2,6}\.[A-Za-z0-9_-]{1,40}$/;

export const changeSchema = z.object({
  mode: z.enum(KILL_SWITCH_MODES),
  symbol: z.union([z.literal(""), z.string().regex(SYMBOL_RE, "expected EXCHANGE.code, e.g. SHFE.rb2605")])
    .nullish(),
  reason: z.string().trim().min(1, "a reason is required").max(500),
  set_by: z.string().trim().min(1).max(100).nullish(),
});

/**
 * Validate a kill-switch change body (`{"mode", "symbol"?, "reason", "set_by"?}`); `defaultSetBy` is used
 * when the body has no `set_by`.
 */
export function parseKillSwitchChange(
  body: unknown,
  defaultSetBy: string,
): { change: KillSwitchChange } | { errors: FieldError[] } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { errors: [{ field: "$", message: "expected a JSON object" }] };
  }
  const r = changeSchema.safeParse(body);
  if (!r.success) return { errors: zodFieldErrors(r.error) };
  return {
    change: {
      mode: r.data.mode,
      symbol: r.data.symbol ?? "",
      reason: r.data.reason,
      set_by: r.data.set_by ?? defaultSetBy,
    },
  };
}

/** A RabbitMQ control message, parsed. */
export type ControlMessage =
  | { kind: "kill_switch"; change: KillSwitchChange }
  | { kind: "invalid"; errors: FieldError[] };

/**
 * The RabbitMQ control message, on the order queue:
 * `{"type": "KILL_SWITCH", "portfolio_id": …, "mode": …, "symbol"?: …, "reason": …, "set_by"?: …}`.
 * Returns null when the body is not a control message (then it is an order request), so it is called
 * first. `set_by` defaults to `rabbitmq`.
 */
export function parseControlMessage(body: unknown, options: { portfolioId: string }): ControlMessage | null {
  let value: unknown = body;
  try {
    if (body instanceof Uint8Array) value = JSON.parse(new TextDecoder().decode(body));
    else if (typeof body === "string") value = JSON.parse(body);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (typeof o.type !== "string" || o.type.toUpperCase() !== "KILL_SWITCH") return null;
  const { type: _t, portfolio_id, ...rest } = o;
  const errors: FieldError[] = [];
  if (portfolio_id !== options.portfolioId) {
    errors.push({
      field: "portfolio_id",
      message: `expected this service's portfolio (${options.portfolioId})`,
    });
  }
  const parsed = parseKillSwitchChange(rest, "rabbitmq");
  if ("errors" in parsed) errors.push(...parsed.errors);
  if (errors.length > 0 || "errors" in parsed) return { kind: "invalid", errors };
  return { kind: "kill_switch", change: parsed.change };
}

// ---------------------------------------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------------------------------------

/** Where the kill switch is persisted (`KillSwitchStore`). */
export interface KillSwitchPersistence {
  load(): Promise<KillSwitchEntry[]>;
  /** Upsert the scope's row and append the event, in one transaction. */
  set(change: KillSwitchChange): Promise<{ entry: KillSwitchEntry; event_id: number }>;
}

/** The result of {@linkcode KillSwitch.set}. */
export interface KillSwitchSetResult {
  entry: KillSwitchEntry;
  event_id: number;
  /** The running flatten when the change was FLATTEN (resolves with its report). */
  flatten: Promise<FlattenReport> | null;
}

/** Thrown by {@linkcode KillSwitch.set} on an instance that may not change the switch (a standby). */
export class KillSwitchNotActiveError extends Error {
  /** The refusal code, as the send gate says it. */
  readonly code = "NOT_LEADER";
  constructor(message: string) {
    super(message);
    this.name = "KillSwitchNotActiveError";
  }
}

/** Options of {@linkcode KillSwitch}. */
export interface KillSwitchOptions {
  portfolioId: string;
  log: Logger;
  /**
   * Whether this instance is the active one (holds the portfolio lease); default: always. Only the active
   * instance changes the switch, so the state it enforces is always the one in PostgreSQL; a standby reads
   * it again when it takes over.
   */
  isActive?: () => boolean;
}

/** The kill switch of one portfolio: state, persistence, the gate check and the flatten runner. */
export class KillSwitch {
  readonly state: KillSwitchState = new KillSwitchState();
  #flattenDeps: FlattenDeps | null = null;
  #flattens = new Set<Promise<FlattenReport>>();

  /** A switch persisted by `persistence`. */
  constructor(
    private readonly persistence: KillSwitchPersistence,
    private readonly options: KillSwitchOptions,
  ) {}

  /** Load the persisted state (call before any request is taken, and again on a takeover). */
  async load(): Promise<KillSwitchEntry[]> {
    const entries = await this.persistence.load();
    for (const e of entries) this.state.apply(e);
    const on = entries.filter((e) => e.mode !== "OFF");
    if (on.length > 0) {
      this.options.log.warn("kill switch in force at start: {modes}", {
        modes: on.map((e) => `${e.symbol || "portfolio"}=${e.mode}`).join(", "),
        portfolio_id: this.options.portfolioId,
      });
    }
    return entries;
  }

  /** Give the flatten runner its broker and executor. */
  attachFlatten(deps: FlattenDeps): void {
    this.#flattenDeps = deps;
  }

  /** The insert check for the send gate. */
  check(deps: KillSwitchCheckDeps): InsertCheck {
    return killSwitchCheck(this.state, deps);
  }

  /**
   * Persist a change, apply it, and start the flatten when the mode is FLATTEN (its orders are recorded
   * with `source`, the channel the change came from).
   */
  async set(
    change: KillSwitchChange,
    options: { source?: "rest" | "rabbitmq" } = {},
  ): Promise<KillSwitchSetResult> {
    if (this.options.isActive && !this.options.isActive()) {
      throw new KillSwitchNotActiveError(
        "this instance is on standby (another instance holds the portfolio lease): change the kill switch " +
          "on the active instance",
      );
    }
    const { entry, event_id } = await this.persistence.set(change);
    this.state.apply(entry);
    const log = this.options.log;
    const props = {
      portfolio_id: this.options.portfolioId,
      mode: entry.mode,
      scope: entry.symbol || "portfolio",
      reason: entry.reason,
      set_by: entry.set_by,
      event_id,
    };
    if (entry.mode === "OFF") log.info("kill switch OFF for {scope} by {set_by}: {reason}", props);
    else log.warn("kill switch {mode} for {scope} by {set_by}: {reason}", props);
    const flatten = entry.mode === "FLATTEN"
      ? this.#flatten(event_id, entry.symbol, options.source ?? "rest")
      : null;
    return { entry, event_id, flatten };
  }

  /**
   * Run FLATTEN again for every scope where it is in force — after a restart or a takeover, once the broker
   * is ready — so positions left open by an interrupted flatten are closed. Each resumption is recorded as
   * a new change by `system`, so its orders get fresh ids and the history says why.
   */
  async resumeFlatten(): Promise<KillSwitchSetResult[]> {
    const results: KillSwitchSetResult[] = [];
    for (const entry of this.state.entries()) {
      if (entry.mode !== "FLATTEN") continue;
      results.push(
        await this.set({
          mode: "FLATTEN",
          symbol: entry.symbol,
          reason: `resumed at start: ${entry.reason}`.slice(0, 500),
          set_by: "system",
        }),
      );
    }
    return results;
  }

  /** Wait for running flattens (stop, tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#flattens]);
  }

  #flatten(seq: number, scope: string, source: "rest" | "rabbitmq"): Promise<FlattenReport> {
    const deps = this.#flattenDeps;
    const log = this.options.log;
    if (!deps) {
      log.error("kill switch FLATTEN: no flatten runner attached; only new orders are refused");
      return Promise.resolve({ seq, scope, cancels: [], still_working: [], orders: [], skipped: [] });
    }
    const run = runFlatten(this.state, { portfolioId: this.options.portfolioId, seq, scope, source }, deps)
      .then(
        (report) => {
          const level = report.still_working.length > 0 || report.skipped.length > 0 ||
              report.orders.some((o) => o.outcome !== "accepted")
            ? "error"
            : "info";
          log[level]("kill switch FLATTEN {scope}: {cancels} cancel(s), {orders} closing order(s)", {
            portfolio_id: this.options.portfolioId,
            scope: scope || "portfolio",
            cancels: report.cancels.length,
            orders: report.orders.length,
            report,
          });
          return report;
        },
        (e) => {
          log.error("kill switch FLATTEN {scope} failed: {error}", {
            scope: scope || "portfolio",
            error: (e as Error).message,
          });
          throw e;
        },
      );
    this.#flattens.add(run);
    run.catch(() => {}).finally(() => this.#flattens.delete(run));
    return run;
  }
}
