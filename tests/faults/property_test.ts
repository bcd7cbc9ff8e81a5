/**
 * Property: whatever sequence of opens, closes, cancels and price moves on three symbols goes through the
 * service (REST), once it is quiet Redis, the `/ws` view (a WebSocket client open the whole time),
 * `/positions` and PostgreSQL agree with the sim exchange exactly (the audit, plus the two HTTP views).
 *
 * fast-check drives it (seeded, 20 runs of up to 30 steps); on a failure it shrinks to the smallest
 * sequence that still breaks and prints it. The runs share one service: each run starts from where the
 * previous one left the account, which the property does not mind (it compares, it does not predict).
 */
import fc from "fast-check";
import { assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  apiUrl,
  cleanupRedis,
  eventually,
  setBook,
  startTestService,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import { runAudit, simNet } from "./audit.ts";
import { faultConfig, waitSettled } from "./harness.ts";

const SYMBOLS = ["SHFE.rb2605", "DCE.m2605", "SHFE.au2606"] as const;
type Symbol = typeof SYMBOLS[number];
/** Starting bid of each symbol, in ticks. */
const BASE_TICKS: Record<Symbol, number> = { "SHFE.rb2605": 3500, "DCE.m2605": 2800, "SHFE.au2606": 30000 };
const TICK: Record<Symbol, number> = { "SHFE.rb2605": 1, "DCE.m2605": 1, "SHFE.au2606": 0.02 };
const BAND_TICKS = 400;

type Action =
  | { kind: "open"; symbol: Symbol; direction: "BUY" | "SELL"; volume: number; cross: boolean; away: number }
  | { kind: "close"; symbol: Symbol; direction: "BUY" | "SELL"; volume: number; cross: boolean }
  | { kind: "cancel"; pick: number }
  | { kind: "move"; symbol: Symbol; ticks: number };

const symbolArb = fc.constantFrom(...SYMBOLS);
const directionArb = fc.constantFrom("BUY" as const, "SELL" as const);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("open" as const),
    symbol: symbolArb,
    direction: directionArb,
    volume: fc.integer({ min: 1, max: 3 }),
    cross: fc.boolean(),
    away: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({
    kind: fc.constant("close" as const),
    symbol: symbolArb,
    direction: directionArb,
    volume: fc.integer({ min: 1, max: 3 }),
    cross: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat({ max: 50 }) }),
  fc.record({
    kind: fc.constant("move" as const),
    symbol: symbolArb,
    ticks: fc.integer({ min: -6, max: 6 }),
  }),
);

function price(symbol: Symbol, ticks: number): number {
  return Number((ticks * TICK[symbol]).toFixed(4));
}

/** The net positions the `/ws` stream has told its client, by symbol. */
class WsView {
  readonly net = new Map<string, number>();
  socket: WebSocket | null = null;
  errors: string[] = [];

  async open(url: string): Promise<void> {
    const socket = new WebSocket(url);
    this.socket = socket;
    let snapshot!: () => void;
    const first = new Promise<void>((r) => (snapshot = r));
    socket.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data));
      if (m.type === "snapshot") {
        this.net.clear();
        for (const p of m.positions as { symbol: string; net: number }[]) this.net.set(p.symbol, p.net);
        snapshot();
      } else if (m.type === "position") {
        this.net.set(m.position.symbol, m.position.net);
      }
    };
    socket.onerror = () => this.errors.push("websocket error");
    await first;
  }

  close(): void {
    this.socket?.close();
  }
}

