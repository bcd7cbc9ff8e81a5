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
 * Then PostgreSQL's own part of the same two statements, spaced as above: `EXPLAIN ANALYZE` of each, prepared
 * on the server, gives its planning and execution time and the time of each foreign-key trigger it fired
 * (the commit's WAL flush, the network and the client are not in these figures). The server infers the
 * prepared parameters' types from the statement, where the driver sends its number arrays as text and the
 * statement casts them: that cast, a few microseconds, is not in these figures.
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
            if (counted) record(times, `${variants[v]}|${mode}`, performance.now() - t0);
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
      const server = await serverTimes(raw, statementOf, o);
      console.log(`\n${server}`);
      return `${text}\n\n${server}`;
    } finally {
      await sql.end();
      await raw.end();
    }
  });
}

/**
 * A value as an SQL literal, for the parameter kinds the intent statement has: text, a finite number, null,
 * a non-empty array of those, and the driver's `sql.array(...)` parameter (its `value` is the array).
 * Anything else (a JSON parameter, a date, bytes, an empty array, whose type a literal cannot carry) is
 * refused rather than rendered wrong.
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`sqlLiteral: ${v} is not a finite number`);
    // In parentheses when negative: `-1::text` would be read as `-(1::text)`.
    return v < 0 ? `(${v})` : String(v);
  }
  if (typeof v === "string") return `'${v.replaceAll("'", "''")}'`;
  const items = Array.isArray(v) ? v : arrayParameter(v);
  if (items === null) throw new Error(`sqlLiteral: cannot render ${Object.prototype.toString.call(v)}`);
  if (items.length === 0) throw new Error("sqlLiteral: an empty array has no type to render");
  return `ARRAY[${items.map(sqlLiteral).join(", ")}]`;
}

/** The elements of a postgres.js `sql.array(...)` parameter, else null (`sql.json(...)` has no `array`). */
function arrayParameter(v: unknown): unknown[] | null {
  const p = v as { value?: unknown; array?: unknown } | null;
  return typeof p === "object" && p !== null && Array.isArray(p.value) && Boolean(p.array) ? p.value : null;
}

/** Add one time to the list kept under `key`. */
function record(times: Map<string, number[]>, key: string, ms: number): void {
  const list = times.get(key) ?? [];
  list.push(ms);
  times.set(key, list);
}

/** One `EXPLAIN (ANALYZE, FORMAT JSON)` plan's times: planning, execution and each trigger's, ms. */
function planTimes(plan: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>([
    ["planning", plan["Planning Time"] as number],
    ["execution", plan["Execution Time"] as number],
  ]);
  for (const t of (plan.Triggers ?? []) as Record<string, unknown>[]) {
    const name = `trigger ${(t["Constraint Name"] ?? t["Trigger Name"]) as string} (${t.Calls} call(s))`;
    out.set(name, (out.get(name) ?? 0) + (t.Time as number));
  }
  return out;
}

/** PostgreSQL's own time for the store's intent statement and the floor's insert, taking turns, spaced. */
async function serverTimes(
  sql: postgres.Sql,
  statementOf: (id: string) => Promise<Sent>,
  o: StoreOptions,
): Promise<string> {
  const conn = await sql.reserve();
  try {
    const first = await statementOf("prepare-only");
    await conn.unsafe(`prepare bench_intent as ${first.text}`);
    await conn.unsafe(
      `prepare bench_floor_insert as insert into bench_floor (k, hop, body) values ($1, 1, $2)`,
    );
    const times = new Map<string, number[]>();
    for (let k = 0; k < o.turns; k++) {
      const sent = await statementOf(`e-${k}`);
      const body = sqlLiteral(JSON.stringify(intent(`y-${k}`).request));
      const runs: [string, string][] = [
        ["intent statement", `execute bench_intent(${sent.params.map(sqlLiteral).join(", ")})`],
        ["floor: insert", `execute bench_floor_insert(${k}, ${body})`],
      ];
      for (const [name, exec] of runs) {
        const [row] = await conn.unsafe(`explain (analyze, format json) ${exec}`);
        const plan = (row as Record<string, Record<string, unknown>[]>)["QUERY PLAN"][0];
        if (k >= o.turns / 5) {
          for (const [part, t] of planTimes(plan)) {
            record(times, `${name}: ${part}`, t);
          }
        }
        await sleep(o.gapMs);
      }
    }
    const rows = [...times].map(([key, list]) => {
      const s = summarize(list);
      return [key, String(s.n), ms(s.p50), ms(s.p90), ms(s.p99)];
    });
    return table([`PostgreSQL's own time, one every ${o.gapMs} ms`, "n", "p50 ms", "p90 ms", "p99 ms"], rows);
  } finally {
    await conn.unsafe("deallocate all").catch(() => {});
    conn.release();
  }
}

function ms(v: number): string {
  return v.toFixed(3);
}

if (import.meta.main) {
  await runStore({ turns: Deno.args.includes("--quick") ? 200 : 600, gapMs: 10 });
}
