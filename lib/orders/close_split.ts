/**
 * The SHFE/INE close split: those exchanges keep today's and yesterday's lots apart, and a `CLOSE` there
 * closes yesterday's lots only (`CLOSETODAY` closes today's), so a plain `CLOSE` of lots that are partly
 * today's would be rejected by the exchange (CTP 50/51, sim 414/415). The connector splits such a request
 * into children — `CLOSETODAY` first, then `CLOSE` — net of the lots already frozen by pending close orders,
 * and never sends the parent itself (lessons-from-peers §16.1, diff-protocol §3.1).
 *
 * Decisions (README "Trading safety"):
 * - Only `CLOSE` on SHFE/INE is split; a `CLOSETODAY` there is sent as it is (the client asked for today's
 *   lots explicitly; the exchange judges it).
 * - A split parent always gets children, even when one offset suffices, so every SHFE/INE `CLOSE` has the
 *   same shape: parent (never sent) + children `~closetoday` / `~close`; a child of volume 0 is omitted.
 * - Not enough closable lots for the whole volume → the whole parent is refused (INSUFFICIENT_POSITION,
 *   field `volume`), nothing is sent: a partial split would leave the client guessing.
 * - `CLOSETODAY` on any other exchange is sent as `CLOSE` ({@linkcode normalizeOffset}): those exchanges have
 *   no close-today distinction in DIFF and take `CLOSE` under their own rule.
 *
 * Pure: the caller gathers the position and the pending orders.
 *
 * @module
 */

import { CLOSE_TODAY_EXCHANGES } from "../diff/types.ts";
import type { BrokerOrderView, Offset, PositionView } from "../broker/types.ts";
import type { GateRefusal } from "./send_gate.ts";
import { type InsertRequest, type OrderRecord, TERMINAL_STATUSES } from "./types.ts";

/** The suffix of a split child (its order id is `<parent>~<suffix>`, its broker id uses it too). */
export type SplitSuffix = "closetoday" | "close";

/** One child of a split close. */
export interface SplitChild {
  suffix: SplitSuffix;
  offset: "CLOSETODAY" | "CLOSE";
  volume: number;
}

/** What to do with a request: send it as it is, split it, or refuse it. */
export type SplitPlan =
  | { kind: "as_is" }
  | { kind: "split"; children: SplitChild[]; closable: Closable }
  | { kind: "refuse"; refusal: GateRefusal; closable: Closable };

/** Lots of the closed side, with what is frozen by pending closes. */
export interface Closable {
  /** `long` for a SELL close, `short` for a BUY close. */
  side: "long" | "short";
  today: number;
  his: number;
  frozen_today: number;
  frozen_his: number;
}

/** What the planner looks at besides the request. */
export interface SplitContext {
  /** Our position in the symbol at the broker (undefined = flat). */
  position: PositionView | undefined;
  /**
   * Close orders that freeze lots but are not yet in the position's frozen counts: the ones the gate passed
   * that the broker does not show yet. (Orders the broker shows are already in `*_frozen_*`.)
   */
  unseen: readonly BrokerOrderView[];
}

/** True for an exchange that keeps today/yesterday lots apart (SHFE, INE). */
export function isCloseTodayExchange(symbol: string): boolean {
  return CLOSE_TODAY_EXCHANGES.has(symbol.slice(0, symbol.indexOf(".")));
}

/** The order id of a split child: `<parent>~<suffix>` (`~` is outside the client id alphabet). */
export function childOrderId(parentId: string, suffix: SplitSuffix): string {
  return `${parentId}~${suffix}`;
}

/** The offset to send: `CLOSETODAY` becomes `CLOSE` outside SHFE/INE; anything else is unchanged. */
export function normalizeOffset(symbol: string, offset: Offset): Offset {
  return offset === "CLOSETODAY" && !isCloseTodayExchange(symbol) ? "CLOSE" : offset;
}