Deno.test("property: after any sequence of opens, closes, cancels and moves, every view agrees with the sim", async () => {
  const names = testNames("prop");
  await withTestDatabase(async (db) => {
    const service = await startTestService(faultConfig(names, db, { rabbitUrl: null }));
    const redis = testRedis();
    const sql = testSql(db);
    const ws = new WsView();
    const bid: Record<Symbol, number> = { ...BASE_TICKS };
    let counter = 0;
    const placed: string[] = [];
    const sent: string[] = [];
    try {
      await eventually("ready", () => service.broker?.state().ready);
      const book = (s: Symbol) =>
        setBook(service, {
          symbol: s,
          bid: price(s, bid[s]),
          ask: price(s, bid[s] + 1),
          upper: price(s, BASE_TICKS[s] + BAND_TICKS),
          lower: price(s, BASE_TICKS[s] - BAND_TICKS),
        });
      for (const s of SYMBOLS) await book(s);
      await ws.open(`${apiUrl(service).replace(/^http/, "ws")}/ws`);

      const step = async (a: Action) => {
        if (a.kind === "move") {
          bid[a.symbol] = Math.max(
            BASE_TICKS[a.symbol] - BAND_TICKS + 10,
            Math.min(BASE_TICKS[a.symbol] + BAND_TICKS - 10, bid[a.symbol] + a.ticks),
          );
          await book(a.symbol);
          return;
        }
        if (a.kind === "cancel") {
          // Any order this run placed: working, just finished (its terminal write may still be queued) or
          // long finished. A cancel must never move a finished order back (202 or 409 are both fine).
          if (placed.length === 0) return;
          const id = placed[a.pick % placed.length];
          const r = await api(service, "DELETE", `/orders/${id}`);
          if (![202, 409].includes(r.status)) {
            throw new Error(`cancel ${id}: ${r.status} ${JSON.stringify(r.json)}`);
          }
          return;
        }
        const s = a.symbol;
        const ticks = a.kind === "open" && !a.cross
          ? (a.direction === "BUY" ? bid[s] - a.away : bid[s] + 1 + a.away)
          : (a.direction === "BUY" ? bid[s] + 1 : bid[s]);
        const id = `p${++counter}`;
        sent.push(id);
        const r = await api(service, "POST", "/orders", {
          symbol: s,
          direction: a.direction,
          offset: a.kind === "open" ? "OPEN" : "CLOSE",
          volume: a.volume,
          limit_price: price(s, ticks),
          order_id: id,
          portfolio_id: names.portfolio,
        });
        // 202 placed; 400 refused by a rule (e.g. nothing to close) — recorded either way
        if (r.status !== 202 && r.status !== 400) {
          throw new Error(`${id}: ${r.status} ${JSON.stringify(r.json)}`);
        }
        if (r.status === 202) placed.push(id);
      };

      const agree = async () => {
        await waitSettled(sql, names.portfolio, 0, 15_000);
        await eventually("every view agrees with the sim", async () => {
          const snapshot = service.sim!.engine().snapshot("demo");
          const problems = (await runAudit({
            portfolioId: names.portfolio,
            sql,
            snapshot: () => snapshot,
            redis,
            expectedIds: sent,
          })).problems;
          const positions = (await api(service, "GET", "/positions")).json as unknown as {
            symbol: string;
            net: number;
          }[];
          const rest = new Map(positions.map((p) => [p.symbol, p.net]));
          for (const [symbol, p] of Object.entries(snapshot.positions)) {
            const want = simNet(p);
            if ((rest.get(symbol) ?? 0) !== want) {
              problems.push(`/positions ${symbol}: ${rest.get(symbol)}, sim ${want}`);
            }
            if ((ws.net.get(symbol) ?? 0) !== want) {
              problems.push(`/ws ${symbol}: ${ws.net.get(symbol)}, sim ${want}`);
            }
          }
          if (problems.length > 0) throw new Error(problems.join("; "));
          return true;
        }, 8000);
      };

      await fc.assert(
        fc.asyncProperty(
          fc.array(actionArb, { minLength: 1, maxLength: 30, size: "max" }),
          async (actions) => {
            for (const a of actions) await step(a);
            await agree();
          },
        ),
        { numRuns: 20, seed: 424242, endOnFailure: false, interruptAfterTimeLimit: 150_000 },
      );
      assertEquals(ws.errors, []);
      const [{ n }] =
        await sql`select count(*)::int as n from order_history where portfolio_id = ${names.portfolio}`;
      console.log(`property: ${counter} orders over 20 runs, ${n} rows`);
    } finally {
      ws.close();
      await service.lifecycle.stop();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
    }
  });
});
