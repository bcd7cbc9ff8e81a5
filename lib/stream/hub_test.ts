import { assert, assertEquals } from "../../tests/assert.ts";
import { account, brokerState, order, position, snapshot } from "../../tests/helpers/fake_broker.ts";
import { LiveView } from "./live_view.ts";
import { CLOSE_TOO_SLOW, StreamHub, type StreamMessage } from "./hub.ts";

function seededView(): LiveView {
  const view = new LiveView();
  view.apply({ type: "state", state: brokerState(true) });
  view.apply({
    type: "snapshot",
    snapshot: snapshot({
      positions: [position("SHFE.rb2605", { long_today: 1 })],
      orders: [order("o1")],
      account: account(1000),
    }),
  });
  return view;
}

function sink(): { msgs: StreamMessage[]; send: (d: string) => void } {
  const msgs: StreamMessage[] = [];
  return { msgs, send: (d) => msgs.push(JSON.parse(d)) };
}

function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

Deno.test("hub: snapshot first, then each change, to every subscriber", () => {
  const view = seededView();
  const hub = new StreamHub(view);
  const a = sink();
  const b = sink();
  hub.subscribe(a.send);
  const subB = hub.subscribe(b.send);
  assertEquals(hub.clientCount, 2);
  const first = a.msgs[0];
  assert(first.type === "snapshot");
  assertEquals(first.positions.map((p) => [p.symbol, p.net]), [["SHFE.rb2605", 1]]);
  assertEquals(first.orders.map((o) => o.broker_order_id), ["o1"]);
  assertEquals(first.account?.balance, 1000);
  assertEquals(first.status.ready, true);
  assertEquals(first.trading_day, "20251224");

  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 3 }) });
  view.apply({ type: "order", order: order("o1", { volume_left: 0, status: "FINISHED" }) });
  view.apply({ type: "account", account: account(999) });
  view.apply({ type: "state", state: brokerState(false) });
  for (const s of [a, b]) {
    assertEquals(s.msgs.map((m) => m.type), ["snapshot", "position", "order", "account", "status"]);
  }
  const pos = a.msgs[1];
  assert(pos.type === "position");
  assertEquals(pos.position.net, 3);
  const st = a.msgs[4];
  assert(st.type === "status");
  assertEquals(st.status.ready, false);

  subB.unsubscribe();
  assertEquals(hub.clientCount, 1);
  view.apply({ type: "account", account: account(5) });
  assertEquals(a.msgs.length, 6);
  assertEquals(b.msgs.length, 5);
  hub.close();
  assertEquals(hub.clientCount, 0);
});

Deno.test("hub: a slow subscriber does not hold up others; on overflow it gets a fresh snapshot", async () => {
  const view = seededView();
  const hub = new StreamHub(view, { pollMs: 5 });
  const fast = sink();
  const slow = sink();
  let buffered = 0;
  hub.subscribe(fast.send);
  const sub = hub.subscribe(slow.send, { maxQueue: 3, backlog: () => buffered, maxBacklogBytes: 100 });
  assertEquals(slow.msgs.length, 1); // its snapshot went out while it was not busy
  buffered = 1000; // the socket stops draining

  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 2 }) });
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 3 }) });
  assertEquals(sub.queued, 2);
  assertEquals(slow.msgs.length, 1);
  assertEquals(fast.msgs.length, 3); // the fast one is not held up

  for (let lots = 4; lots <= 10; lots++) {
    view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: lots }) });
  }
  assertEquals(fast.msgs.length, 10);
  assertEquals(hub.stats().resyncs, 1);
  assert(sub.queued <= 3, `queue bounded, got ${sub.queued}`);
  assertEquals(slow.msgs.length, 1);

  buffered = 0; // drains again
  await wait(30);
  // the dropped backlog was replaced by ONE snapshot carrying the latest state
  assertEquals(slow.msgs.map((m) => m.type), ["snapshot", "snapshot"]);
  const snap = slow.msgs[1];
  assert(snap.type === "snapshot");
  assertEquals(snap.positions[0].net, 10);
  view.apply({ type: "account", account: account(1) });
  assertEquals(slow.msgs.at(-1)?.type, "account");
  hub.close();
});

Deno.test("hub: queued messages are delivered in order once the subscriber catches up", async () => {
  const view = seededView();
  const hub = new StreamHub(view, { pollMs: 5 });
  const s = sink();
  let buffered = 1000;
  hub.subscribe(s.send, { backlog: () => buffered, maxBacklogBytes: 10 });
  assertEquals(s.msgs.length, 0); // busy from the start: even the snapshot waits
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 2 }) });
  view.apply({ type: "account", account: account(2) });
  buffered = 0;
  await wait(30);
  // snapshot built when sent already holds the later state; queued messages before it were superseded
  assertEquals(s.msgs.map((m) => m.type), ["snapshot"]);
  const snap = s.msgs[0];
  assert(snap.type === "snapshot");
  assertEquals(snap.positions[0].net, 2);
  assertEquals(snap.account?.balance, 2);

  buffered = 1000;
  view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 5 }) });
  view.apply({ type: "account", account: account(3) });
  buffered = 0;
  await wait(30);
  assertEquals(s.msgs.map((m) => m.type), ["snapshot", "position", "account"]);
  hub.close();
});

Deno.test("hub: promise back-pressure; stalled subscriber closed as too slow; throwing send closed", async () => {
  let now = 0;
  const view = seededView();
  const hub = new StreamHub(view, { pollMs: 5, stallTimeoutMs: 1000, now: () => now });
  // a subscriber whose sends never settle
  const closes: [number, string][] = [];
  let sent = 0;
  hub.subscribe(() => {
    sent++;
    return new Promise<void>(() => {});
  }, { close: (code, reason) => closes.push([code, reason]) });
  // a subscriber whose send throws
  const closes2: number[] = [];
  hub.subscribe(() => {
    throw new Error("socket gone");
  }, { close: (code) => closes2.push(code) });
  assertEquals(closes2, [1011]);
  assertEquals(hub.clientCount, 1);

  view.apply({ type: "account", account: account(7) });
  assertEquals(sent, 1); // the snapshot is still pending: nothing more handed over
  await wait(20);
  assertEquals(closes, []);
  now = 5000;
  await wait(20);
  assertEquals(closes, [[CLOSE_TOO_SLOW, "client too slow"]]);
  assertEquals(hub.clientCount, 0);
  assertEquals(hub.stats().dropped_clients, 2);
  hub.close();
});

Deno.test("hub: close() closes every subscriber with 1001 and stops following the view", () => {
  const view = seededView();
  const hub = new StreamHub(view);
  const codes: number[] = [];
  const s = sink();
  hub.subscribe(s.send, { close: (c) => codes.push(c) });
  hub.subscribe(() => {}, { close: (c) => codes.push(c) });
  hub.close();
  assertEquals(codes, [1001, 1001]);
  view.apply({ type: "account", account: account(1) });
  assertEquals(s.msgs.length, 1);
  let threw = false;
  try {
    hub.subscribe(() => {});
  } catch {
    threw = true;
  }
  assert(threw);
});
