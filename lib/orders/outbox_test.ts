/**
 * Outbox: unit tests with a fake write and a fake timer, then one test against the real local PostgreSQL
 * made unavailable (our own throwaway database: connections refused with `ALLOW_CONNECTIONS false` and our
 * sessions killed with `pg_terminate_backend`; the shared server keeps running).
 */
import postgres from "postgres";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "../../tests/assert.ts";
import { closeDatabase, connectDatabase, type ServerDatabaseConfig } from "../store/pg/connect.ts";
import { migrate, quoteIdentifier } from "../store/pg/migrate.ts";
import { OrderStore } from "../store/pg/order_store.ts";
import { backoffDelay, Outbox, type OutboxFailure, type OutboxTimer } from "./outbox.ts";
import type { OrderUpdate } from "./types.ts";

/** Timers that fire only when the test says so. */
class FakeTimer implements OutboxTimer {
  pending = new Map<number, { fn: () => void; ms: number }>();
  delays: number[] = [];
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    this.delays.push(ms);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires the oldest pending timer; false when none. */
  fireNext(): boolean {
    const first = this.pending.entries().next();
    if (first.done) return false;
    const [id, { fn }] = first.value;
    this.pending.delete(id);
    fn();
    return true;
  }
}

/** Lets pending promise callbacks and microtasks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

/** A write that fails its first `failures` calls and records every call and every successful batch. */
function fakeWrite<T>(failures: number) {
  const calls: T[][] = [];
  const written: T[][] = [];
  let left = failures;
  const write = (batch: T[]): Promise<void> => {
    calls.push([...batch]);
    if (left > 0) {
      left--;
      return Promise.reject(new Error(`down (${left} more)`));
    }
    written.push([...batch]);
    return Promise.resolve();
  };
  return { write, calls, written, setFailures: (n: number) => (left = n) };
}

Deno.test("backoffDelay doubles from the initial delay and is capped", () => {
  const o = { initialDelayMs: 100, maxDelayMs: 1000 };
  assertEquals([1, 2, 3, 4, 5, 6, 100].map((a) => backoffDelay(a, o)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
    1000,
  ]);
});

Deno.test("Outbox: writes in order; same-tick pushes share a batch; maxBatch splits; flushed()", async () => {
  const w = fakeWrite<number>(0);
  const outbox = new Outbox<number>(w.write, { maxBatch: 3, timer: new FakeTimer() });
  await outbox.flushed(); // empty: resolves at once
  for (let i = 1; i <= 5; i++) outbox.push(i);
  assertEquals(outbox.size(), 5);
  await outbox.flushed();
  assertEquals(w.written, [[1, 2, 3], [4, 5]]);
  outbox.push(6);
  await settle();
  outbox.push(7);
  await outbox.flushed();
  assertEquals(w.written, [[1, 2, 3], [4, 5], [6], [7]]);
  assertEquals(outbox.size(), 0);
  assertEquals(outbox.lastError(), null);
});

Deno.test("Outbox: a write failing N times is retried with capped backoff, same batch, no reorder, no repeat", async () => {
  const timer = new FakeTimer();
  const w = fakeWrite<string>(4);
  const failures: [string, OutboxFailure][] = [];
  const outbox = new Outbox<string>(w.write, {
    timer,
    initialDelayMs: 10,
    maxDelayMs: 50,
    maxBatch: 10,
    onError: (e, f) => failures.push([e.message, f]),
  });
  outbox.push("a");
  outbox.push("b");
  await settle();
  assertEquals(w.calls, [["a", "b"]]);
  assertEquals(outbox.failures(), 1);
  assertMatch(outbox.lastError()!.message, /down/);
  assertEquals(outbox.size(), 2);

  // Pushed while failing: queued behind, not mixed into the batch being retried.
  outbox.push("c");
  await settle();
  assertEquals(w.calls.length, 1, "no write before the retry timer fires");
  let done = false;
  outbox.flushed().then(() => (done = true));
  for (let i = 0; i < 4; i++) {
    assert(timer.fireNext(), `retry ${i + 1} scheduled`);
    await settle();
    outbox.push(`d${i}`);
  }
  await settle();
  assertEquals(timer.delays, [10, 20, 40, 50]);
  assertEquals(w.calls.slice(0, 5), [["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"]]);
  // The 4th retry succeeded, then c, d0…d2 (queued meanwhile) went as one batch; d3 came after.
  assertEquals(w.written, [["a", "b"], ["c", "d0", "d1", "d2"], ["d3"]]);
  assertEquals(w.written.flat(), ["a", "b", "c", "d0", "d1", "d2", "d3"]);
  assertEquals(failures.map(([, f]) => [f.attempt, f.batchSize, f.delayMs]), [
    [1, 2, 10],
    [2, 2, 20],
    [3, 2, 40],
    [4, 2, 50],
  ]);
  assert(done, "flushed() resolved");
  assertEquals(outbox.size(), 0);
  assertEquals(outbox.lastError(), null);
  assertEquals(outbox.failures(), 0);

  // A later failure streak starts again from the initial delay.
  w.setFailures(1);
  outbox.push("e");
  await settle();
  assertEquals(timer.delays.at(-1), 10);
  timer.fireNext();
  await outbox.flushed();
  assertEquals(w.written.at(-1), ["e"]);
});

