/**
 * A FLATTEN interrupted by a crash is run again at start: the exchange (an external sim that outlives the
 * service) still holds the position, the persisted kill switch says FLATTEN, and the new instance closes
 * the position once it may send, recording the resumption as a change by `system`.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  eventually,
  insertRequest,
  startTestService,
  testConfig,
  testNames,
  testSql,
} from "../helpers/service.ts";
import { startExternalSim } from "../helpers/external_sim.ts";

Deno.test("kill switch: a FLATTEN in force at start is resumed and closes what is still open", async () => {
  const names = testNames("resume");
  const { sim } = await startExternalSim({ "SHFE.rb2605": { bid: 3500, ask: 3501 } });
  try {
    await withTestDatabase(async (db) => {
      const config = testConfig(names, db, { redis: false, rabbitmq: false, extra: `` });
      config.tq.sim_url = sim.baseUrl;
      const sql = testSql(db);
      try {
        const first = await startTestService(config);
        try {
          await eventually("ready", () => first.broker?.state().ready);
          assertEquals(
            (await api(
              first,
              "POST",
              "/orders",
              insertRequest(names, "r-1", { limit_price: 3501, volume: 2 }),
            )).status,
            202,
          );
          await eventually(
            "long 2 at the exchange",
            () => sim.engine().snapshot("demo").positions["SHFE.rb2605"]?.volume_long === 2,
          );
        } finally {
          await first.lifecycle.stop();
        }
        // the crash came right after FLATTEN was persisted, before any closing order left
        await sql`insert into kill_switch (portfolio_id, symbol, mode, reason, set_by)
                  values (${names.portfolio}, '', 'FLATTEN', 'desk risk limit', 'ops')`;

        const second = await startTestService(config);
        try {
          await eventually(
            "flat at the exchange",
            () => (sim.engine().snapshot("demo").positions["SHFE.rb2605"]?.volume_long ?? 0) === 0,
            15_000,
          );
          const events = await sql`select mode, reason, set_by from kill_switch_event order by event_id`;
          assert(
            events.some((e) =>
              e.set_by === "system" && e.mode === "FLATTEN" && String(e.reason).includes("desk risk limit")
            ),
            JSON.stringify(events),
          );
          // FLATTEN stays in force: new orders are still refused
          const refused = await api(
            second,
            "POST",
            "/orders",
            insertRequest(names, "r-2", { limit_price: 3400 }),
          );
          assertEquals(refused.json.code, "KILL_SWITCH");
        } finally {
          await second.lifecycle.stop();
        }
      } finally {
        await sql.end();
      }
    });
  } finally {
    await sim.close();
  }
});
