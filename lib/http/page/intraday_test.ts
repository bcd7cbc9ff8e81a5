import { assertEquals } from "../../../tests/assert.ts";
import { account, position, snapshot } from "../../../tests/helpers/fake_broker.ts";
import { LiveView } from "../../stream/live_view.ts";
import { IntradaySeries } from "./intraday.ts";

Deno.test("intraday: samples balance and nets on changes, at most one point per interval, resets on a new day", () => {
  let now = 1000;
  const view = new LiveView({ now: () => now });
  const series = new IntradaySeries(view, { minIntervalMs: 1000, now: () => now });
  assertEquals(series.snapshot().points, []); // no account yet
  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(100) }) });
  now = 1500; // within the interval: replaces the last point (the first one is kept)
  view.apply({ type: "account", account: account(90) });
  now = 1800;
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 2 }) });
  now = 3000;
  view.apply({ type: "account", account: account(80) });
  const s = series.snapshot();
  assertEquals(s.trading_day, "20251224");
  assertEquals(s.points.map((p) => [p.t, p.balance, p.nets["SHFE.rb2605"] ?? null]), [
    [1000, 100, null],
    [1800, 90, 2],
    [3000, 80, 2],
  ]);
  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(70), trading_day: "20251225" }) });
  assertEquals(series.snapshot().points.map((p) => p.balance), [70]);
  series.close();
  view.apply({ type: "account", account: account(60) });
  assertEquals(series.snapshot().points.length, 1);
});

Deno.test("intraday: a full series is thinned in its older half", () => {
  let now = 0;
  const view = new LiveView({ now: () => now });
  const series = new IntradaySeries(view, { minIntervalMs: 1, maxPoints: 10, now: () => now });
  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(0) }) });
  for (let i = 1; i <= 10; i++) {
    now = i * 10;
    view.apply({ type: "account", account: account(i) });
  }
  const balances = series.snapshot().points.map((p) => p.balance);
  // 11 points > 10: the older half (0..4) keeps every other point, the newer half (5..10) stays whole
  assertEquals(balances, [0, 2, 4, 5, 6, 7, 8, 9, 10]);
});