Deno.test("Outbox.written: waits for what was pushed before the call, through failures; stop rejects it", async () => {
  const timer = new FakeTimer();
  const w = fakeWrite<string>(2);
  const outbox = new Outbox<string>(w.write, { timer, initialDelayMs: 10, maxBatch: 1 });
  await outbox.written(); // nothing pushed: resolves at once
  outbox.push("a");
  outbox.push("b");
  let aAndB = false;
  outbox.written().then(() => (aAndB = true));
  outbox.push("c"); // pushed after the call: not waited for
  await settle();
  assertEquals(aAndB, false, "a failed: nothing written yet");
  assert(timer.fireNext());
  await settle();
  assertEquals(aAndB, false, "a failed again");
  assert(timer.fireNext());
  await settle();
  assertEquals(w.written.flat(), ["a", "b", "c"]);
  assert(aAndB, "resolved once a and b were written");

  w.setFailures(100);
  outbox.push("d");
  const pending = outbox.written();
  await settle();
  await outbox.stop();
  assertMatch((await assertRejects(() => pending)).message, /unwritten/);
});

Deno.test("Outbox: a throwing onError or a synchronously throwing write does not stop it", async () => {
  const timer = new FakeTimer();
  let n = 0;
  const written: number[] = [];
  const outbox = new Outbox<number>((batch) => {
    if (n++ === 0) throw new Error("sync");
    written.push(...batch);
    return Promise.resolve();
  }, {
    timer,
    onError: () => {
      throw new Error("listener bug");
    },
  });
  outbox.push(1);
  await settle();
  assertEquals(outbox.lastError()?.message, "sync");
  timer.fireNext();
  await outbox.flushed();
  assertEquals(written, [1]);
});

Deno.test("Outbox.stop: refuses pushes, drains for drainMs, returns what was not written", async () => {
  const timer = new FakeTimer();
  const w = fakeWrite<number>(1_000);
  const outbox = new Outbox<number>(w.write, { timer, initialDelayMs: 5 });
  outbox.push(1);
  outbox.push(2);
  await settle();
  const waiting = outbox.flushed().then(() => null, (e: Error) => e);
  const stopping = outbox.stop({ drainMs: 100 });
  assertThrows(() => outbox.push(3));
  // Retry timer and drain deadline are pending; fire the retry (fails again), then the deadline.
  assert(timer.fireNext());
  await settle();
  while (timer.fireNext()) await settle();
  const remaining = await stopping;
  assertEquals(remaining, [1, 2]);
  assertEquals(w.written, []);
  const err = await waiting;
  assert(err instanceof Error, "flushed() rejected");
  assertMatch(err.message, /stopped with 2 item\(s\) unwritten/);
  await assertRejects(() => outbox.flushed());
  const calls = w.calls.length;
  await settle();
  assertEquals(w.calls.length, calls, "no retry after stop");
});

Deno.test("Outbox.stop: what can be written within drainMs is written", async () => {
  const timer = new FakeTimer();
  const w = fakeWrite<number>(1);
  const outbox = new Outbox<number>(w.write, { timer, initialDelayMs: 5 });
  outbox.push(1);
  await settle();
  const stopping = outbox.stop({ drainMs: 1000 });
  assert(timer.fireNext()); // the retry, which succeeds
  assertEquals(await stopping, []);
  assertEquals(w.written, [[1]]);
  assertEquals(await new Outbox<number>(w.write).stop(), []);
});

// ---------------------------------------------------------------------------------------------------------
// Against PostgreSQL made unavailable.

const SERVER: ServerDatabaseConfig = { host: "127.0.0.1", port: 5432, user: "postgres", dbname: "postgres" };

