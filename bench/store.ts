/**
 * Diagnostic (`deno task bench -- store`): what recording one intent costs through the order store, next to
 * the same statement sent raw and to the floor's insert, in the same run and taking turns, one order every
 * 10 ms (the steady latency run's pace) and then back to back:
 *
 * - `OrderStore.recordIntents` of one intent (building its row and events, the statement, the record);
 * - the store's statement with the parameters the store built for it (captured from a second store, not
 *   timed), sent with `sql.unsafe`, so PostgreSQL's part is the store's exactly and the difference is the
 *   store's own work;
 * - the floor's insert (one row into a table without indexes; `floor.ts`).
 *
 * Against a throwaway database on the local server, migrated as the service migrates it.
 *
 * @module
 */
import postgres from "postgres";
import { migrate } from "../lib/store/pg/migrate.ts";
import { type NewOrder, OrderStore } from "../lib/store/pg/order_store.ts";
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

/** A statement and its parameters, as the store sent them. */
interface Sent {
  text: string;
  params: unknown[];
}

/**
 * A client that hands the store's `unsafe` statements to `sent` instead of running them (answering as if
 * each intent was inserted); everything else goes to `sql`. The raw turns replay exactly what the store sent.
 */
function capturing(sql: postgres.Sql, sent: (s: Sent) => void, id: () => string): postgres.Sql {
  return new Proxy(sql, {
    get(target, key, receiver) {
      if (key !== "unsafe") return Reflect.get(target, key, receiver);
      return (text: string, params: unknown[]) => {
        sent({ text, params });
        return Promise.resolve([{ id: id(), created_at: new Date().toISOString() }]);
      };
    },
  });
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
      let captured: Sent | null = null;
      let capturedId = "";
      const capture = new OrderStore(
        capturing(sql, (s) => captured = s, () => capturedId) as never,
        { portfolioId: PORTFOLIO },
      );
      const statementOf = async (id: string): Promise<Sent> => {
        capturedId = id;
        await capture.recordIntents([intent(id)]);
        return captured!;
      };
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
          const rawStatement = await statementOf(`r-${m}-${k}`); // not timed
          const steps = [
            () => store.recordIntents([intent(`s-${m}-${k}`)]),
            () =>
              raw.unsafe(rawStatement.text, rawStatement.params as postgres.ParameterOrJSON<never>[], {
                prepare: true,
              }),
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
