/**
 * KillSwitchStore against the real local PostgreSQL: upsert + append-only event in one transaction, two
 * portfolios apart, state reloaded by a new store (what a restart sees).
 */
import { assertEquals, assertRejects } from "../../../tests/assert.ts";
import { withTestDatabase } from "../../../tests/helpers/pg.ts";
import { closeDatabase, connectDatabase } from "./connect.ts";
import { migrate } from "./migrate.ts";
import { KillSwitchStore } from "./kill_switch_store.ts";

Deno.test("KillSwitchStore: changes are upserted per scope, every change is an event, a new store reloads", async () => {
  await withTestDatabase(async (db) => {
    const sql = await connectDatabase(db, { max: 2 });
    try {
      await migrate(sql);
      const store = new KillSwitchStore(sql, { portfolioId: "demo" });
      const other = new KillSwitchStore(sql, { portfolioId: "other" });
      assertEquals(await store.load(), []);

      const a = await store.set({ mode: "HALT", symbol: "", reason: "desk closed", set_by: "alice" });
      const b = await store.set({
        mode: "REDUCE_ONLY",
        symbol: "SHFE.rb2605",
        reason: "rb limit",
        set_by: "bob",
      });
      const c = await store.set({ mode: "OFF", symbol: "", reason: "reopened", set_by: "carol" });
      await other.set({ mode: "FLATTEN", symbol: "", reason: "other desk", set_by: "dave" });
      assertEquals(a.entry.mode, "HALT");
      assertEquals(a.entry.set_by, "alice");
      assertEquals(b.event_id > a.event_id && c.event_id > b.event_id, true);

      const reloaded = await new KillSwitchStore(sql, { portfolioId: "demo" }).load();
      assertEquals(
        reloaded.map((e) => [e.symbol, e.mode, e.reason, e.set_by]),
        [["", "OFF", "reopened", "carol"], ["SHFE.rb2605", "REDUCE_ONLY", "rb limit", "bob"]],
      );
      assertEquals(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(reloaded[0].updated_at), true);

      const history = await store.history();
      assertEquals(
        history.map((e) => [e.event_id, e.symbol, e.mode, e.set_by]),
        [[c.event_id, "", "OFF", "carol"], [b.event_id, "SHFE.rb2605", "REDUCE_ONLY", "bob"], [
          a.event_id,
          "",
          "HALT",
          "alice",
        ]],
      );
      assertEquals((await other.load()).map((e) => e.mode), ["FLATTEN"]);

      // An invalid mode is refused by the table and leaves neither the state nor an event behind.
      await assertRejects(() => store.set({ mode: "PANIC" as "OFF", symbol: "", reason: "x", set_by: "y" }));
      assertEquals((await store.history()).length, 3);
      // The history is append-only.
      await assertRejects(() => sql`update kill_switch_event set reason = 'rewritten'`);
    } finally {
      await closeDatabase(sql);
    }
  });
});
