/**
 * The audit every fault scenario ends with: after quiescence, PostgreSQL, the sim exchange and Redis must
 * tell the same story.
 *
 * - Every request's `order_id` is in `order_history`, and it is either at the broker exactly once (found by
 *   its derived DIFF id, {@link parseBrokerOrderId}) or `REJECTED` with a reason and absent from the broker.
 * - No order of this portfolio is at the broker without a row, and no row is left undecided
 *   (`RECEIVED`, `SUBMITTED`, `UNKNOWN`).
 * - Each row's status, `filled_quantity` and `volume_left` equal what the sim's final order state implies
 *   (the state machine's rules: FINISHED with nothing left → FILLED, FINISHED never at the exchange →
 *   REJECTED, other FINISHED → CANCELED, ALIVE → ACCEPTED / PARTIALLY_FILLED).
 * - `order_event.seq` runs 1, 2, … without a gap or a repeat for every order, and each `trade` row is one
 *   sim trade (same volume and price).
 * - Redis: the net position key of every symbol the sim has a position in equals long − short there; any
 *   other position key of the portfolio reads `"0"`.
 *
 * The comparison itself is the pure {@link compareAudit} (unit-tested in `audit_test.ts`); {@link runAudit}
 * gathers the three sides and {@link assertAudit} fails with every problem listed.
 *
 * @module
 */
import type postgres from "postgres";
import type { Redis } from "ioredis";
import type { Order, Position, Trade, TradeTree } from "../../lib/diff/types.ts";
import { parseBrokerOrderId } from "../../lib/broker/order_ids.ts";

/** One `order_history` row as the audit reads it. */
export interface AuditRow {
  id: string;
  status: string;
  filled_quantity: number;
  volume_left: number | null;
  broker_order_id: string | null;
  reject_reason: string | null;
  source: string;
  /** Set on the children of a split close; the parent itself is never sent. */
  parent_id: string | null;
}

/** One `trade` row as the audit reads it. */
export interface AuditTrade {
  trade_id: string;
  order_id: string | null;
  volume: number;
  price: number;
}

/** Everything {@link compareAudit} compares. */
export interface AuditSides {
  portfolioId: string;
  /** The order ids that were requested (each must be accounted for). Omit to check only consistency. */
  expectedIds?: Iterable<string>;
  rows: AuditRow[];
  /** `order_event` (id, seq) pairs. */
  events: { id: string; seq: number }[];
  trades: AuditTrade[];
  /** The sim's account tree (`sim.engine().snapshot(user)`). */
  snapshot: TradeTree;
  /** Net position keys read from Redis, by symbol; null to skip the Redis check. */
  redisNet: Map<string, string> | null;
}

/** The result: problems (empty = clean) and a few counts for the test log. */
export interface AuditResult {
  problems: string[];
  counts: { rows: number; atBroker: number; rejected: number; filled: number; redisKeys: number };
}

const UNDECIDED = new Set(["RECEIVED", "SUBMITTED", "UNKNOWN"]);

/** The status the state machine must derive from the sim's final view of an order. */
export function expectedStatus(order: Order): string {
  const filled = order.volume_orign - order.volume_left;
  if (order.status === "FINISHED") {
    if (order.volume_left === 0) return "FILLED";
    if (order.exchange_order_id === "" && filled === 0) return "REJECTED";
    return "CANCELED";
  }
  if (order.exchange_order_id === "") return "SUBMITTED";
  return filled > 0 ? "PARTIALLY_FILLED" : "ACCEPTED";
}

/** long − short of a sim position (`pos_*`, as the service reads it). */
export function simNet(p: Position): number {
  return (p.pos_long_today + p.pos_long_his) - (p.pos_short_today + p.pos_short_his);
}

