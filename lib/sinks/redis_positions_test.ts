/**
 * Against real Redis: the shared server at 127.0.0.1:6379 (db 11, a unique portfolio id per test, keys
 * removed after), and a private `redis-server` on a free port for the restart and coalescing tests.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { account, brokerState, position, snapshot } from "../../tests/helpers/fake_broker.ts";
import { LiveView } from "../stream/live_view.ts";
import { closeRedisClient, createRedisClient, type Redis } from "./redis_client.ts";
import {
  accountKey,
  breakdownKey,
  metaKey,
  positionKey,
  RedisPositionWriter,
  type RedisPositionWriterOptions,
} from "./redis_positions.ts";

const DB = 11;
const SHARED = { host: "127.0.0.1", port: 6379, password: "", db: DB };

function uniquePortfolio(): string {
  return `test_${crypto.randomUUID().slice(0, 8)}`;
}

function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

/** An inspection client on the shared server, plus cleanup of a portfolio's keys. */
async function inspector(): Promise<Redis> {
  const r = createRedisClient(SHARED);
  await r.connect();
  return r;
}

async function removeKeys(r: Redis, portfolio: string): Promise<void> {
  const keys = await r.keys(`*PortfolioId_${portfolio}*`);
  if (keys.length > 0) await r.del(...keys);
}

function readyView(): LiveView {
  const view = new LiveView();
  view.apply({ type: "state", state: brokerState(true) });
  return view;
}

async function startWriter(
  view: LiveView,
  options: Partial<RedisPositionWriterOptions> & { portfolioId: string },
): Promise<RedisPositionWriter> {
  const writer = new RedisPositionWriter(view, { redis: SHARED, ...options });
  await writer.start();
  await until("redis connected", () => writer.status().connected);
  return writer;
}

Deno.test("redis writer: exact keys, values and TTL after a snapshot and a position event", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf });
  try {
    view.apply({
      type: "snapshot",
      snapshot: snapshot({
        positions: [position("SHFE.rb2605", { long_today: 2, long_his: 3, short_his: 1 })],
        account: account(1_000_000, {
          available: 900_000,
          margin: 100_000,
          risk_ratio: 0.1,
          position_profit: 250,
          float_profit: 300,
        }),
      }),
    });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "4");
    assertEquals(positionKey(pf, "SHFE.rb2605"), `TQ_Position_PortfolioId_${pf}_Symbol_SHFE.rb2605`);
    const bd = JSON.parse((await r.get(`TQ_Position_Breakdown_PortfolioId_${pf}_Symbol_SHFE.rb2605`))!);
    const updatedAt = bd.updated_at;
    assert(Math.abs(Date.parse(updatedAt) - Date.now()) < 5000, updatedAt);
    assertEquals(bd, {
      pos_long: 5,
      pos_short: 1,
      pos_long_today: 2,
      pos_long_his: 3,
      pos_short_today: 0,
      pos_short_his: 1,
      updated_at: updatedAt,
    });
    const acc = JSON.parse((await r.get(`TQ_Account_PortfolioId_${pf}`))!);
    assertEquals(acc, {
      balance: 1_000_000,
      available: 900_000,
      margin: 100_000,
      risk_ratio: 0.1,
      position_profit: 250,
      float_profit: 300,
      updated_at: acc.updated_at,
    });
    for (const key of [positionKey(pf, "SHFE.rb2605"), breakdownKey(pf, "SHFE.rb2605"), accountKey(pf)]) {
      const ttl = await r.ttl(key);
      assert(ttl > 3590 && ttl <= 3600, `${key} ttl ${ttl}`);
    }
    const meta = JSON.parse((await r.get(metaKey(pf)))!);
    assertEquals([meta.stale, meta.phase, meta.snapshot_seq, meta.trading_day], [
      false,
      "ready",
      1,
      "20251224",
    ]);

    // a short position on a second symbol
    view.apply({ type: "position", position: position("DCE.m2605", { short_today: 2, short_his: 5 }) });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "DCE.m2605")), "-7");
    assertEquals(JSON.parse((await r.get(breakdownKey(pf, "DCE.m2605")))!).pos_short_his, 5);

    // closing to flat writes "0" (not a deleted or expiring key)
    view.apply({ type: "position", position: position("SHFE.rb2605", {}) });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "0");
    assert((await r.ttl(positionKey(pf, "SHFE.rb2605"))) > 3590);
    assertEquals(writer.status().dirty, false);
    assertEquals(writer.status().last_error, null);
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

Deno.test("redis writer: nothing is written before the first complete snapshot", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf });
  try {
    view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 1 }) });
    view.apply({ type: "account", account: account(5) });
    await wait(50);
    await writer.flushed();
    assertEquals(await r.keys(`*PortfolioId_${pf}*`), []);
    assertEquals(writer.status().has_snapshot, false);
    view.apply({
      type: "snapshot",
      snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_his: 2 })] }),
    });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "2");
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

