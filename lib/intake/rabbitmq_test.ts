/**
 * Tests of the RabbitMQ intake against the real broker at 127.0.0.1:5672 (guest/guest). Every test uses its
 * own exchange/queue names and deletes them afterwards; forced disconnects close only this test's own
 * connection (found by its `connection_name` with `rabbitmqctl list_connections`), never all connections.
 */
import amqp from "amqplib";
import type { ChannelModel, ConfirmChannel } from "amqplib";
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import type { FieldError } from "../orders/types.ts";
import {
  backoffDelay,
  type IntakeDelivery,
  type IntakeOutcome,
  intakeTopology,
  RabbitIntake,
  type RabbitIntakeConfig,
  type RabbitIntakeOptions,
  withHeartbeat,
} from "./rabbitmq.ts";

const URL = "amqp://guest:guest@127.0.0.1:5672/";

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Close (server side) the connections whose `connection_name` is `name`; returns how many. */
async function closeConnectionNamed(name: string): Promise<number> {
  const list = await new Deno.Command("rabbitmqctl", {
    args: ["list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(list.stdout).split("\n");
  const pids = lines.filter((l) => l.includes(`{"connection_name","${name}"}`)).map((l) => l.split("\t")[0]);
  for (const pid of pids) {
    const r = await new Deno.Command("rabbitmqctl", {
      args: ["close_connection", pid, "test"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(r.success, new TextDecoder().decode(r.stderr));
  }
  return pids.length;
}

class Fixture {
  readonly id = randomUUID().slice(0, 8);
  readonly config: RabbitIntakeConfig;
  readonly intakes: RabbitIntake[] = [];
  conn!: ChannelModel;
  ch!: ConfirmChannel;

  constructor(overrides: Partial<RabbitIntakeConfig> = {}) {
    this.config = {
      url: URL,
      order_request_exchange: `t_intake_ex_${this.id}`,
      order_request_queue: `t_intake_q_${this.id}`,
      order_request_routing_key: "PortfolioId_{portfolio_id}",
      prefetch: 64,
      dead_letter_exchange: `t_intake_ex_${this.id}.dead`,
      dead_letter_queue: `t_intake_q_${this.id}.dead`,
      heartbeat_s: 5,
      reconnect_initial_ms: 50,
      reconnect_max_ms: 500,
      portfolio_id: "demo",
      ...overrides,
    };
  }

  async open(): Promise<this> {
    this.conn = await amqp.connect(URL);
    this.ch = await this.conn.createConfirmChannel();
    return this;
  }

  intake(
    handler: (d: IntakeDelivery) => Promise<IntakeOutcome>,
    options: RabbitIntakeOptions = {},
    config: Partial<RabbitIntakeConfig> = {},
  ): RabbitIntake {
    const intake = new RabbitIntake({ ...this.config, ...config }, handler, {
      connectionName: `t_intake_${this.id}_${this.intakes.length}`,
      requeueDelayMs: 10,
      ...options,
    });
    this.intakes.push(intake);
    return intake;
  }

  /** Publish like the engine does: JSON, persistent, to the exchange with the portfolio's routing key. */
  async publish(body: unknown, options: { messageId?: string; routingKey?: string } = {}): Promise<void> {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    this.ch.publish(
      this.config.order_request_exchange,
      options.routingKey ?? "PortfolioId_demo",
      Buffer.from(text),
      {
        persistent: true,
        contentType: "application/json",
        messageId: options.messageId,
      },
    );
    await this.ch.waitForConfirms();
  }

  async queueDepth(queue = this.config.order_request_queue): Promise<number> {
    const ch = await this.conn.createChannel();
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close();
    }
  }

  async getDead(): Promise<amqp.GetMessage | false> {
    const ch = await this.conn.createChannel();
    try {
      return await ch.get(this.config.dead_letter_queue, { noAck: true });
    } finally {
      await ch.close();
    }
  }

  async cleanup(): Promise<void> {
    for (const i of this.intakes) await i.stop();
    const ch = await this.conn.createChannel();
    await ch.deleteQueue(this.config.order_request_queue);
    await ch.deleteQueue(this.config.dead_letter_queue);
    await ch.deleteExchange(this.config.order_request_exchange);
    await ch.deleteExchange(this.config.dead_letter_exchange);
    await ch.close();
    await this.conn.close();
  }
}

/** Run `body` with a fresh fixture and always clean up. */
async function withFixture(
  fn: (f: Fixture) => Promise<void>,
  overrides: Partial<RabbitIntakeConfig> = {},
): Promise<void> {
  const f = await new Fixture(overrides).open();
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

const ORDER = {
  symbol: "SHFE.rb2605",
  direction: "BUY",
  offset: "OPEN",
  volume: 1,
  limit_price: 3500,
  order_id: "o-1",
  portfolio_id: "demo",
};

const text = (d: IntakeDelivery) => new TextDecoder().decode(d.body);

// ---------------------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------------------

Deno.test("rabbitmq intake: topology names, heartbeat URL, backoff", () => {
  const f = new Fixture({ order_request_routing_key: "PortfolioId_{portfolio_id}.orders" });
  assertEquals(intakeTopology(f.config), {
    exchange: f.config.order_request_exchange,
    queue: f.config.order_request_queue,
    routingKey: "PortfolioId_demo.orders",
    deadLetterExchange: f.config.dead_letter_exchange,
    deadLetterQueue: f.config.dead_letter_queue,
  });
  assertEquals(withHeartbeat("amqp://u:p@h:5672/", 10), "amqp://u:p@h:5672/?heartbeat=10");
  assertEquals(withHeartbeat("amqp://h/vh?frameMax=0", 3), "amqp://h/vh?frameMax=0&heartbeat=3");
  assertEquals(withHeartbeat("amqp://h/?heartbeat=7", 3), "amqp://h/?heartbeat=7");
  assertEquals(backoffDelay(1, 100, 5000, () => 0.5), 100);
  assertEquals(backoffDelay(3, 100, 5000, () => 0.5), 400);
  assertEquals(backoffDelay(20, 100, 5000, () => 0.5), 5000);
  assertEquals(backoffDelay(1, 100, 5000, () => 0), 75); // -25 % jitter
  assertEquals(backoffDelay(1, 100, 5000, () => 1), 125); // +25 % jitter
});

// ---------------------------------------------------------------------------------------------------------
// Against the broker
// ---------------------------------------------------------------------------------------------------------

Deno.test("rabbitmq intake: a published request reaches the handler and is acked only after it resolves", async () => {
  await withFixture(async (f) => {
    const seen: IntakeDelivery[] = [];
    const gate = deferred<IntakeOutcome>();
    const intake = f.intake((d) => {
      seen.push(d);
      return gate.promise;
    });
    await intake.start();
    assertEquals(intake.state().connected, true);
    assertEquals(intake.state().consumers, 1);
    await f.publish(ORDER, { messageId: "m-1" });
    // A message for another portfolio is not routed to this queue.
    await f.publish({ ...ORDER, portfolio_id: "other" }, { routingKey: "PortfolioId_other" });
    await waitFor("delivery", () => seen.length === 1);
    assertEquals(JSON.parse(text(seen[0])), ORDER);
    assertEquals(seen[0].messageId, "m-1");
    assertEquals(seen[0].redelivered, false);
    assertEquals(seen[0].routingKey, "PortfolioId_demo");
    assertEquals(seen[0].exchange, f.config.order_request_exchange);
    assertEquals(intake.state().in_flight, 1);
    await sleep(100);
    assertEquals(intake.state().acked, 0); // not before the handler resolves
    gate.resolve({ action: "ack" });
    await waitFor("ack", () => intake.state().acked === 1);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0); // acked: gone for good
    assertEquals(seen.length, 1);
    const s = intake.state();
    assertEquals([s.delivered, s.acked, s.dead_lettered, s.requeued, s.connected], [1, 1, 0, 0, false]);
  });
});

Deno.test("rabbitmq intake: a consumer killed mid-handler loses nothing: redelivered to another, redelivered=true", async () => {
  await withFixture(async (f) => {
    const gate = deferred<IntakeOutcome>();
    let aCalls = 0;
    const a = f.intake(() => {
      aCalls++;
      return gate.promise;
    });
    const bSeen: IntakeDelivery[] = [];
    const b = f.intake((d) => {
      bSeen.push(d);
      return Promise.resolve({ action: "ack" });
    });
    await a.start();
    await f.publish(ORDER);
    await waitFor("A's delivery", () => aCalls === 1);
    await a.pause(); // A keeps the unacked delivery but takes no new ones (also after it reconnects)
    await b.start();
    await sleep(200);
    assertEquals(bSeen.length, 0); // still held, unacked, by A
    assertEquals(await closeConnectionNamed(a.connectionName), 1); // A dies with the handler pending
    await waitFor("redelivery to B", () => bSeen.length === 1);
    assertEquals(bSeen[0].redelivered, true);
    assertEquals(bSeen[0].redeliveries, 1);
    assertEquals(JSON.parse(text(bSeen[0])), ORDER);
    await waitFor("B's ack", () => b.state().acked === 1);
    gate.resolve({ action: "ack" }); // A's handler finishes late: its channel is gone, nothing is acked
    await waitFor("A idle", () => a.state().in_flight === 0);
    assertEquals(a.state().acked, 0);
    assertMatch(a.state().last_error ?? "", /connection closed|CONNECTION_FORCED/);
    await a.stop();
    await b.stop();
    assertEquals(await f.queueDepth(), 0);
    assertEquals(aCalls, 1);
  });
});

Deno.test("rabbitmq intake: dead_letter publishes the body to the DLQ with the reject headers, then acks", async () => {
  await withFixture(async (f) => {
    const fields: FieldError[] = [{ field: "volume", message: "expected an integer ≥ 1, got 0" }];
    const intake = f.intake(() =>
      Promise.resolve({ action: "dead_letter", reason: "invalid request", fields })
    );
    await intake.start();
    const body = JSON.stringify({ ...ORDER, volume: 0 });
    await f.publish(body, { messageId: "bad-1" });
    await waitFor("dead-lettered", () => intake.state().dead_lettered === 1);
    const dead = await f.getDead();
    assert(dead !== false, "nothing in the dead-letter queue");
    assertEquals(dead.content.toString(), body);
    const h = dead.properties.headers ?? {};
    assertEquals(h["x-reject-reason"], "invalid request");
    assertEquals(JSON.parse(String(h["x-reject-fields"])), fields);
    assertEquals(h["x-original-routing-key"], "PortfolioId_demo");
    assertEquals(h["x-original-exchange"], f.config.order_request_exchange);
    assertEquals(h["x-portfolio-id"], "demo");
    assert(Math.abs(Date.parse(String(h["x-rejected-at"])) - Date.now()) < 60_000);
    assertEquals(dead.properties.deliveryMode, 2); // persistent
    assertEquals(dead.properties.messageId, "bad-1");
    assertEquals(dead.fields.exchange, f.config.dead_letter_exchange);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0); // the original was acked
    assertEquals(await f.getDead(), false); // exactly one copy
  });
});

Deno.test("rabbitmq intake: requeue redelivers (redelivered=true) and is never acked meanwhile", async () => {
  await withFixture(async (f) => {
    const seen: IntakeDelivery[] = [];
    const intake = f.intake((d) => {
      seen.push(d);
      return Promise.resolve(
        seen.length === 1 ? { action: "requeue", reason: "database down" } : { action: "ack" },
      );
    }, { requeueDelayMs: 150 });
    await intake.start();
    const t0 = Date.now();
    await f.publish(ORDER);
    await waitFor("second delivery", () => seen.length === 2);
    assert(Date.now() - t0 >= 140, "requeued before the delay");
    assertEquals([seen[0].redelivered, seen[1].redelivered], [false, true]);
    assertEquals(seen[1].redeliveries, 1);
    assertEquals(text(seen[1]), text(seen[0]));
    await waitFor("ack", () => intake.state().acked === 1);
    assertEquals(intake.state().requeued, 1);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0);
  });
});

Deno.test("rabbitmq intake: a handler that throws does not lose the message", async () => {
  await withFixture(async (f) => {
    let calls = 0;
    const intake = f.intake(() => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return Promise.resolve({ action: "ack" });
    });
    await intake.start();
    await f.publish(ORDER);
    await waitFor("ack after a throw", () => intake.state().acked === 1);
    assertEquals(calls, 2);
    assertEquals(intake.state().requeued, 1);
    assertEquals(intake.state().dead_lettered, 0);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0);
  });
});

Deno.test("rabbitmq intake: a poison message (always throwing) ends in the DLQ after the redelivery limit", async () => {
  await withFixture(async (f) => {
    let calls = 0;
    const intake = f.intake(() => {
      calls++;
      return Promise.reject(new Error("poison"));
    }, { maxRedeliveries: 3 });
    await intake.start();
    await f.publish("{not json at all", { messageId: "poison-1" });
    await waitFor("dead-lettered", () => intake.state().dead_lettered === 1);
    assertEquals(calls, 4); // first delivery + 3 redeliveries; the 4th redelivery is not handled
    assertEquals(intake.state().requeued, 4);
    const dead = await f.getDead();
    assert(dead !== false);
    assertEquals(dead.content.toString(), "{not json at all");
    assertEquals(dead.properties.headers?.["x-reject-reason"], "redelivery limit");
    assertEquals(JSON.parse(String(dead.properties.headers?.["x-reject-fields"])), [
      { field: "$", message: "redelivered 4 times (limit 3)" },
    ]);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0);
  });
});