/** The closed side's lots (net of frozen lots, including the unseen pending closes). */
export function closableLots(request: InsertRequest, context: SplitContext): Closable {
  const side = request.direction === "SELL" ? "long" : "short";
  const p = context.position;
  let frozenToday = p ? p[`${side}_frozen_today`] : 0;
  let frozenHis = p ? p[`${side}_frozen_his`] : 0;
  for (const o of context.unseen) {
    if (o.symbol !== request.symbol || o.direction !== request.direction || o.status !== "ALIVE") continue;
    if (o.offset === "CLOSETODAY") frozenToday += Math.max(0, o.volume_left);
    else if (o.offset === "CLOSE") frozenHis += Math.max(0, o.volume_left);
  }
  return {
    side,
    today: p ? p[`${side}_today`] : 0,
    his: p ? p[`${side}_his`] : 0,
    frozen_today: frozenToday,
    frozen_his: frozenHis,
  };
}

/**
 * Plan a request: `as_is` unless it is a `CLOSE` on SHFE/INE; then children `CLOSETODAY` (up to the
 * closable today lots) and `CLOSE` (the rest, up to the closable yesterday lots), or a refusal when the
 * closable lots do not cover the volume.
 */
export function planCloseSplit(request: InsertRequest, context: SplitContext): SplitPlan {
  if (request.offset !== "CLOSE" || !isCloseTodayExchange(request.symbol)) return { kind: "as_is" };
  const c = closableLots(request, context);
  const today = Math.max(0, c.today - c.frozen_today);
  const his = Math.max(0, c.his - c.frozen_his);
  if (today + his < request.volume) {
    return {
      kind: "refuse",
      closable: c,
      refusal: {
        code: "INSUFFICIENT_POSITION",
        field: "volume",
        message: `${request.direction} CLOSE ${request.volume} ${request.symbol}: only ${
          today + his
        } ${c.side} lot(s) closable (today ${c.today} − frozen ${c.frozen_today}, yesterday ${c.his} − frozen ${c.frozen_his})`,
      },
    };
  }
  const t = Math.min(request.volume, today);
  const children: SplitChild[] = [];
  if (t > 0) children.push({ suffix: "closetoday", offset: "CLOSETODAY", volume: t });
  if (request.volume - t > 0) children.push({ suffix: "close", offset: "CLOSE", volume: request.volume - t });
  return { kind: "split", children, closable: c };
}

/** A split parent's state, aggregated from its children. */
export interface SplitAggregate {
  status: OrderRecord["status"];
  filled_quantity: number;
  volume_left: number;
  avg_fill_price: number | null;
  reject_reason: string | null;
}

/**
 * The parent's status and fills from its children's: filled = Σ filled, average price weighted by fills,
 * volume_left = Σ volume_left. Status: every child FILLED → `FILLED`; every child finished otherwise → `REJECTED`
 * when one was rejected (reason `<child id>: <its reason>`), else `CANCELED`; while a child is still open →
 * `PARTIALLY_FILLED` once anything filled, else `ACCEPTED` when one was accepted, else `UNKNOWN` when one is
 * unknown, else `SUBMITTED`.
 */
export function aggregateSplit(children: readonly OrderRecord[]): SplitAggregate {
  let filled = 0;
  let value = 0;
  let left = 0;
  for (const c of children) {
    filled += c.filled_quantity;
    if (c.filled_quantity > 0 && c.avg_fill_price !== null) value += c.avg_fill_price * c.filled_quantity;
    left += c.volume_left ?? c.volume ?? 0;
  }
  const avg = filled > 0 ? Number((value / filled).toFixed(10)) : null;
  const has = (s: OrderRecord["status"]) => children.some((c) => c.status === s);
  let status: OrderRecord["status"];
  let reject: string | null = null;
  if (children.every((c) => TERMINAL_STATUSES.has(c.status))) {
    const rejected = children.find((c) => c.status === "REJECTED");
    if (children.every((c) => c.status === "FILLED")) status = "FILLED";
    else if (rejected) {
      status = "REJECTED";
      reject = `${rejected.id}: ${rejected.reject_reason ?? rejected.last_msg ?? "rejected"}`;
    } else status = "CANCELED";
  } else if (filled > 0 || has("PARTIALLY_FILLED")) status = "PARTIALLY_FILLED";
  else if (has("ACCEPTED") || has("FILLED") || has("CANCELED")) status = "ACCEPTED";
  else if (has("UNKNOWN")) status = "UNKNOWN";
  else status = "SUBMITTED";
  return { status, filled_quantity: filled, volume_left: left, avg_fill_price: avg, reject_reason: reject };
}
