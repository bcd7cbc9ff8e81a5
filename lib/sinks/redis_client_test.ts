import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { closeRedisClient, createRedisClient, reconnectDelay } from "./redis_client.ts";

Deno.test("reconnectDelay: exponential, capped, jittered in [50%, 100%]", () => {
  assertEquals(reconnectDelay(1, { baseMs: 100, maxMs: 5000, random: () => 1 }), 100);
  assertEquals(reconnectDelay(3, { baseMs: 100, maxMs: 5000, random: () => 1 }), 400);
  assertEquals(reconnectDelay(20, { baseMs: 100, maxMs: 5000, random: () => 1 }), 5000);
  assertEquals(reconnectDelay(20, { baseMs: 100, maxMs: 5000, random: () => 0 }), 2500);
  assertEquals(reconnectDelay(2, { baseMs: 100, maxMs: 5000, random: () => 0.5 }), 150);
  assertEquals(reconnectDelay(1000, { random: () => 1 }), 5000); // defaults, no overflow
});

Deno.test("redis client: lazy, selects the configured db, closes cleanly", async () => {
  const client = createRedisClient({ host: "127.0.0.1", port: 6379, password: "", db: 11 });
  assertEquals(client.status, "wait"); // lazyConnect: nothing happened yet
  await client.connect();
  assertEquals(client.status, "ready");
  const key = `redis_client_test_${crypto.randomUUID()}`;
  await client.set(key, "v", "EX", 10);
  const probe = createRedisClient({ host: "127.0.0.1", port: 6379, password: "", db: 12 });
  await probe.connect();
  assertEquals(await probe.get(key), null); // another db does not see it
  await closeRedisClient(probe);
  assertEquals(await client.get(key), "v");
  await client.del(key);
  await closeRedisClient(client);
  assertEquals(client.status, "end");
});

Deno.test("redis client: commands fail fast while not connected (no offline queue)", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens there now
  const client = createRedisClient({ host: "127.0.0.1", port, password: "", db: 0 }, { retryBaseMs: 20 });
  client.on("error", () => {});
  client.connect().catch(() => {});
  const started = Date.now();
  await assertRejects(() => client.get("x"));
  assertEquals(Date.now() - started < 500, true);
  await closeRedisClient(client);
  assertEquals(client.status, "end");
  // closing a client that never connected
  const idle = createRedisClient({ host: "127.0.0.1", port, password: "", db: 0 });
  await closeRedisClient(idle);
  assertEquals(idle.status, "end");
});