Deno.test("rabbitmq intake: after a server-side close it reconnects, re-declares and keeps consuming", async () => {
  await withFixture(async (f) => {
    const seen: string[] = [];
    const states: boolean[] = [];
    const intake = f.intake((d) => {
      seen.push(JSON.parse(text(d)).order_id);
      return Promise.resolve({ action: "ack" });
    }, { onState: (s) => states.push(s.connected) });
    await intake.start();
    await f.publish({ ...ORDER, order_id: "before" });
    await waitFor("first", () => seen.length === 1);

    assertEquals(await closeConnectionNamed(intake.connectionName), 1);
    await waitFor("disconnect noticed", () => states.includes(false));
    await intake.whenConsuming({ timeoutMs: 10_000 });
    assertEquals(intake.state().reconnects, 1);
    await f.publish({ ...ORDER, order_id: "after-close" });
    await waitFor("second", () => seen.length === 2);

    // Delete the queue under it: the broker cancels the consumer; the intake reconnects and re-declares
    // the queue and its binding, so publishing to the exchange reaches it again.
    const ch = await f.conn.createChannel();
    await ch.deleteQueue(f.config.order_request_queue);
    await ch.close();
    await waitFor("reconnect after the queue vanished", () => intake.state().reconnects === 2, 10_000);
    await intake.whenConsuming();
    await f.publish({ ...ORDER, order_id: "after-delete" });
    await waitFor("third", () => seen.length === 3);
    assertEquals(seen, ["before", "after-close", "after-delete"]);
    assertEquals(intake.state().acked, 3);
  });
});

