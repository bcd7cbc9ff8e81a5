/**
 * The embedded PostgreSQL (PGlite over pglite-socket). One test only: a first start costs ~3 s and ~700 MiB.
 */
import postgres from "postgres";
import { assert, assertEquals, assertMatch, assertRejects } from "../../../tests/assert.ts";
import { closeDatabase, connectDatabase } from "./connect.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { appliedMigrations, migrate } from "./migrate.ts";

Deno.test("embedded database: created in a new folder, migrated, and its data survives stop and restart", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tbc_pglite_" });
  const dir = `${tmp}/nested/pg`;
  try {
    // First life, through connectDatabase (which starts the server) with a non-public schema.
    const sql = await connectDatabase({ embedded: dir }, { schema: "tbc" });
    try {
      assertEquals(await migrate(sql, { schema: "tbc" }), [1]);
      const [cs] = await sql`select current_schema() as s`;
      assertEquals(cs.s, "tbc");
      assertEquals(await migrate(sql, { schema: "tbc" }), []);
      await sql`insert into order_history (portfolio_id, id, status, symbol, direction, "offset", volume,
                                           limit_price, source)
                values ('demo', 'persist-1', 'ACCEPTED', 'SHFE.rb2505', 'BUY', 'OPEN', 3, 3500.2, 'rest')`;
      await sql`insert into order_event (portfolio_id, id, seq, status, msg)
                values ('demo', 'persist-1', 1, 'ACCEPTED', '{}')`;
      const upd = await assertRejects(() => sql`update order_event set status = 'FILLED'`);
      assertMatch(upd.message, /append-only/);
      // Concurrent clients on the shared backend: a transaction and plain queries interleave safely.
      const [, count] = await Promise.all([
        sql.begin(async (tx) => {
          await tx`insert into kill_switch (portfolio_id, mode) values ('demo', 'HALT')`;
          await tx`insert into kill_switch_event (portfolio_id, mode) values ('demo', 'HALT')`;
        }),
        sql`select count(*) as n from order_history`,
      ]);
      assertEquals(count[0].n, 1);
    } finally {
      await closeDatabase(sql);
    }
    assert((await Deno.stat(dir)).isDirectory);

    // Second life: the server alone, on an ephemeral port, the same folder.
    const server = await startEmbeddedPostgres(dir);
    try {
      assert(server.port !== undefined && server.port > 0);
      const again = await assertRejects(() => startEmbeddedPostgres(dir));
      assertMatch(again.message, /already open/);
      const client = postgres({
        host: server.host,
        port: server.port,
        user: server.user,
        database: server.database,
        prepare: false,
        max: 1,
        onnotice: () => {},
      });
      try {
        const rows = await client`select id, status, limit_price, volume from tbc.order_history`;
        assertEquals(rows.map((r) => ({ ...r })), [
          { id: "persist-1", status: "ACCEPTED", limit_price: "3500.2", volume: 3 },
        ]);
        const ks = await client`select mode from tbc.kill_switch where portfolio_id = 'demo'`;
        assertEquals(ks.map((r) => r.mode), ["HALT"]);
        assertEquals((await appliedMigrations(client, { schema: "tbc" })).map((m) => m.version), [1]);
        assertEquals(await migrate(client, { schema: "tbc" }), []);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
      await server.stop(); // idempotent
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
