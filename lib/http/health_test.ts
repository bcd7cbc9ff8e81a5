import { assert, assertEquals } from "../../tests/assert.ts";
import { brokerState } from "../../tests/helpers/fake_broker.ts";
import { buildHealth, tqHealth } from "./health.ts";

Deno.test("tqHealth: times as ISO, unknown times as null", () => {
  const h = tqHealth(brokerState(false, { since: 0, last_data_at: 0, phase: "connecting" }));
  assertEquals([h.ok, h.state, h.since, h.last_data_at, h.last_error], [
    false,
    "connecting",
    null,
    null,
    null,
  ]);
  const r = tqHealth(brokerState(true, { since: Date.UTC(2025, 11, 24, 1, 0, 0) }));
  assertEquals([r.ok, r.since], [true, "2025-12-24T01:00:00.000Z"]);
});

Deno.test("buildHealth: verdicts", async () => {
  const ready = brokerState(true);
  assertEquals((await buildHealth(ready)).httpStatus, 200);
  assertEquals((await buildHealth(ready)).report.status, "ok");
  // a disabled component does not degrade
  assertEquals((await buildHealth(ready, { redis: () => ({ enabled: false }) })).report.status, "ok");
  const down = await buildHealth(ready, { redis: () => ({ ok: false }) });
  assertEquals([down.httpStatus, down.report.status, down.report.can_trade], [200, "degraded", true]);
  const blocked = await buildHealth(ready, { database: () => ({ ok: false, blocks_trading: true }) });
  assertEquals([blocked.httpStatus, blocked.report.can_trade], [503, false]);
  const notReady = await buildHealth(brokerState(false), { redis: () => ({ ok: true }) });
  assertEquals([notReady.httpStatus, notReady.report.status], [503, "degraded"]);
  // "tq" cannot be overridden by a component
  const r = await buildHealth(ready, { tq: () => ({ ok: false }) });
  assertEquals((r.report.components.tq as { ok: boolean }).ok, true);
});

Deno.test("market: open inside a session at exchange time, closed outside, unknown without instruments", async () => {
  const { marketReport, exchangeTimeFromQuotes } = await import("./health.ts");
  const tt = {
    day: [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"]],
    night: [["21:00:00", "23:00:00"]],
  } as never;
  // Wednesday 2025-12-24 10:00 Beijing = 02:00Z
  const open = Date.UTC(2025, 11, 24, 2, 0);
  const lunch = Date.UTC(2025, 11, 24, 4, 0); // 12:00 Beijing
  const source = (at: number) => ({
    symbols: () => ["SHFE.rb2605", "SHFE.rb2605", "X.unknown"],
    tradingTime: (s: string) => s === "SHFE.rb2605" ? tt : undefined,
    exchangeNow: () => at,
  });
  const ready = brokerState(true, { last_data_at: open - 1000 });
  const o = marketReport(source(open), ready, open);
  assertEquals([o.market, o.in_session, o.quiet_alarm], ["open", ["SHFE.rb2605"], false]);
  assertEquals(o.next_open, "2025-12-24T02:30:00.000Z"); // 10:30 Beijing
  const c = marketReport(source(lunch), brokerState(true, { last_data_at: lunch - 3_600_000 }), lunch);
  assertEquals([c.market, c.quiet_alarm, c.broker_quiet_s], ["closed", false, 3600]); // quiet at lunch: no alarm
  const stuck = marketReport(source(open), brokerState(true, { last_data_at: open - 600_000 }), open);
  assertEquals(stuck.quiet_alarm, true);
  const none = marketReport({ ...source(open), symbols: () => [] }, ready, open);
  assertEquals(none.market, "unknown");
  // the report: closed and quiet is ok; open and stuck is degraded but can trade
  const closedReport = await buildHealth(brokerState(true, { last_data_at: 1 }), {}, {
    market: source(lunch),
  });
  assertEquals([closedReport.httpStatus, closedReport.report.status, closedReport.report.market], [
    200,
    "ok",
    "closed",
  ]);
  const stuckReport = await buildHealth(brokerState(true, { last_data_at: Date.now() - 900_000 }), {}, {
    market: source(open),
  });
  assertEquals([stuckReport.httpStatus, stuckReport.report.status], [200, "degraded"]);
  // exchange time: newest quote datetime plus the time since it was received
  assertEquals(
    exchangeTimeFromQuotes([{ datetime_ms: 1000, received_at: 5000 }, {
      datetime_ms: 900,
      received_at: 9000,
    }], 10_000),
    6000,
  );
  assertEquals(exchangeTimeFromQuotes([], 42), 42);
});

Deno.test("ReachabilityProbe: one probe per ttl, shared by concurrent callers; a timeout aborts and fails", async () => {
  const { ReachabilityProbe } = await import("./health.ts");
  let now = 1_000_000;
  let calls = 0;
  let fail = false;
  const probe = new ReachabilityProbe(() => {
    calls++;
    return fail ? Promise.reject(new Error("connection refused")) : Promise.resolve(1);
  }, { ttlMs: 3000, timeoutMs: 200, now: () => now });
  assertEquals(probe.last, null);
  const [a, b] = await Promise.all([probe.check(), probe.check()]);
  assertEquals([a.reachable, b.reachable, calls], [true, true, 1]);
  now += 2999;
  assertEquals((await probe.check()).reachable, true);
  assertEquals(calls, 1); // cached
  fail = true;
  now += 1;
  const down = await probe.check();
  assertEquals([down.reachable, down.error, calls, probe.probes], [false, "connection refused", 2, 2]);
  assertEquals(probe.last, down);

  let aborted = false;
  const hanging = new ReachabilityProbe(
    (signal) =>
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => {
          aborted = true;
          reject(new Error("aborted"));
        })
      ),
    { timeoutMs: 50 },
  );
  const t = await hanging.check();
  assertEquals([t.reachable, t.error, aborted], [false, "no answer within 50 ms", true]);
  assert(t.latency_ms >= 40, `${t.latency_ms}`);
});

Deno.test("databaseHealth: unreachable blocks trading (503); failing writes only degrade (200)", async () => {
  const { ReachabilityProbe, databaseHealth } = await import("./health.ts");
  let reachable = true;
  let writeError: Error | null = null;
  const db = databaseHealth(
    new ReachabilityProbe(() => reachable ? Promise.resolve() : Promise.reject(new Error("refused")), {
      ttlMs: 0,
    }),
    { backlog: () => 7, lastError: () => writeError },
  );
  const ready = brokerState(true);
  let r = await buildHealth(ready, { database: db });
  assertEquals([r.httpStatus, r.report.status], [200, "ok"]);
  const c = r.report.components.database as Record<string, unknown>;
  assertEquals([c.ok, c.reachable, c.blocks_trading, c.backlog, c.last_error], [true, true, false, 7, null]);
  writeError = new Error("deadlock detected");
  r = await buildHealth(ready, { database: db });
  assertEquals([r.httpStatus, r.report.status, r.report.can_trade], [200, "degraded", true]);
  reachable = false;
  r = await buildHealth(ready, { database: db });
  assertEquals([r.httpStatus, r.report.can_trade], [503, false]);
  assertEquals((r.report.components.database as Record<string, unknown>).probe_error, "refused");
});