Deno.test("rabbitmq intake: handlers run concurrently up to prefetch, no more", async () => {
  await withFixture(async (f) => {
    let running = 0;
    let peak = 0;
    let release = deferred<void>();
    const intake = f.intake(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await release.promise;
        running--;
        return { action: "ack" };
      },
      {},
      { prefetch: 3 },
    );
    await intake.start();
    for (let i = 0; i < 7; i++) await f.publish({ ...ORDER, order_id: `c-${i}` });
    await waitFor("3 in flight", () => running === 3);
    await sleep(200);
    assertEquals(running, 3); // the broker holds the rest back
    assertEquals(intake.state().delivered, 3);
    release.resolve();
    release = deferred<void>();
    await waitFor("next batch", () => running === 3 && intake.state().acked === 3);
    release.resolve();
    await waitFor("all acked", () => intake.state().acked === 7, 10_000);
    assertEquals(peak, 3);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0);
  });
});

Deno.test("rabbitmq intake: stop() waits for in-flight handlers and acks them before closing", async () => {
  await withFixture(async (f) => {
    const gate = deferred<IntakeOutcome>();
    let calls = 0;
    const intake = f.intake(() => {
      calls++;
      return gate.promise;
    });
    await intake.start();
    await f.publish(ORDER);
    await waitFor("delivery", () => calls === 1);
    let stopped = false;
    const stopping = intake.stop().then(() => stopped = true);
    await sleep(200);
    assertEquals(stopped, false);
    assertEquals(intake.state().consumers, 0); // consumer cancelled first
    gate.resolve({ action: "ack" });
    await stopping;
    assertEquals(intake.state().acked, 1);
    assertEquals(await f.queueDepth(), 0);
  });
});

