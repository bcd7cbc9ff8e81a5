/**
 * Malformed position lot counts, end to end: frames injected on the sim's trade socket go through the real
 * tqsdk client, the broker, the live view and the hub into the real Redis. An overflowing `1e400` (which our
 * parser turns into `null`, which tqsdk's merge deletes), a bare `NaN`, `-5`, `1.5`, `"2"` or `null` never
 * makes a held position read as flat or fractional: the last good value stays, with a warning; a new
 * position without a good value is not published; a snapshot holding one is not used (not ready, an error)
 * until the server sends the position whole again.
 */
import { assert, assertEquals } from "../assert.ts";
import type { LogRecord } from "@logtape/logtape";
import { breakdownKey, metaKey, positionKey } from "../../lib/sinks/redis_positions.ts";
import type { Sim } from "../../lib/sim/mod.ts";
import { book, control, withSim } from "./env.ts";
import { demoOrder, type Pipeline, until, withPipeline } from "./pipeline.ts";

const RB = "SHFE.rb2605";
const M = "DCE.m2605";

function positionFrame(symbol: string, fields: string): string {
  return `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":{"${symbol}":{${fields}}}}}},{}]}`;
}

function inject(sim: Sim, text: string): Promise<Record<string, unknown>> {
  return control(sim, "/sim/inject", { kind: "trade", user: "demo", text });
}

function lotLogs(logs: LogRecord[], level: LogRecord["level"], symbol = RB): LogRecord[] {
  return logs.filter((r) =>
    r.level === level && r.properties.symbol === symbol &&
    String(r.rawMessage).startsWith("malformed lot count")
  );
}

async function redisState(p: Pipeline): Promise<{ net: string | null; breakdown: Record<string, unknown> }> {
  await p.writer.flushed();
  const [net, breakdown] = await Promise.all([
    p.redis.get(positionKey(p.portfolio, RB)),
    p.redis.get(breakdownKey(p.portfolio, RB)),
  ]);
  const { updated_at: _, ...lots } = JSON.parse(breakdown ?? "{}");
  return { net, breakdown: lots };
}

Deno.test("malformed lot counts from the trade socket keep the last good value in the view, the hub and Redis", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("buy-2", { volume: 2 })), { ok: true });
      await until("redis 2", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "2");
      const good = await redisState(p);
      assertEquals(good, {
        net: "2",
        breakdown: {
          pos_long: 2,
          pos_short: 0,
          pos_long_today: 2,
          pos_long_his: 0,
          pos_short_today: 0,
          pos_short_his: 0,
        },
      });

      const bad = ["1e400", "-1e400", "NaN", "-5", "1.5", '"2"', "null", "true"];
      for (const value of bad) {
        const warnings = lotLogs(p.logs, "warning").length;
        const from = p.messages.length;
        await inject(sim, positionFrame(RB, `"pos_long_today":${value},"volume_long_today":${value}`));
        await until(`warning for ${value}`, () => lotLogs(p.logs, "warning").length > warnings);
        const w = lotLogs(p.logs, "warning").at(-1)!;
        assertEquals([w.properties.field, w.properties.kept], ["pos_long_today", 2], value);
        assertEquals(p.broker.position(RB)?.long_today, 2, value);
        assertEquals(p.view.position(RB)?.net, 2, value);
        assertEquals(await redisState(p), good, value);
        for (const m of p.messages.slice(from)) {
          if (m.type === "position") assertEquals([m.position.long_today, m.position.net], [2, 2], value);
        }
        // the server repairs the field (as it does by sending the position whole): warnings stop
        await inject(sim, positionFrame(RB, `"pos_long_today":2,"volume_long_today":2`));
        await until("repaired", () => p.broker.position(RB)?.long_today === 2);
      }
      assert(p.broker.state().ready);

      // a fraction or negative in a frozen count is kept too
      const warnings = lotLogs(p.logs, "warning").length;
      await inject(sim, positionFrame(RB, `"volume_long_frozen_today":0.5`));
      await until("frozen warning", () => lotLogs(p.logs, "warning").length > warnings);
      assertEquals(p.broker.position(RB)?.long_frozen_today, 0);

      // a real fill: the sim sends the position whole, the value moves on
      assertEquals(p.broker.insert(demoOrder("buy-1")), { ok: true });
      await until("redis 3", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "3");
      assertEquals((await redisState(p)).breakdown.pos_long_today, 3);

      // a new position with nothing good to keep is not published at all
      const from = p.messages.length;
      await inject(sim, positionFrame(M, `"pos_short_today":1e400,"pos_short_his":0,"last_price":2700`));
      await until("error for the new position", () => lotLogs(p.logs, "error", M).length > 0);
      assertEquals(p.broker.position(M), undefined);
      assertEquals(p.view.position(M), undefined);
      await p.writer.flushed();
      assertEquals(await p.redis.get(positionKey(p.portfolio, M)), null);
      assertEquals(
        p.messages.slice(from).filter((m) => m.type === "position" && m.position.symbol === M),
        [],
      );
    });
  });
});

