/**
 * Diagnostic (`deno task bench -- store`): what recording one intent costs through the order store, next to
 * the same statement sent raw and to the floor's insert, in the same run and taking turns, one order every
 * 10 ms (the steady latency run's pace) and then back to back:
 *
 * - `OrderStore.recordIntents` of one intent (building its row and events, the statement, the record);
 * - the store's statement (`intentStatement(1)`) sent with `sql.unsafe` and parameters built beforehand, so
 *   PostgreSQL's part is the store's exactly and the difference is the store's own work;
 * - the floor's insert (one row into a table without indexes; `floor.ts`).
 *
 * Against a throwaway database on the local server, migrated as the service migrates it.
 *
 * @module
 */
import postgres from "postgres";
import { migrate } from "../lib/store/pg/migrate.ts";
import { INTENT_COLUMNS, intentStatement, type NewOrder, OrderStore } from "../lib/store/pg/order_store.ts";
import type { InsertRequest } from "../lib/orders/types.ts";
import { benchSql, sleep, withBenchDatabase } from "./harness.ts";
import { summarize, table } from "./stats.ts";

/** Sizes of one run. */
export interface StoreOptions {
  /** Turns per mode (the first fifth is not counted: warm-up). */
  turns: number;
  /** The pause between two writes in the spaced mode, ms. */
  gapMs: number;
}

const PORTFOLIO = "bench_store";
const HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function intent(id: string): NewOrder {
  const request = {
    order_id: id,
    portfolio_id: PORTFOLIO,
    symbol: "SHFE.rb2605",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: 3501,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    request_id: null,
    timestamp_ms: null,
  } as unknown as InsertRequest;
  const brokerId = `tbc00000000.${id}`;
  return {
    request,
    status: "SUBMITTED",
    source: "rabbitmq",
    broker_order_id: brokerId,
    request_hash: HASH,
    trading_day: "20251224",
    events: [
      { status: "RECEIVED", msg: { event: "received", source: "rabbitmq", request_id: null } },
      { status: "SUBMITTED", msg: { event: "submitted", broker_order_id: brokerId, warnings: [] } },
    ],
  };
}

/** The parameters of `intentStatement(1)` for the intent `id`, as the store builds them. */
function rawParams(sql: postgres.Sql, id: string): unknown[] {
  const i = intent(id);
  const r = i.request as InsertRequest;
  const row: Record<(typeof INTENT_COLUMNS)[number], unknown> = {
    portfolio_id: PORTFOLIO,
    id,
    status: i.status,
    symbol: r.symbol,
    direction: r.direction,
    offset: r.offset,
    volume: r.volume,
    limit_price: r.limit_price,
    price_type: r.price_type,
    time_condition: r.time_condition,
    volume_condition: r.volume_condition,
    volume_left: r.volume,
    broker_order_id: i.broker_order_id,
    reject_reason: null,
    source: i.source,
    request_hash: i.request_hash,
    parent_id: null,
    trading_day: i.trading_day,
  };
  return [
    ...INTENT_COLUMNS.map((c) => row[c]),
    PORTFOLIO,
    sql.array([id, id]),
    sql.array([1, 2]),
    sql.array(i.events.map((e) => e.status)),
    sql.array(i.events.map((e) => JSON.stringify(e.msg))),
  ];
}

/** Run both modes; print and return the table. */
export async function runStore(o: StoreOptions): Promise<string> {
  return await withBenchDatabase(async (db) => {
    const sql = benchSql(db, 1);
    const raw = benchSql(db, 1);
    try {
      await migrate(sql);
      await raw`create table bench_floor (k int not null, hop int not null, at timestamptz not null default now(), body text)`;
      const store = new OrderStore(sql as never, { portfolioId: PORTFOLIO });
      const modes = [`one every ${o.gapMs} ms`, "back to back"] as const;
      const times = new Map<string, number[]>();
      const record = (key: string, ms: number) => {
        const list = times.get(key) ?? [];
        list.push(ms);
        times.set(key, list);
      };
      const variants = ["OrderStore.recordIntents, 1 intent", "the same statement, raw", "floor: insert"];
      for (const [m, mode] of modes.entries()) {
        for (let k = 0; k < o.turns; k++) {
          const counted = k >= o.turns / 5;
          const body = JSON.stringify(intent(`x-${m}-${k}`).request);
          const steps = [
            () => store.recordIntents([intent(`s-${m}-${k}`)]),
            () =>
              raw.unsafe(
                intentStatement(1),
                rawParams(raw, `r-${m}-${k}`) as postgres.ParameterOrJSON<never>[],
                {
                  prepare: true,
                },
              ),
            () => raw`insert into bench_floor (k, hop, body) values (${k}, 1, ${body})`,
          ];
          for (const [v, step] of steps.entries()) {
            const t0 = performance.now();
            await step();
            if (counted) record(`${variants[v]}|${mode}`, performance.now() - t0);
            if (m === 0) await sleep(o.gapMs);
          }
        }
      }
      const rows: string[][] = [];
      for (const mode of modes) {
        const s = variants.map((v) => summarize(times.get(`${v}|${mode}`) ?? []));
        for (const [v, name] of variants.entries()) {
          rows.push([`${mode}: ${name}`, String(s[v].n), ms(s[v].p50), ms(s[v].p90), ms(s[v].p99)]);
        }
        rows.push([`${mode}: the store's own work (store − raw, p50)`, "", ms(s[0].p50 - s[1].p50), "", ""]);
      }
      const text = table([`store: ${o.turns} turns per mode`, "n", "p50 ms", "p90 ms", "p99 ms"], rows);
      console.log(`\n${text}`);
      return text;
    } finally {
      await sql.end();
      await raw.end();
    }
  });
}

function ms(v: number): string {
  return v.toFixed(3);
}

if (import.meta.main) {
  await runStore({ turns: Deno.args.includes("--quick") ? 200 : 600, gapMs: 10 });
}