/** Compare the three sides; pure. */
export function compareAudit(sides: AuditSides): AuditResult {
  const problems: string[] = [];
  const { snapshot, portfolioId } = sides;

  // the broker side, keyed by our row id (client id, or `client~suffix` for split children)
  const atBroker = new Map<string, Order>();
  for (const order of Object.values(snapshot.orders)) {
    const parsed = parseBrokerOrderId(order.order_id, portfolioId);
    if (!parsed) continue; // an external order (another terminal)
    const id = parsed.suffix ? `${parsed.clientOrderId}~${parsed.suffix}` : parsed.clientOrderId;
    if (atBroker.has(id)) problems.push(`${id}: more than once at the broker`);
    atBroker.set(id, order);
  }

  const rowById = new Map<string, AuditRow>();
  for (const row of sides.rows) {
    if (rowById.has(row.id)) problems.push(`${row.id}: more than one order_history row`);
    rowById.set(row.id, row);
  }

  for (const id of sides.expectedIds ?? []) {
    if (!rowById.has(id)) problems.push(`${id}: requested but not in order_history`);
  }

  const children = new Map<string, AuditRow[]>();
  for (const row of sides.rows) {
    if (row.parent_id) children.set(row.parent_id, [...(children.get(row.parent_id) ?? []), row]);
  }

  let rejected = 0;
  let filled = 0;
  for (const row of sides.rows) {
    if (row.source === "external") continue;
    const order = atBroker.get(row.id);
    if (UNDECIDED.has(row.status)) problems.push(`${row.id}: left ${row.status}`);
    if (row.status === "REJECTED") rejected++;
    if (row.status === "FILLED") filled++;
    const kids = children.get(row.id);
    if (kids) {
      // a split parent: never at the broker; its fills are its children's
      if (order) problems.push(`${row.id}: split parent sent to the broker itself`);
      const sum = kids.reduce((n, k) => n + k.filled_quantity, 0);
      if (row.filled_quantity !== sum) {
        problems.push(`${row.id}: split parent filled ${row.filled_quantity}, children ${sum}`);
      }
      if (kids.every((k) => k.status === "FILLED") && row.status !== "FILLED") {
        problems.push(`${row.id}: every child FILLED, parent ${row.status}`);
      }
      continue;
    }
    if (!order) {
      if (row.status !== "REJECTED") {
        problems.push(`${row.id}: ${row.status} in order_history but not at the broker`);
      } else if (!row.reject_reason) {
        problems.push(`${row.id}: REJECTED without a reason`);
      }
      continue;
    }
    const want = expectedStatus(order);
    if (row.status !== want) {
      problems.push(
        `${row.id}: order_history says ${row.status}, the broker's ${order.status} ` +
          `(left ${order.volume_left}/${order.volume_orign}, "${order.last_msg}") means ${want}`,
      );
    }
    const brokerFilled = order.volume_orign - order.volume_left;
    if (row.filled_quantity !== brokerFilled) {
      problems.push(`${row.id}: filled_quantity ${row.filled_quantity}, broker filled ${brokerFilled}`);
    }
    if (row.volume_left !== null && row.volume_left !== order.volume_left) {
      problems.push(`${row.id}: volume_left ${row.volume_left}, broker ${order.volume_left}`);
    }
    if (row.broker_order_id !== null && row.broker_order_id !== order.order_id) {
      problems.push(`${row.id}: broker_order_id ${row.broker_order_id}, broker ${order.order_id}`);
    }
  }
  for (const id of atBroker.keys()) {
    if (!rowById.has(id)) problems.push(`${id}: at the broker but not in order_history`);
  }

  // events: 1..n per order
  const seqs = new Map<string, number[]>();
  for (const e of sides.events) seqs.set(e.id, [...(seqs.get(e.id) ?? []), e.seq]);
  for (const [id, list] of seqs) {
    const sorted = [...list].sort((a, b) => a - b);
    if (!sorted.every((s, i) => s === i + 1)) problems.push(`${id}: order_event seq ${sorted.join(",")}`);
  }
  for (const row of sides.rows) {
    if (!seqs.has(row.id)) problems.push(`${row.id}: no order_event`);
  }

  // trades: each row is one sim trade of the same order
  const simTrades = new Map<string, Trade>(Object.entries(snapshot.trades));
  const byBrokerTradeId = new Map<string, Trade>();
  for (const t of simTrades.values()) byBrokerTradeId.set(t.trade_id, t);
  const seenTrades = new Set<string>();
  for (const t of sides.trades) {
    if (seenTrades.has(t.trade_id)) problems.push(`trade ${t.trade_id}: recorded twice`);
    seenTrades.add(t.trade_id);
    const sim = byBrokerTradeId.get(t.trade_id);
    if (!sim) {
      problems.push(`trade ${t.trade_id}: not at the broker`);
      continue;
    }
    if (sim.volume !== t.volume || sim.price !== t.price) {
      problems.push(`trade ${t.trade_id}: ${t.volume}@${t.price}, broker ${sim.volume}@${sim.price}`);
    }
  }
  for (const t of simTrades.values()) {
    const parsed = parseBrokerOrderId(t.order_id, portfolioId);
    if (parsed && !seenTrades.has(t.trade_id)) {
      problems.push(`trade ${t.trade_id}: at the broker, not recorded`);
    }
  }

  // Redis
  let redisKeys = 0;
  if (sides.redisNet) {
    redisKeys = sides.redisNet.size;
    const simPositions = new Map<string, number>();
    for (const [symbol, p] of Object.entries(snapshot.positions)) simPositions.set(symbol, simNet(p));
    for (const [symbol, net] of simPositions) {
      const got = sides.redisNet.get(symbol);
      if (got === undefined && net === 0) continue;
      if (got !== String(net)) problems.push(`redis ${symbol}: ${got ?? "absent"}, broker net ${net}`);
    }
    for (const [symbol, value] of sides.redisNet) {
      if (!simPositions.has(symbol) && value !== "0") {
        problems.push(`redis ${symbol}: ${value}, no position at the broker`);
      }
    }
  }

  return {
    problems,
    counts: { rows: sides.rows.length, atBroker: atBroker.size, rejected, filled, redisKeys },
  };
}