Deno.test("a snapshot holding a malformed lot count is not used: not ready, Redis keeps the last good state", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("buy-3", { volume: 3 })), { ok: true });
      await until("redis 3", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "3");

      // reconnect; the snapshot's second part is held, and meanwhile a frame corrupts the position
      await control(sim, "/sim/faults", { split_snapshot: true, hold_snapshot: true });
      const from = p.rec.mark();
      await control(sim, "/sim/drop", { kind: "trade" });
      await p.rec.wait("state", (e) => e.state.phase === "syncing", "syncing", { from });
      await until("first part merged", () => sim.server.connectionCount().trade === 1);
      await new Promise((r) => setTimeout(r, 150));
      await inject(sim, positionFrame(RB, `"pos_long_today":-3`));
      assertEquals(await control(sim, "/sim/release", {}), { released: 1 });
      await until("error for the snapshot", () => lotLogs(p.logs, "error").length > 0);
      const e = lotLogs(p.logs, "error")[0];
      assertEquals([e.properties.field, e.properties.value], ["pos_long_today", "-3"]);
      assertEquals(p.broker.state().ready, false);
      const refused = p.broker.insert(demoOrder("meanwhile"));
      assertEquals(refused.ok ? "sent" : refused.reason, "RECONCILING");
      assertEquals(p.rec.events.slice(from).filter((x) => x.type === "snapshot"), []);
      // Redis keeps the last good state, marked stale
      p.writer.refresh();
      await p.writer.flushed();
      assertEquals(await p.redis.get(positionKey(p.portfolio, RB)), "3");
      assertEquals(JSON.parse((await p.redis.get(metaKey(p.portfolio)))!).stale, true);

      // the server sends the position whole again (a quote revalues it): the snapshot is usable, ready
      await control(sim, "/sim/faults", { reset: true });
      await control(sim, "/sim/quote", { symbol: RB, last_price: 3510 });
      const snap = await p.rec.wait("snapshot", () => true, "snapshot", { from });
      assertEquals(snap.snapshot.positions[RB].long_today, 3);
      await until("ready", () => p.broker.state().ready);
      await p.writer.flushed();
      assertEquals(await p.redis.get(positionKey(p.portfolio, RB)), "3");
    });
  });
});

Deno.test("a corrupted lot field is forgotten when the server deletes the user's positions: the position sent again is read", async () => {
  await withSim(async (sim) => {
    await book(sim, RB, 3500, 3501);
    await withPipeline(sim, async (p) => {
      assertEquals(p.broker.insert(demoOrder("buy-2", { volume: 2 })), { ok: true });
      await until("redis 2", async () => (await p.redis.get(positionKey(p.portfolio, RB))) === "2");
      // a frozen count corrupted (the last good value is kept, the field is remembered as corrupt)
      const warnings = lotLogs(p.logs, "warning").length;
      await inject(sim, positionFrame(RB, `"volume_long_frozen_today":0.5`));
      await until("frozen warning", () => lotLogs(p.logs, "warning").length > warnings);
      // the server deletes the positions collection, then sends the position again without that field
      await inject(sim, `{"aid":"rtn_data","data":[{"trade":{"demo":{"positions":null}}},{}]}`);
      await until("positions gone", () => p.broker.position(RB) === undefined);
      const errors = lotLogs(p.logs, "error").length;
      await inject(
        sim,
        positionFrame(
          RB,
          `"exchange_id":"SHFE","instrument_id":"rb2605","pos_long_today":2,"pos_long_his":0,` +
            `"pos_short_today":0,"pos_short_his":0,"volume_long_today":2,"volume_long_his":0,` +
            `"volume_short_today":0,"volume_short_his":0,"volume_long":2,"volume_short":0`,
        ),
      );
      await until("position read again", () => p.broker.position(RB)?.long_today === 2);
      assertEquals(lotLogs(p.logs, "error").length, errors);
      assertEquals(p.broker.position(RB)?.long_frozen_today, 0);
    });
  });
});
