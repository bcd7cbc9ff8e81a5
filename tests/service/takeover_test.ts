/**
 * Two instances of one portfolio on one PostgreSQL database and one exchange (an external sim both log in
 * to, as two terminals of a real account): only the lease holder records and sends; the standby records
 * nothing and refuses kill-switch changes; when the holder goes, the standby takes over its state: the open
 * orders it placed (also those placed after the standby started, whose rows may be behind), an intent it
 * committed but never sent, and the kill switch it set.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  api,
  eventually,
  insertRequest,
  startTestService,
  testConfig,
  type TestNames,
  testNames,
  testSql,
} from "../helpers/service.ts";
import { startExternalSim } from "../helpers/external_sim.ts";
import { openTqClient } from "../helpers/tq_client.ts";
import { deriveBrokerOrderId } from "../../lib/broker/order_ids.ts";
import type { Service } from "../../lib/service.ts";

const RB = "SHFE.rb2605";

function status(sql: ReturnType<typeof testSql>, id: string): Promise<string | undefined> {
  return sql`select status from order_history where id = ${id}`.then((r) => r[0]?.status as string);
}

async function post(service: Service, names: TestNames, id: string, fields: Record<string, unknown>) {
  return await api(service, "POST", "/orders", insertRequest(names, id, fields));
}

Deno.test("takeover: the standby records nothing, then adopts the holder's orders and kill switch", async () => {
  const names = testNames("takeover");
  const { sim, quote: setBook } = await startExternalSim({ [RB]: { bid: 3500, ask: 3501 } });
  const quote = (bid: number, ask: number) => setBook(RB, { bid, ask });
  try {
    await withTestDatabase(async (db) => {
      const config = testConfig(names, db, { redis: false, rabbitmq: false });
      config.tq.sim_url = sim.baseUrl;
      const sql = testSql(db);
      const first = await startTestService(config);
      let second: Service | null = null;
      try {
        await eventually("first ready", () => first.broker?.state().ready);
        assertEquals((await post(first, names, "t-1", { limit_price: 3400 })).status, 202);
        await eventually("t-1 accepted", async () => (await status(sql, "t-1")) === "ACCEPTED");

        second = await startTestService(config, { takeoverGraceMs: 300 });
        const standby = second;
        await eventually("second broker ready", () => standby.broker?.state().ready);
        assertEquals(standby.lease?.held, false);
        assertEquals(standby.tracker?.active, false);

        // Placed after the standby started: the standby sees it at the exchange but must not record it.
        assertEquals((await post(first, names, "t-2", { limit_price: 3410 })).status, 202);
        await eventually("t-2 accepted", async () => (await status(sql, "t-2")) === "ACCEPTED");
        await eventually(
          "the standby's broker shows t-2",
          () => standby.broker?.order(deriveBrokerOrderId(names.portfolio, "t-2")),
        );

        // Only the holder changes the kill switch; the standby refuses, and nothing is written.
        const refused = await api(standby, "PUT", "/kill-switch", { mode: "HALT", reason: "wrong instance" });
        assertEquals(refused.status, 503, JSON.stringify(refused.json));
        assertEquals(refused.json.code, "NOT_LEADER");
        assertEquals((await sql`select count(*)::int as n from kill_switch_event`)[0].n, 0);
        const halt = await api(first, "PUT", "/kill-switch", {
          mode: "HALT",
          symbol: "DCE.m2605",
          reason: "desk says so",
        });
        assertEquals(halt.status, 200, JSON.stringify(halt.json));

        // An intent the holder committed and then died before sending (written as its executor writes it).
        const ghost = deriveBrokerOrderId(names.portfolio, "t-ghost");
        await sql`insert into order_history (portfolio_id, id, status, symbol, direction, "offset", volume,
                    limit_price, price_type, time_condition, volume_condition, volume_left, filled_quantity,
                    broker_order_id, source)
                  values (${names.portfolio}, 't-ghost', 'SUBMITTED', ${RB}, 'BUY', 'OPEN', 1, 3420, 'LIMIT',
                    'GFD', 'ANY', 1, 0, ${ghost}, 'rest')`;
        await sql`insert into order_event (portfolio_id, id, seq, status, msg)
                  values (${names.portfolio}, 't-ghost', 1, 'RECEIVED', '{}'),
                         (${names.portfolio}, 't-ghost', 2, 'SUBMITTED', '{}')`;

        await first.lifecycle.stop();
        await eventually("second takes over", () => standby.lease?.held && standby.tracker?.active, 10_000);
        await eventually("the standby is active on /health", async () => {
          const h = await api(standby, "GET", "/health");
          return (h.json.components as Record<string, Record<string, unknown>>).lease.role === "active";
        });

        // The ghost never reached the exchange: decided from the new holder's view, never sent by it.
        await eventually("t-ghost decided", async () => (await status(sql, "t-ghost")) === "REJECTED");
        const [ghostRow] = await sql`select reject_reason from order_history where id = 't-ghost'`;
        assert(String(ghostRow.reject_reason).startsWith("NOT_AT_BROKER"), ghostRow.reject_reason);
        assertEquals(sim.engine().snapshot("demo").orders[ghost], undefined);

        // Both resting orders are followed by the new holder: they fill and are recorded FILLED.
        quote(3390, 3391);
        await eventually("t-1 filled", async () => (await status(sql, "t-1")) === "FILLED");
        await eventually("t-2 filled", async () => (await status(sql, "t-2")) === "FILLED");
        const trades = await sql`select order_id from trade order by order_id`;
        assertEquals(trades.map((t) => t.order_id), ["t-1", "t-2"]);

        // The kill switch the old holder set is in force on the new one.
        const m = await post(standby, names, "t-3", { symbol: "DCE.m2605", limit_price: 3000 });
        assertEquals(m.status, 400, JSON.stringify(m.json));
        assertEquals(m.json.code, "KILL_SWITCH");
        const t4 = await post(standby, names, "t-4", { limit_price: 3391 });
        assertEquals(t4.status, 202, JSON.stringify(t4.json));
        await eventually("t-4 filled", async () => (await status(sql, "t-4")) === "FILLED");

        // Every order's events run 1, 2, … with no duplicate step written by two instances.
        const seqs =
          await sql`select id, array_agg(seq order by seq) as seqs, array_agg(status order by seq) as st
                               from order_event group by id order by id`;
        for (const r of seqs) {
          assertEquals(r.seqs, r.seqs.map((_: number, k: number) => k + 1), `${r.id}: ${r.st}`);
          assertEquals(new Set(r.st).size, r.st.length, `${r.id} has a repeated status: ${r.st}`);
        }
      } finally {
        await second?.lifecycle.stop();
        await first.lifecycle.stop().catch(() => {});
        await sql.end();
      }
    });
  } finally {
    await sim.close();
  }
});

Deno.test("restart: what happened at the exchange while the service was down is recorded at start", async () => {
  const names = testNames("downtime");
  const { sim, quote: setBook } = await startExternalSim({ [RB]: { bid: 3500, ask: 3501 } });
  const quote = (bid: number, ask: number) => setBook(RB, { bid, ask });
  try {
    await withTestDatabase(async (db) => {
      const config = testConfig(names, db, { redis: false, rabbitmq: false });
      config.tq.sim_url = sim.baseUrl;
      const sql = testSql(db);
      try {
        const first = await startTestService(config);
        try {
          await eventually("ready", () => first.broker?.state().ready);
          assertEquals((await post(first, names, "d-1", { limit_price: 3400 })).status, 202);
          await eventually("d-1 accepted", async () => (await status(sql, "d-1")) === "ACCEPTED");
        } finally {
          await first.lifecycle.stop();
        }
        // While the service is down: another terminal places an order, and ours fills.
        const other = await openTqClient(sim.baseUrl, { user: "demo", password: "demo" });
        try {
          other.sendTrade({
            aid: "insert_order",
            user_id: "demo",
            order_id: "desk-manual-1",
            exchange_id: "SHFE",
            instrument_id: "rb2605",
            direction: "BUY",
            offset: "OPEN",
            volume: 2,
            price_type: "LIMIT",
            limit_price: 3300,
            volume_condition: "ANY",
            time_condition: "GFD",
          });
          await eventually(
            "the manual order rests",
            () => sim.engine().snapshot("demo").orders["desk-manual-1"],
          );
        } finally {
          other.close();
        }
        quote(3390, 3391);
        await eventually(
          "d-1 filled at the exchange",
          () => sim.engine().snapshot("demo").positions[RB]?.volume_long === 1,
        );

        const second = await startTestService(config);
        try {
          await eventually(
            "d-1 FILLED from the first snapshot",
            async () => (await status(sql, "d-1")) === "FILLED",
          );
          const [ext] = await eventually("the manual order recorded as external", async () => {
            const rows =
              await sql`select id, source, status, volume from order_history where source = 'external'`;
            return rows.length > 0 ? rows : null;
          });
          assertEquals([ext.source, ext.status, ext.volume], ["external", "ACCEPTED", 2]);
          const trades = await sql`select order_id from trade`;
          assertEquals(trades.map((t) => t.order_id), ["d-1"]);
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