Deno.test("redis writer: a snapshot without a previously held symbol zeroes it", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf });
  try {
    view.apply({
      type: "snapshot",
      snapshot: snapshot({
        positions: [position("SHFE.rb2605", { long_today: 3 }), position("DCE.m2605", { short_his: 2 })],
      }),
    });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "DCE.m2605")), "-2");
    // after a reconnect the broker's snapshot no longer has DCE.m2605
    view.apply({
      type: "snapshot",
      snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_today: 3 })] }),
    });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "DCE.m2605")), "0");
    const bd = JSON.parse((await r.get(breakdownKey(pf, "DCE.m2605")))!);
    assertEquals([bd.pos_long, bd.pos_short, bd.pos_short_his], [0, 0, 0]);
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "3");
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

Deno.test("redis writer: keys left by an earlier run for symbols no longer held are zeroed", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  await r.set(positionKey(pf, "CZCE.SR605"), "8", "EX", 3600); // from before a restart
  await r.set(positionKey(`${pf}_Symbol_x`, "SHFE.au2606"), "1", "EX", 3600); // another portfolio: untouched
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf });
  try {
    view.apply({
      type: "snapshot",
      snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_today: 1 })] }),
    });
    await writer.flushed();
    assertEquals(await r.get(positionKey(pf, "CZCE.SR605")), "0");
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "1");
    assertEquals(await r.get(positionKey(`${pf}_Symbol_x`, "SHFE.au2606")), "1");
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

Deno.test("redis writer: the TTL of a quiet account is refreshed", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf, ttlSeconds: 30, refreshIntervalMs: 200 });
  try {
    view.apply({
      type: "snapshot",
      snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_today: 1 })], account: account(77) }),
    });
    await writer.flushed();
    const keys = [
      positionKey(pf, "SHFE.rb2605"),
      breakdownKey(pf, "SHFE.rb2605"),
      accountKey(pf),
      metaKey(pf),
    ];
    // time passes with no change: pretend most of the TTL is gone
    for (const k of keys) await r.expire(k, 3);
    for (const k of keys) assert((await r.ttl(k)) <= 3);
    await until("ttl refreshed", async () => {
      const ttls = await Promise.all(keys.map((k) => r.ttl(k)));
      return ttls.every((t) => t > 25);
    }, 3000);
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "1");
    assertEquals(JSON.parse((await r.get(accountKey(pf)))!).balance, 77);
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

Deno.test("redis writer: while the broker is down keys stay refreshed, updated_at frozen, meta stale", async () => {
  const pf = uniquePortfolio();
  const r = await inspector();
  const view = readyView();
  const writer = await startWriter(view, { portfolioId: pf });
  try {
    view.apply({
      type: "snapshot",
      snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_his: 1 })] }),
    });
    await writer.flushed();
    const before = Date.now();
    view.apply({ type: "state", state: brokerState(false) }); // the broker connection drops
    await writer.flushed();
    const meta1 = JSON.parse((await r.get(metaKey(pf)))!);
    assertEquals([meta1.stale, meta1.ready, meta1.phase], [true, false, "backoff"]);
    const frozen = Date.parse(meta1.updated_at);
    assert(frozen >= before - 5 && frozen <= Date.now(), "updated_at = when it stopped being ready");
    await wait(30);
    await r.expire(positionKey(pf, "SHFE.rb2605"), 5);
    writer.refresh(); // what the refresh timer does
    await writer.flushed();
    assert((await r.ttl(positionKey(pf, "SHFE.rb2605"))) > 3590); // still refreshed
    assertEquals(Date.parse(JSON.parse((await r.get(accountKey(pf)))!).updated_at), frozen);
    const meta2 = JSON.parse((await r.get(metaKey(pf)))!);
    assertEquals(Date.parse(meta2.updated_at), frozen);
    assert(Date.parse(meta2.written_at) >= frozen + 25, "written_at moves on");
  } finally {
    await writer.stop();
    await removeKeys(r, pf);
    await closeRedisClient(r);
  }
});

// ---------------------------------------------------------------------------------------------------------
// A private redis-server (never restart the shared one)
// ---------------------------------------------------------------------------------------------------------

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

class PrivateRedis {
  #child: Deno.ChildProcess | null = null;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.#child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await until("private redis-server up", async () => {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        c.close();
        return true;
      } catch {
        return false;
      }
    });
  }

  async kill(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill("SIGKILL");
    await this.#child.status;
    this.#child = null;
  }
}