function u(
  id: string,
  status: OrderUpdate["status"],
  fields: OrderUpdate["fields"],
  event: object,
): OrderUpdate {
  return { portfolio_id: "demo", id, status, fields, event: event as Record<string, unknown> };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("Outbox + OrderStore: updates during a database outage arrive once each, in order, after it", async () => {
  const name = `tbc_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const db = quoteIdentifier(name);
  const admin = postgres({ ...SERVER, database: "postgres", max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${db}`);
  try {
    const sql = await connectDatabase({ ...SERVER, dbname: name }, { max: 2, connectTimeoutSeconds: 2 });
    const failures: string[] = [];
    try {
      await migrate(sql);
      const store = new OrderStore(sql, { portfolioId: "demo" });
      const ids = ["o1", "o2", "o3"];
      await store.recordIntents(ids.map((id) => ({
        request: {
          order_id: id,
          portfolio_id: "demo",
          symbol: "SHFE.rb2605",
          direction: "BUY" as const,
          offset: "OPEN" as const,
          volume: 2,
          limit_price: 3500,
          price_type: "LIMIT" as const,
          time_condition: "GFD" as const,
          volume_condition: "ANY" as const,
          timestamp_ms: null,
          request_id: null,
        },
        status: "SUBMITTED" as const,
        source: "rest" as const,
        broker_order_id: `TBC_${id}`,
        request_hash: id,
        events: [{ status: "RECEIVED" as const, msg: null }, { status: "SUBMITTED" as const, msg: null }],
      })));

      const outbox = new Outbox<OrderUpdate>(async (batch) => {
        await store.applyUpdates(batch);
      }, {
        initialDelayMs: 20,
        maxDelayMs: 200,
        maxBatch: 4,
        onError: (e) => failures.push(e.message),
      });

      // One update goes through while the database is up.
      outbox.push(u("o1", "ACCEPTED", { exchange_order_id: "TBC_o1" }, { event: "accepted", n: 0 }));
      await outbox.flushed();

      // Outage: no new connections to our database, and our open sessions are killed.
      await admin.unsafe(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
      const killed = await admin`
        select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = ${name} and pid <> pg_backend_pid()`;
      assert(killed.length >= 1, "our sessions were open");

      const pushed: OrderUpdate[] = [];
      const push = (x: OrderUpdate) => {
        pushed.push(x);
        outbox.push(x);
      };
      push(u("o2", "ACCEPTED", { exchange_order_id: "TBC_o2" }, { event: "accepted", n: 1 }));
      push(
        u("o1", "PARTIALLY_FILLED", { filled_quantity: 1, volume_left: 1 }, {
          event: "fill",
          trade_id: "t1",
        }),
      );
      push(
        u("o3", "REJECTED", { reject_reason: "BROKER_REJECTED: 开仓资金不足" }, { event: "rejected", n: 2 }),
      );
      // (postgres.js itself waits between reconnect attempts, growing to 20 s: two failures keep this short.)
      await waitFor("two failed writes", () => outbox.failures() >= 2);
      // More arrive while it is down.
      push(
        u("o2", "PARTIALLY_FILLED", { filled_quantity: 1, volume_left: 1 }, {
          event: "fill",
          trade_id: "t2",
        }),
      );
      push(u("o1", "FILLED", { filled_quantity: 2, volume_left: 0 }, { event: "fill", trade_id: "t3" }));
      push(u("o2", "CANCELED", { last_msg: "已撤单" }, { event: "canceled", n: 3 }));
      assertEquals(outbox.size(), 6);
      assert(outbox.lastError() !== null);

      await admin.unsafe(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
      await Promise.race([
        outbox.flushed(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("not flushed in 30 s")), 30_000)),
      ]);
      assertEquals(outbox.size(), 0);
      assertEquals(outbox.lastError(), null);
      assert(failures.length >= 2, `failures seen: ${failures.length}`);
      assert(failures.some((m) => /not currently accepting connections/.test(m)), failures.join("; "));

      // Every order: seq 1..n without gaps or repeats, the updates in the order pushed, each exactly once.
      const events = await sql`select id, seq, status, msg from order_event order by id, seq`;
      const byOrder = (id: string) => events.filter((e) => e.id === id);
      for (const id of ids) assertEquals(byOrder(id).map((e) => e.seq), byOrder(id).map((_, i) => i + 1));
      assertEquals(byOrder("o1").map((e) => e.status), [
        "RECEIVED",
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "FILLED",
      ]);
      assertEquals(byOrder("o2").map((e) => e.status), [
        "RECEIVED",
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "CANCELED",
      ]);
      assertEquals(byOrder("o3").map((e) => e.status), ["RECEIVED", "SUBMITTED", "REJECTED"]);
      const written = events.filter((e) => e.msg !== null).map((e) => JSON.parse(e.msg));
      for (const p of pushed) {
        assertEquals(written.filter((m) => JSON.stringify(m) === JSON.stringify(p.event)).length, 1);
      }
      assertEquals(events.length, 5 + 5 + 3);
      const rows = await sql`select id, status, filled_quantity from order_history order by id`;
      assertEquals(rows.map((r) => [r.id, r.status, r.filled_quantity]), [
        ["o1", "FILLED", 2],
        ["o2", "CANCELED", 1],
        ["o3", "REJECTED", 0],
      ]);
      assertEquals(await outbox.stop(), []);
    } finally {
      await closeDatabase(sql, { timeoutSeconds: 1 });
    }
  } finally {
    await admin.unsafe(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
});