Deno.test("rabbitmq intake: stop() is bounded; an unfinished delivery goes back to the queue", async () => {
  await withFixture(async (f) => {
    let calls = 0;
    const never = new Promise<IntakeOutcome>(() => {});
    const intake = f.intake(() => {
      calls++;
      return never;
    }, { stopTimeoutMs: 200 });
    await intake.start();
    await f.publish(ORDER);
    await waitFor("delivery", () => calls === 1);
    const t0 = Date.now();
    await intake.stop();
    assert(Date.now() - t0 < 2000);
    await waitFor("back in the queue", async () => (await f.queueDepth()) === 1);
  });
});

Deno.test("rabbitmq intake: pause() stops taking deliveries, resume() takes them again", async () => {
  await withFixture(async (f) => {
    const seen: string[] = [];
    const intake = f.intake((d) => {
      seen.push(JSON.parse(text(d)).order_id);
      return Promise.resolve({ action: "ack" });
    });
    await intake.start();
    await intake.pause();
    assertEquals([intake.state().paused, intake.state().consumers, intake.state().connected], [
      true,
      0,
      true,
    ]);
    await f.publish({ ...ORDER, order_id: "p-1" });
    await sleep(300);
    assertEquals(seen, []);
    assertEquals(await f.queueDepth(), 1);
    await intake.resume();
    await waitFor("delivery after resume", () => seen.length === 1);
    assertEquals(seen, ["p-1"]);
    assertEquals(intake.state().consumers, 1);
  });
});