Deno.test("redis writer: survives a Redis restart and rewrites the full current state", async () => {
  const pf = uniquePortfolio();
  const server = new PrivateRedis(freePort());
  await server.start();
  const config = { host: "127.0.0.1", port: server.port, password: "", db: 0 };
  const view = readyView();
  const writer = new RedisPositionWriter(view, {
    portfolioId: pf,
    redis: config,
    clientOptions: { retryBaseMs: 20, retryMaxMs: 100, connectTimeoutMs: 500 },
  });
  await writer.start();
  let r: Redis | null = null;
  try {
    await until("connected", () => writer.status().connected);
    view.apply({
      type: "snapshot",
      snapshot: snapshot({
        positions: [position("SHFE.rb2605", { long_today: 2 }), position("DCE.m2605", { short_his: 1 })],
        account: account(1000),
      }),
    });
    await writer.flushed();

    await server.kill(); // everything in it is gone (no persistence)
    await until("disconnect noticed", () => !writer.status().connected);
    // the broker keeps moving while Redis is down
    view.apply({ type: "position", position: position("SHFE.rb2605", { long_today: 5 }) });
    view.apply({ type: "account", account: account(2000) });
    await writer.flushed();
    const down = writer.status();
    assertEquals([down.connected, down.dirty, down.ok], [false, true, false]);
    assert(down.last_error !== null);

    await server.start(); // same port, empty
    await until("reconnected and clean", () => writer.status().connected && !writer.status().dirty);
    await writer.flushed();
    r = createRedisClient(config);
    await r.connect();
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "5"); // the change made while down
    assertEquals(await r.get(positionKey(pf, "DCE.m2605")), "-1"); // unchanged, rewritten anyway
    assertEquals(JSON.parse((await r.get(accountKey(pf)))!).balance, 2000);
    assert(JSON.parse((await r.get(breakdownKey(pf, "DCE.m2605")))!).pos_short_his === 1);
    assert((await r.ttl(positionKey(pf, "DCE.m2605"))) > 3590);
    assertEquals(writer.status().ok, true);
  } finally {
    await writer.stop();
    if (r) await closeRedisClient(r);
    await server.kill();
  }
});

Deno.test("redis writer: starts while Redis is down and writes once it comes up", async () => {
  const pf = uniquePortfolio();
  const server = new PrivateRedis(freePort());
  const config = { host: "127.0.0.1", port: server.port, password: "", db: 0 };
  const view = readyView();
  view.apply({
    type: "snapshot",
    snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_his: 4 })] }),
  });
  const writer = new RedisPositionWriter(view, {
    portfolioId: pf,
    redis: config,
    clientOptions: { retryBaseMs: 20, retryMaxMs: 100, connectTimeoutMs: 500 },
  });
  await writer.start();
  let r: Redis | null = null;
  try {
    await wait(100);
    assertEquals(writer.status().connected, false);
    await server.start();
    await until("connected and written", () => writer.status().connected && writer.status().batches > 0);
    r = createRedisClient(config);
    await r.connect();
    assertEquals(await r.get(positionKey(pf, "SHFE.rb2605")), "4");
  } finally {
    await writer.stop();
    if (r) await closeRedisClient(r);
    await server.kill();
  }
});

Deno.test("redis writer: a burst of changes in one tick goes out as one MULTI", async () => {
  const pf = uniquePortfolio();
  const server = new PrivateRedis(freePort());
  await server.start();
  const config = { host: "127.0.0.1", port: server.port, password: "", db: 0 };
  const r = createRedisClient(config);
  await r.connect();
  const view = readyView();
  const writer = new RedisPositionWriter(view, { portfolioId: pf, redis: config });
  await writer.start();
  try {
    await until("connected", () => writer.status().connected);
    view.apply({ type: "snapshot", snapshot: snapshot({}) });
    await writer.flushed();
    await r.config("RESETSTAT");
    const symbols = Array.from({ length: 20 }, (_, i) => `SHFE.rb26${String(i).padStart(2, "0")}`);
    for (let i = 0; i < symbols.length; i++) {
      view.apply({ type: "position", position: position(symbols[i], { long_today: i + 1 }) });
      view.apply({ type: "position", position: position(symbols[i], { long_today: i + 2 }) }); // superseded
    }
    view.apply({ type: "account", account: account(123) });
    await writer.flushed();
    const stats = await r.info("commandstats");
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    assertEquals(calls("multi"), 1);
    assertEquals(calls("exec"), 1);
    // 20 symbols × (net + breakdown) + account + meta; each symbol once, with its latest value
    assertEquals(calls("set"), 20 * 2 + 2);
    assertEquals(await r.get(positionKey(pf, symbols[19])), "21");
  } finally {
    await writer.stop();
    await closeRedisClient(r);
    await server.kill();
  }
});
