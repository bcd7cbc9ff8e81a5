/**
 * Test helper: a sim exchange of its own (not in a service's process), so it outlives the services a test
 * starts and stops, as a broker's servers do. Frozen clock inside a trading session, no random walk: quotes
 * move only when the test sets them.
 *
 * @module
 */
import { type Sim, startSim } from "../../lib/sim/mod.ts";

/** The book a test sets on a symbol (the band is wide around the rb prices the tests use). */
export interface TestBook {
  bid: number;
  ask: number;
  upper?: number;
  lower?: number;
}

/** A running external sim with a quote setter. */
export interface ExternalSim {
  sim: Sim;
  /** Set `symbol`'s book (last price = bid). */
  quote(symbol: string, book: TestBook): void;
}

/** Start an external sim with one `demo` account and `books` set (symbols activated). */
export async function startExternalSim(
  books: Record<string, TestBook>,
  options: { balance?: number } = {},
): Promise<ExternalSim> {
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock: "2025-12-24T10:00:00+08:00",
    seed: 1,
    tickMs: 0,
    frozenClock: true,
    accounts: [{ user: "demo", password: "demo", balance: options.balance ?? 10_000_000 }],
  });
  const quote = (symbol: string, b: TestBook) =>
    sim.market.setQuote(symbol, {
      bid_price1: b.bid,
      ask_price1: b.ask,
      last_price: b.bid,
      upper_limit: b.upper ?? 4000,
      lower_limit: b.lower ?? 3000,
    });
  sim.market.activate(Object.keys(books));
  for (const [symbol, book] of Object.entries(books)) quote(symbol, book);
  return { sim, quote };
}

/** Call a sim's control API (`/sim/…`): GET without a body, POST with one; throws on a non-2xx answer. */
export async function controlSim(
  sim: { baseUrl: string },
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${sim.baseUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