Deno.test("rabbitmq intake: an unreachable broker does not fail start(); it keeps retrying and reports", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const f = new Fixture({ url: `amqp://guest:guest@127.0.0.1:${port}/` });
  const intake = f.intake(() => Promise.resolve({ action: "ack" }));
  await intake.start();
  const s = intake.state();
  assertEquals([s.connected, s.consuming], [false, false]);
  assertMatch(s.last_error ?? "", /connect failed/);
  await sleep(300); // a few retries (50 ms doubling)
  assertEquals(intake.state().connected, false);
  await intake.stop();
});

Deno.test("rabbitmq intake: an existing queue with its own arguments (quorum, DLX) is used as is", async () => {
  await withFixture(async (f) => {
    const ch = await f.conn.createChannel();
    await ch.assertQueue(f.config.order_request_queue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-dead-letter-exchange": "somewhere-else" },
    });
    await ch.close();
    let calls = 0;
    const seen: IntakeDelivery[] = [];
    const intake = f.intake((d) => {
      seen.push(d);
      return Promise.resolve(++calls === 1 ? { action: "requeue", reason: "transient" } : { action: "ack" });
    });
    await intake.start();
    assertEquals(intake.state().last_error, null);
    await intake.whenConsuming({ timeoutMs: 5000 });
    await f.publish(ORDER);
    await waitFor("ack", () => intake.state().acked === 1);
    assertEquals(seen.map((d) => [d.redelivered, d.redeliveries]), [[false, 0], [true, 1]]);
    await intake.stop();
    assertEquals(await f.queueDepth(), 0);
  });
});