/** The net position keys of `portfolioId` in Redis, by symbol. */
export async function readRedisNet(redis: Redis, portfolioId: string): Promise<Map<string, string>> {
  const prefix = `TQ_Position_PortfolioId_${portfolioId}_Symbol_`;
  const keys = await redis.keys(`${prefix}*`);
  const out = new Map<string, string>();
  if (keys.length === 0) return out;
  const values = await redis.mget(...keys);
  keys.forEach((k, i) => {
    if (values[i] !== null) out.set(k.slice(prefix.length), values[i] as string);
  });
  return out;
}

/** Where {@link runAudit} reads each side. */
export interface AuditSources {
  portfolioId: string;
  sql: postgres.Sql;
  /** The sim's account tree, read at audit time. */
  snapshot: () => TradeTree;
  redis?: Redis | null;
  expectedIds?: Iterable<string>;
}

/** Read PostgreSQL, the sim and Redis, then {@link compareAudit}. */
export async function runAudit(sources: AuditSources): Promise<AuditResult> {
  const { sql, portfolioId } = sources;
  const rows =
    await sql`select id, status, filled_quantity, volume_left, broker_order_id, reject_reason, source,
                                parent_id from order_history where portfolio_id = ${portfolioId}`;
  const events = await sql`select id, seq from order_event where portfolio_id = ${portfolioId}`;
  const trades =
    await sql`select trade_id, order_id, volume, price from trade where portfolio_id = ${portfolioId}`;
  return compareAudit({
    portfolioId,
    expectedIds: sources.expectedIds,
    rows: rows.map((r) => ({
      id: r.id,
      status: r.status,
      filled_quantity: r.filled_quantity,
      volume_left: r.volume_left,
      broker_order_id: r.broker_order_id,
      reject_reason: r.reject_reason,
      source: r.source,
      parent_id: r.parent_id,
    })),
    events: events.map((e) => ({ id: e.id, seq: e.seq })),
    trades: trades.map((t) => ({
      trade_id: t.trade_id,
      order_id: t.order_id,
      volume: t.volume,
      price: Number(t.price),
    })),
    snapshot: sources.snapshot(),
    redisNet: sources.redis ? await readRedisNet(sources.redis, portfolioId) : null,
  });
}

/**
 * Run the audit until it is clean (the service may still be writing the last changes) or `timeoutMs`
 * passes, then fail listing every problem of the last run. Returns the clean result.
 */
export async function assertAudit(sources: AuditSources, options: { timeoutMs?: number } = {}): Promise<
  AuditResult
> {
  const end = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const result = await runAudit(sources);
    if (result.problems.length === 0) return result;
    if (Date.now() > end) {
      const shown = result.problems.slice(0, 40);
      throw new Error(
        `audit failed (${result.problems.length} problem(s)):\n  ${shown.join("\n  ")}${
          result.problems.length > shown.length
            ? `\n  … and ${result.problems.length - shown.length} more`
            : ""
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
