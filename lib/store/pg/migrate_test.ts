/**
 * Migrations against the real local PostgreSQL (127.0.0.1:5432, user postgres, trust auth). Each test creates
 * its own database `tbc_test_<random>` and drops it at the end.
 */
import postgres from "postgres";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { closeDatabase, connectDatabase, type Database, type ServerDatabaseConfig } from "./connect.ts";
import {
  appliedMigrations,
  migrate,
  migrationChecksum,
  migrationLockKey,
  quoteIdentifier,
} from "./migrate.ts";
import { MIGRATIONS, ORDER_STATUSES } from "./migrations.ts";

const SERVER: ServerDatabaseConfig = { host: "127.0.0.1", port: 5432, user: "postgres", dbname: "postgres" };

/** Creates a fresh database, runs `fn` with its config, drops it whatever happens. */
async function withDatabase(fn: (config: ServerDatabaseConfig) => Promise<void>): Promise<void> {
  const name = `tbc_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres({ ...SERVER, database: "postgres", max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${quoteIdentifier(name)}`);
    try {
      await fn({ ...SERVER, dbname: name });
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/** Connects, runs `fn`, closes. */
async function withClient(
  config: ServerDatabaseConfig,
  schema: string,
  fn: (sql: Database) => Promise<void>,
): Promise<void> {
  const sql = await connectDatabase(config, { schema, max: 2 });
  try {
    await fn(sql);
  } finally {
    await closeDatabase(sql);
  }
}

async function tablesIn(sql: Database, schema: string): Promise<string[]> {
  const rows = await sql`
    select table_name from information_schema.tables where table_schema = ${schema} order by table_name`;
  return rows.map((r) => r.table_name as string);
}

const ALL_TABLES = [
  "kill_switch",
  "kill_switch_event",
  "order_event",
  "order_history",
  "schema_migrations",
  "trade",
];

async function insertOrder(
  sql: Database,
  portfolio: string,
  id: string,
  extra: Record<string, unknown> = {},
) {
  const row = {
    portfolio_id: portfolio,
    id,
    status: "RECEIVED",
    symbol: "SHFE.rb2505",
    direction: "BUY",
    offset: "OPEN",
    volume: 2,
    limit_price: 3500.5,
    source: "rest",
    ...extra,
  };
  await sql`insert into order_history ${sql(row)}`;
}

Deno.test("quoteIdentifier quotes and refuses unusable names", () => {
  assertEquals(quoteIdentifier("public"), '"public"');
  assertEquals(quoteIdentifier('my "x"'), '"my ""x"""');
  assertThrows(() => quoteIdentifier(""));
  assertThrows(() => quoteIdentifier("a\0b"));
  assertThrows(() => quoteIdentifier("x".repeat(64)));
  assertEquals(quoteIdentifier("x".repeat(63)).length, 65);
});

Deno.test("migration list and lock key are well formed", async () => {
  assertEquals(MIGRATIONS.map((m) => m.version), [1]);
  assertMatch(await migrationChecksum("select 1"), /^[0-9a-f]{64}$/);
  const a = await migrationLockKey("public");
  assertEquals(a, await migrationLockKey("public"));
  assert(a !== await migrationLockKey("other"));
  assert(BigInt(a) >= -(2n ** 63n) && BigInt(a) < 2n ** 63n);
});

Deno.test("migrate creates every table, records version 1, and a second run is a no-op", async () => {
  await withDatabase(async (config) => {
    await withClient(config, "public", async (sql) => {
      assertEquals(await appliedMigrations(sql), []);
      assertEquals(await migrate(sql), [1]);
      assertEquals(await tablesIn(sql, "public"), ALL_TABLES);
      const first = await appliedMigrations(sql);
      assertEquals(first.map((m) => [m.version, m.name]), [[1, "orders_trades_kill_switch"]]);
      assertEquals(first[0].checksum, await migrationChecksum(MIGRATIONS[0].sql));
      assert(first[0].applied_at instanceof Date);

      assertEquals(await migrate(sql), []);
      assertEquals(await migrate(sql, { schema: "public" }), []);
      assertEquals((await appliedMigrations(sql)).length, 1);
      assertEquals(await tablesIn(sql, "public"), ALL_TABLES);
    });
  });
});

Deno.test("two clients migrating at once: the advisory lock serialises them, one applies", async () => {
  await withDatabase(async (config) => {
    const a = await connectDatabase(config, { schema: "race", max: 1 });
    const b = await connectDatabase(config, { schema: "race", max: 1 });
    try {
      const results = await Promise.all([migrate(a, { schema: "race" }), migrate(b, { schema: "race" })]);
      assertEquals(results.flat(), [1], `applied: ${JSON.stringify(results)}`);
      assertEquals((await appliedMigrations(a, { schema: "race" })).map((m) => m.version), [1]);
      assertEquals(await tablesIn(a, "race"), ALL_TABLES);
    } finally {
      await closeDatabase(a);
      await closeDatabase(b);
    }
  });
});

Deno.test("migrate applies each migration in its own transaction and stops on an edited one", async () => {
  await withDatabase(async (config) => {
    await withClient(config, "m", async (sql) => {
      const v1 = { version: 1, name: "one", sql: "CREATE TABLE t1 (x int);" };
      const bad2 = { version: 2, name: "two", sql: "CREATE TABLE t2 (x int); SELECT no_such_function();" };
      await assertRejects(() => migrate(sql, { schema: "m", migrations: [v1, bad2] }));
      // v1 committed, v2 rolled back entirely (t2 does not exist).
      assertEquals((await appliedMigrations(sql, { schema: "m" })).map((m) => m.version), [1]);
      assertEquals(await tablesIn(sql, "m"), ["schema_migrations", "t1"]);

      const good2 = { version: 2, name: "two", sql: "CREATE TABLE t2 (x int);" };
      assertEquals(await migrate(sql, { schema: "m", migrations: [v1, good2] }), [2]);
      assertEquals(await tablesIn(sql, "m"), ["schema_migrations", "t1", "t2"]);

      const edited1 = { ...v1, sql: "CREATE TABLE t1 (x bigint);" };
      const err = await assertRejects(() => migrate(sql, { schema: "m", migrations: [edited1, good2] }));
      assertMatch(err.message, /migration 1 was applied with different SQL/);

      const unordered = [good2, v1];
      await assertRejects(() => migrate(sql, { schema: "m", migrations: unordered }));
    });
  });
});

Deno.test("the schema option puts every table in that schema, created with a quoted name", async () => {
  await withDatabase(async (config) => {
    const schema = 'Broker "Connect"';
    await withClient(config, schema, async (sql) => {
      assertEquals(await migrate(sql, { schema }), [1]);
      assertEquals(await tablesIn(sql, schema), ALL_TABLES);
      assertEquals(await tablesIn(sql, "public"), []);
      // search_path points at the schema: unqualified names reach its tables.
      await insertOrder(sql, "demo", "o1");
      const [row] = await sql`select count(*) as n from ${sql(schema)}.order_history`;
      assertEquals(row.n, 1);
      // A second schema in the same database is independent.
      assertEquals(await migrate(sql, { schema: "second" }), [1]);
      assertEquals(await migrate(sql, { schema }), []);
    });
  });
});

Deno.test("order_history: status vocabulary, per-portfolio ids, completeness, unique broker order id", async () => {
  await withDatabase(async (config) => {
    await withClient(config, "public", async (sql) => {
      await migrate(sql);
      for (const [i, status] of ORDER_STATUSES.entries()) {
        await insertOrder(sql, "demo", `ok-${i}`, { status });
      }
      const bad = await assertRejects(() => insertOrder(sql, "demo", "bad", { status: "CANCELLED" }));
      assertMatch(bad.message, /check constraint/);
      await assertRejects(() => insertOrder(sql, "demo", "bad2", { status: "FAILED" }));
      await assertRejects(() => insertOrder(sql, "demo", "bad3", { direction: "buy" }));
      await assertRejects(() => insertOrder(sql, "demo", "bad4", { source: "kafka" }));
      await assertRejects(() => insertOrder(sql, "demo", "bad5", { volume: 0 }));

      // Same id: refused within a portfolio, allowed in another.
      await insertOrder(sql, "demo", "dup");
      const dup = await assertRejects(() => insertOrder(sql, "demo", "dup"));
      assertMatch(dup.message, /duplicate key/);
      await insertOrder(sql, "other", "dup");

      // A refused request may lack its fields; any other status may not.
      await insertOrder(sql, "demo", "rej", {
        status: "REJECTED",
        symbol: null,
        direction: null,
        offset: null,
        volume: null,
        limit_price: null,
        reject_reason: "volume: expected integer >= 1",
      });
      await assertRejects(() => insertOrder(sql, "demo", "incomplete", { symbol: null }));

      // broker_order_id is unique; NULLs do not collide.
      await insertOrder(sql, "demo", "b1", { broker_order_id: "TBC_abc" });
      await assertRejects(() => insertOrder(sql, "other", "b2", { broker_order_id: "TBC_abc" }));

      // filled_quantity cannot exceed volume; parent must exist.
      await assertRejects(() => insertOrder(sql, "demo", "over", { filled_quantity: 3 }));
      await insertOrder(sql, "demo", "dup_closetoday", {
        source: "split",
        parent_id: "dup",
        offset: "CLOSETODAY",
      });
      await assertRejects(() =>
        insertOrder(sql, "demo", "orphan_close", { source: "split", parent_id: "nope" })
      );

      const [row] = await sql`
        select limit_price, filled_quantity, "offset", created_at from order_history
        where portfolio_id = 'demo' and id = 'dup'`;
      assertEquals(row.limit_price, "3500.5");
      assertEquals(row.filled_quantity, 0);
      assertEquals(row.offset, "OPEN");
      assert(row.created_at instanceof Date);
      const [n] = await sql`select count(*) as n from order_history`;
      assertEquals(n.n, ORDER_STATUSES.length + 5);
    });
  });
});

Deno.test("order_event and kill_switch_event are append-only; order_event seq is unique per order", async () => {
  await withDatabase(async (config) => {
    await withClient(config, "ev", async (sql) => {
      await migrate(sql, { schema: "ev" });
      await insertOrder(sql, "demo", "o1");
      await insertOrder(sql, "other", "o1");
      await sql`insert into order_event (portfolio_id, id, seq, status, msg)
                values ('demo', 'o1', 1, 'RECEIVED', '{"volume":2}'),
                       ('demo', 'o1', 2, 'SUBMITTED', null),
                       ('other', 'o1', 1, 'RECEIVED', '{}')`;
      await assertRejects(() =>
        sql`insert into order_event (portfolio_id, id, seq, status) values ('demo', 'o1', 2, 'ACCEPTED')`
      );
      await assertRejects(() =>
        sql`insert into order_event (portfolio_id, id, seq, status) values ('demo', 'o1', 3, 'DONE')`
      );
      await assertRejects(() =>
        sql`insert into order_event (portfolio_id, id, seq, status, msg) values ('demo', 'o1', 3, 'ACCEPTED', 'not json')`
      );
      await assertRejects(() =>
        sql`insert into order_event (portfolio_id, id, seq, status) values ('demo', 'missing', 1, 'RECEIVED')`
      );

      const upd = await assertRejects(() => sql`update order_event set status = 'FILLED' where id = 'o1'`);
      assertMatch(upd.message, /order_event is append-only: UPDATE refused/);
      const del = await assertRejects(() => sql`delete from order_event where seq = 2`);
      assertMatch(del.message, /order_event is append-only: DELETE refused/);
      const trunc = await assertRejects(() => sql`truncate order_event`);
      assertMatch(trunc.message, /append-only: TRUNCATE refused/);

      const events =
        await sql`select event_id, portfolio_id, seq, status, msg from order_event order by event_id`;
      assertEquals(events.map((e) => [e.portfolio_id, e.seq, e.status]), [
        ["demo", 1, "RECEIVED"],
        ["demo", 2, "SUBMITTED"],
        ["other", 1, "RECEIVED"],
      ]);
      assertEquals(typeof events[0].event_id, "number");
      assertEquals(JSON.parse(events[0].msg), { volume: 2 });

      await sql`insert into kill_switch_event (portfolio_id, mode, reason, set_by) values ('demo', 'HALT', 'test', 'ops')`;
      await assertRejects(() => sql`update kill_switch_event set mode = 'OFF'`);
      await assertRejects(() => sql`delete from kill_switch_event`);
      await assertRejects(() =>
        sql`insert into kill_switch_event (portfolio_id, mode) values ('demo', 'PANIC')`
      );
    });
  });
});

Deno.test("trade is keyed by (portfolio_id, trade_id); kill_switch by (portfolio_id, symbol)", async () => {
  await withDatabase(async (config) => {
    await withClient(config, "public", async (sql) => {
      await migrate(sql);
      const trade = {
        portfolio_id: "demo",
        trade_id: "TBC_1|1",
        order_id: "o1",
        broker_order_id: "TBC_1",
        symbol: "SHFE.rb2505",
        direction: "SELL",
        offset: "CLOSETODAY",
        price: 3501,
        volume: 1,
        commission: 1.23,
        trade_date_time: new Date("2025-12-24T02:00:00Z"),
      };
      await sql`insert into trade ${sql(trade)}`;
      const again = await sql`insert into trade ${sql(trade)} on conflict do nothing returning trade_id`;
      assertEquals(again.length, 0);
      await sql`insert into trade ${sql({ ...trade, portfolio_id: "other" })}`;
      const rows = await sql`select price, commission, volume from trade where portfolio_id = 'demo'`;
      assertEquals(rows.map((r) => ({ ...r })), [{ price: "3501", commission: "1.23", volume: 1 }]);

      await sql`insert into kill_switch (portfolio_id, mode, reason, set_by) values ('demo', 'HALT', 'r', 'ops')`;
      await sql`insert into kill_switch (portfolio_id, symbol, mode) values ('demo', 'SHFE.rb2505', 'REDUCE_ONLY')`;
      await assertRejects(() => sql`insert into kill_switch (portfolio_id, mode) values ('demo', 'OFF')`);
      await sql`insert into kill_switch (portfolio_id, mode) values ('demo', 'OFF')
                on conflict (portfolio_id, symbol) do update set mode = excluded.mode, updated_at = now()`;
      const ks = await sql`select symbol, mode from kill_switch order by symbol`;
      assertEquals(ks.map((r) => [r.symbol, r.mode]), [["", "OFF"], ["SHFE.rb2505", "REDUCE_ONLY"]]);
    });
  });
});
