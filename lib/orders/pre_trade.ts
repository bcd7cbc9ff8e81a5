/**
 * Trading safety plugged into the send gate: the pre-trade rules of `rules/` (exchange rules, sessions,
 * desk limits, rates, cancel counts) fed with what the broker knows now — the instrument, the latest quote,
 * our position and our working orders (including the ones the gate passed that the broker does not show
 * yet) — plus the hooks that count what was sent. A passing insert hands the gate the exact tick-grid price
 * to send and the refund of its insert token (for an order that is not sent after all); a cancel is counted
 * under the contract of the order's record.
 *
 * @module
 */

import type { Broker, BrokerOrderView } from "../broker/types.ts";
import { parseBrokerOrderId } from "../broker/order_ids.ts";
import { type CancelContext, PreTradeRules } from "./rules/mod.ts";
import type { CancelCheck, GateRefusal, InsertCheck, InsertCheckPass } from "./send_gate.ts";
import type { Decision } from "./rules/types.ts";

/** What the checks read besides the rules. */
export interface PreTradeDeps {
  broker: Broker;
  portfolioId: string;
  /** Local clock, epoch ms. */
  now: () => number;
  /** The broker session's trading day. */
  tradingDay: () => string;
}

function asGate(decision: Decision): GateRefusal | { warnings: string[] } | null {
  if (!decision.ok) return decision.refusal;
  return decision.warnings && decision.warnings.length > 0 ? { warnings: decision.warnings } : null;
}

/**
 * The insert rules' answer for the gate: a refusal, or a pass that carries the exact tick-grid price to
 * send and the refund of the insert token it spent (every pass of `checkInsert` spent one).
 */
function insertAnswer(decision: Decision, rules: PreTradeRules): GateRefusal | InsertCheckPass {
  if (!decision.ok) return decision.refusal;
  return {
    warnings: decision.warnings ?? [],
    ...(decision.limit_price !== undefined ? { limit_price: decision.limit_price } : {}),
    undo: () => rules.refundInsert(),
  };
}

/** The gate checks and send hooks of `rules`. */
export function preTradeChecks(rules: PreTradeRules, deps: PreTradeDeps): {
  insert: InsertCheck[];
  cancel: CancelCheck[];
  onSent: (kind: "insert" | "cancel", brokerOrderId: string, symbol: string | null) => void;
} {
  const { broker, portfolioId } = deps;
  const ours = (o: BrokerOrderView) => parseBrokerOrderId(o.broker_order_id, portfolioId) !== null;
  const insert: InsertCheck = (request, context) => {
    const seen = new Set<string>();
    const working: BrokerOrderView[] = [];
    for (const o of broker.workingOrders(request.symbol)) {
      if (!ours(o)) continue;
      working.push(o);
      seen.add(o.broker_order_id);
    }
    for (const o of context.pending) {
      if (o.symbol === request.symbol && !seen.has(o.broker_order_id)) working.push(o);
    }
    return insertAnswer(
      rules.checkInsert({
        request,
        instrument: broker.instrument(request.symbol),
        quote: broker.quote(request.symbol),
        nowMs: deps.now(),
        position: broker.position(request.symbol),
        workingOrders: working,
      }),
      rules,
    );
  };
  const cancelContext = (symbol: string): CancelContext => ({
    symbol,
    tradingDay: deps.tradingDay(),
    nowMs: deps.now(),
  });
  const cancel: CancelCheck = (order) => asGate(rules.checkCancel(cancelContext(order.symbol ?? "")));
  return {
    insert: [insert],
    cancel: [cancel],
    onSent(kind, _brokerOrderId, symbol) {
      if (kind === "insert") rules.recordInsert(deps.now());
      else rules.recordCancel(cancelContext(symbol ?? ""));
    },
  };
}

/**
 * Make sure the broker has a quote of `symbol` before the rules judge an order on it: subscribe when the
 * symbol is in the contract file and no quote arrived yet, then wait (bounded) for the first quote. An
 * unknown symbol or a quote that does not come is left to the rules (UNKNOWN_SYMBOL / NO_QUOTE).
 */
export function awaitQuote(broker: Broker, symbol: string, timeoutMs: number): Promise<void> {
  if (broker.quote(symbol) || !broker.instrument(symbol)) return Promise.resolve();
  broker.subscribeQuotes([symbol]);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const unsubscribe = broker.subscribe((event) => {
      if (event.type === "quote" && event.quote.symbol === symbol) done();
    });
  });
}
