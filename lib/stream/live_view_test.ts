import { assert, assertEquals } from "../../tests/assert.ts";
import {
  account,
  brokerState,
  FakeBroker,
  order,
  position,
  snapshot,
} from "../../tests/helpers/fake_broker.ts";
import { connectLiveView, flatPosition, type LiveChange, LiveView } from "./live_view.ts";

function recorder(view: LiveView): LiveChange[] {
  const changes: LiveChange[] = [];
  view.subscribe((c) => changes.push(c));
  return changes;
}

Deno.test("live view: first snapshot fills the view and reports every item", () => {
  let now = 1000;
  const view = new LiveView({ now: () => now });
  const changes = recorder(view);
  assert(!view.hasSnapshot);
  assertEquals(view.confirmedAt(), 0);
  view.apply({
    type: "snapshot",
    snapshot: snapshot({
      positions: [
        position("SHFE.rb2605", { long_today: 2, long_his: 1 }),
        position("DCE.m2605", { short_his: 4 }),
      ],
      orders: [order("o2", { insert_time_ms: 20 }), order("o1", { insert_time_ms: 10 })],
      account: account(500_000),
    }),
  });
  assert(view.hasSnapshot);
  assertEquals(view.snapshotSeq, 1);
  assertEquals(view.positions().map((p) => [p.symbol, p.net]), [["DCE.m2605", -4], ["SHFE.rb2605", 3]]);
  assertEquals(view.orders().map((o) => o.broker_order_id), ["o1", "o2"]);
  assertEquals(view.account()?.balance, 500_000);
  assertEquals(view.tradingDay, "20251224");
  // positions first, then orders, then account, then the snapshot marker
  assertEquals(changes.map((c) => c.type), ["position", "position", "order", "order", "account", "snapshot"]);
  assertEquals(changes.at(-1), { type: "snapshot", seq: 1, trading_day: "20251224" });
  now = 5000;
  // broker not ready (initial state): confirmed at the snapshot time
  assertEquals(view.confirmedAt(), 1000);
});

Deno.test("live view: a later snapshot zeroes vanished symbols and reports only what differs", () => {
  const view = new LiveView();
  view.apply({
    type: "snapshot",
    snapshot: snapshot({
      positions: [position("SHFE.rb2605", { long_today: 2 }), position("DCE.m2605", { short_his: 4 })],
      orders: [order("o1")],
      account: account(100),
    }),
  });
  const changes = recorder(view);
  view.apply({
    type: "snapshot",
    snapshot: snapshot({
      positions: [position("SHFE.rb2605", { long_today: 2 })], // DCE.m2605 vanished
      orders: [order("o1")],
      account: account(100),
    }),
  });
  assertEquals(changes, [
    { type: "position", position: flatPosition("DCE.m2605") },
    { type: "snapshot", seq: 2, trading_day: "20251224" },
  ]);
  assertEquals(view.position("DCE.m2605")?.net, 0);
  assertEquals(view.symbols(), ["DCE.m2605", "SHFE.rb2605"]);

  // an empty snapshot zeroes the rest; the already-flat symbol is not reported again
  changes.length = 0;
  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(100) }) });
  assertEquals(changes.map((c) => c.type === "position" ? c.position.symbol : c.type), [
    "SHFE.rb2605",
    "snapshot",
  ]);
  assertEquals(view.positions().map((p) => p.net), [0, 0]);
  assertEquals(view.orders(), []); // orders are replaced, not kept
});

Deno.test("live view: item events update the view and are deduplicated", () => {
  const view = new LiveView();
  const changes = recorder(view);
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 1 }) });
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 1 }) }); // same: no change
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 1, short_today: 3 }) });
  view.apply({ type: "account", account: account(7) });
  view.apply({ type: "account", account: account(7) });
  view.apply({ type: "order", order: order("a") });
  view.apply({ type: "order", order: order("a", { volume_left: 0, status: "FINISHED" }) });
  view.apply({ type: "notice", notice: { code: 0, level: "INFO", type: "MESSAGE", content: "hi" } });
  assertEquals(changes.map((c) => c.type), ["position", "position", "account", "order", "order"]);
  assertEquals(view.position("SHFE.rb2605")?.net, -2);
  assertEquals(view.orders()[0].status, "FINISHED");
  assert(!view.hasSnapshot); // item events alone are not a complete snapshot
});

Deno.test("live view: status changes ignore last_data_at; confirmedAt follows readiness", () => {
  let now = 100;
  const view = new LiveView({ now: () => now });
  view.apply({ type: "snapshot", snapshot: snapshot({}) });
  const changes = recorder(view);
  view.apply({ type: "state", state: brokerState(true, { last_data_at: 1 }) });
  view.apply({ type: "state", state: brokerState(true, { last_data_at: 2 }) }); // only data time moved
  assertEquals(changes.length, 1);
  assertEquals(view.state().last_data_at, 2); // still stored
  now = 200;
  assertEquals(view.confirmedAt(), 200); // ready: confirmed now
  now = 300;
  view.apply({
    type: "state",
    state: brokerState(false, { last_error: { code: null, message: "x", at: 1 } }),
  });
  assertEquals(changes.length, 2);
  assertEquals(changes[1].type === "status" && changes[1].state.phase, "backoff");
  now = 900;
  assertEquals(view.confirmedAt(), 300); // the moment it stopped being ready
});

Deno.test("live view: returned values are copies; a throwing listener does not stop the others", () => {
  const view = new LiveView();
  let seen = 0;
  view.subscribe(() => {
    throw new Error("boom");
  });
  const off = view.subscribe(() => seen++);
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 1 }) });
  assertEquals(seen, 1);
  const p = view.position("SHFE.rb2605")!;
  p.net = 99;
  assertEquals(view.position("SHFE.rb2605")?.net, 1);
  off();
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 2 }) });
  assertEquals(seen, 1);
});

Deno.test("connectLiveView: seeds from the broker, follows its events, unsubscribes", () => {
  const broker = new FakeBroker();
  broker.emit({ type: "state", state: brokerState(true) });
  broker.emit({
    type: "snapshot",
    snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_his: 5 })] }),
  });
  const view = new LiveView();
  const off = connectLiveView(broker, view);
  assertEquals(view.position("SHFE.rb2605")?.net, 5);
  assert(view.state().ready);
  broker.emit({ type: "position", position: position("SHFE.rb2605", { long_his: 6 }) });
  assertEquals(view.position("SHFE.rb2605")?.net, 6);
  off();
  assertEquals(broker.listenerCount, 0);
});
