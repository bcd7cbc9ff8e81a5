import { assert, assertEquals } from "../../../tests/assert.ts";
import { withTestDatabase } from "../../../tests/helpers/pg.ts";
import { closeDatabase, connectDatabase, type Database } from "./connect.ts";
import { leaseKey, PortfolioLease } from "./lease.ts";

async function waitUntil(what: string, fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("leaseKey is stable per portfolio and differs between portfolios", async () => {
  assertEquals(await leaseKey("demo"), await leaseKey("demo"));
  assert((await leaseKey("demo")) !== (await leaseKey("demo2")));
});

Deno.test("lease: one holder per portfolio; the standby takes over when the holder stops or its session dies", async () => {
  await withTestDatabase(async (config) => {
    const leaseClient = (name: string) =>
      connectDatabase(config, {
        max: 1,
        idleTimeoutSeconds: 0,
        maxLifetimeSeconds: null,
        applicationName: name,
      });
    const a = await leaseClient("lease-a");
    const b = await leaseClient("lease-b");
    const b2 = await leaseClient("lease-b2");
    const changes: string[] = [];
    const leaseA = new PortfolioLease(a, "p1", { intervalMs: 50, onChange: (h) => changes.push(`a:${h}`) });
    const leaseB = new PortfolioLease(b, "p1", { intervalMs: 50, onChange: (h) => changes.push(`b:${h}`) });
    const other = new PortfolioLease(b2, "p2", { intervalMs: 50, onError: () => {} });
    try {
      await leaseA.start();
      await leaseB.start();
      await other.start();
      assert(leaseA.held, "first instance holds");
      assert(!leaseB.held, "second instance stands by");
      assert(other.held, "another portfolio is independent");

      await leaseA.stop();
      await waitUntil("b takes over", () => leaseB.held);
      assert(!leaseA.held);

      // b's session dies: it notices on its heartbeat, and a new contender gets the lease
      const a2 = await leaseClient("lease-a2");
      const leaseA2 = new PortfolioLease(a2, "p1", {
        intervalMs: 50,
        onChange: (h) => changes.push(`a2:${h}`),
      });
      await leaseA2.start();
      assert(!leaseA2.held);
      await a`select pg_terminate_backend(pid) from pg_stat_activity
              where application_name = 'lease-b' and pid <> pg_backend_pid()`;
      await waitUntil("a2 takes over after b's session died", () => leaseA2.held);
      await waitUntil("b notices the loss", () => !leaseB.held);
      await leaseA2.stop();
      await closeDatabase(a2);
      assertEquals(changes.slice(0, 3), ["a:true", "a:false", "b:true"]);
      assert(changes.includes("a2:true") && changes.includes("b:false"), changes.join(","));
    } finally {
      await leaseA.stop();
      await leaseB.stop();
      await other.stop();
      await closeDatabase(a);
      await closeDatabase(b);
      await closeDatabase(b2);
    }
  });
});

Deno.test("lease: a heartbeat that never answers (network cut) loses the lease within the timeout", async () => {
  // The database is the collaborator that hangs here: a stand-in answers the lock, then never again.
  let calls = 0;
  const hanging = ((strings: TemplateStringsArray) => {
    calls++;
    // The lock is granted once; later attempts find it taken. The heartbeat never answers.
    if (strings.join("?").includes("pg_try_advisory_lock")) {
      return Promise.resolve([{ ok: calls === 1, pid: 42 }]);
    }
    return new Promise(() => {});
  }) as unknown as Database;
  const changes: boolean[] = [];
  const errors: string[] = [];
  const lease = new PortfolioLease(hanging, "p-hang", {
    intervalMs: 20,
    heartbeatTimeoutMs: 60,
    onChange: (held) => changes.push(held),
    onError: (e) => errors.push(e.message),
  });
  await lease.start();
  assert(lease.held, "held after the lock");
  const end = Date.now() + 2000;
  while (lease.held && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assertEquals(lease.held, false);
  assertEquals(changes, [true, false]);
  assert(errors.some((m) => m.includes("no answer within 60 ms")), errors.join("; "));
  assert(calls >= 2);
  await lease.stop();
});
