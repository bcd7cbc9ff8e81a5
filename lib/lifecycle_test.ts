import { assert, assertEquals, assertRejects, assertThrows } from "../tests/assert.ts";
import { type Component, Lifecycle, runUntilSignal } from "./lifecycle.ts";

function recorder() {
  const events: string[] = [];
  function component(name: string, over: Partial<Component> = {}): Component {
    return {
      name,
      start: () => {
        events.push(`start ${name}`);
        return Promise.resolve();
      },
      stop: () => {
        events.push(`stop ${name}`);
        return Promise.resolve();
      },
      ...over,
    };
  }
  return { events, component };
}

Deno.test("lifecycle: starts in order, stops in reverse", async () => {
  const { events, component } = recorder();
  const lc = new Lifecycle().add(component("db")).add(component("broker")).add(component("http"));
  await lc.start();
  assertEquals(lc.started, ["db", "broker", "http"]);
  const report = await lc.stop();
  assertEquals(events, ["start db", "start broker", "start http", "stop http", "stop broker", "stop db"]);
  assertEquals(report, { ok: true, stopped: ["http", "broker", "db"], failures: [] });
  assertEquals(lc.started, []);
  assertEquals((await lc.stop()).stopped, []); // a second stop stops nothing
});

Deno.test("lifecycle: a failed start stops what started (and the failed one) in reverse, then rethrows", async () => {
  const { events, component } = recorder();
  const boom = new Error("cannot connect");
  const lc = new Lifecycle()
    .add(component("db"))
    .add(component("broker"))
    .add(component("rabbitmq", {
      start: () => {
        events.push("start rabbitmq");
        return Promise.reject(boom);
      },
    }))
    .add(component("http"));
  const e = await assertRejects(() => lc.start());
  assert(e === boom);
  assertEquals(events, [
    "start db",
    "start broker",
    "start rabbitmq",
    "stop rabbitmq",
    "stop broker",
    "stop db",
  ]);
  assertEquals(lc.started, []);
});

Deno.test("lifecycle: a hung stop is skipped after its limit, a throwing stop is reported, the rest stop", async () => {
  const { events, component } = recorder();
  let release!: () => void;
  const hung = new Promise<void>((r) => release = r);
  const lc = new Lifecycle({ defaultStopTimeoutMs: 5_000 })
    .add(component("db"))
    .add(component("broker", {
      stopTimeoutMs: 50,
      stop: () => {
        events.push("stop broker (hangs)");
        return hung;
      },
    }))
    .add(component("cache", {
      stop: () => {
        events.push("stop cache (throws)");
        throw new Error("already closed");
      },
    }))
    .add(component("http"));
  await lc.start();
  const t0 = performance.now();
  const report = await lc.stop();
  const elapsed = performance.now() - t0;
  release();
  assert(elapsed >= 45 && elapsed < 2_000, `elapsed ${elapsed}`);
  assertEquals(events.slice(4), ["stop http", "stop cache (throws)", "stop broker (hangs)", "stop db"]);
  assertEquals(report.ok, false);
  assertEquals(report.stopped, ["http", "cache", "broker", "db"]);
  assertEquals(report.failures.map((f) => [f.name, f.reason]), [["cache", "error"], ["broker", "timeout"]]);
  assertEquals((report.failures[0].error as Error).message, "already closed");
});

Deno.test("lifecycle: duplicate names and double start are refused", async () => {
  const { component } = recorder();
  const lc = new Lifecycle().add(component("a"));
  assertEquals(
    (() => {
      try {
        lc.add(component("a"));
        return "added";
      } catch (e) {
        return (e as Error).message;
      }
    })(),
    "lifecycle: a component named a was already added",
  );
  await lc.start();
  await assertRejects(() => lc.start());
  await lc.stop();
});

Deno.test("runUntilSignal: resolves 0 after a clean stop, 1 when a stop fails", async () => {
  const { events, component } = recorder();
  const ac = new AbortController();
  const lc = new Lifecycle().add(component("a")).add(component("b", {
    start: () => {
      events.push("start b");
      setTimeout(() => ac.abort(), 10);
      return Promise.resolve();
    },
  }));
  assertEquals(await runUntilSignal(lc, { abort: ac.signal }), 0);
  assertEquals(events, ["start a", "start b", "stop b", "stop a"]);

  const bad = new Lifecycle().add(component("c", { stop: () => Promise.reject(new Error("x")) }));
  const ac2 = new AbortController();
  ac2.abort();
  assertEquals(await runUntilSignal(bad, { abort: ac2.signal }), 1);
});

Deno.test("runUntilSignal: a failed start rejects", async () => {
  const lc = new Lifecycle().add({
    name: "x",
    start: () => Promise.reject(new Error("nope")),
    stop: () => Promise.resolve(),
  });
  const e = await assertRejects(() => runUntilSignal(lc, { abort: new AbortController().signal }));
  assertEquals(e.message, "nope");
});

Deno.test("runUntilSignal: a real SIGTERM stops a child process cleanly with exit code 0", async () => {
  const lifecycleUrl = new URL("./lifecycle.ts", import.meta.url).href;
  const code = `
    import { Lifecycle, runUntilSignal } from ${JSON.stringify(lifecycleUrl)};
    const lc = new Lifecycle()
      .add({ name: "a", start: async () => {}, stop: async () => console.log("stop a") })
      .add({ name: "b", start: async () => console.log("ready"), stop: async () => console.log("stop b") });
    const rc = await runUntilSignal(lc);
    console.log("rc " + rc);
    Deno.exit(rc);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  assert(out.includes("ready"), `child did not become ready: ${out}`);
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const status = await child.status;
  assertEquals(out.trim().split("\n"), ["ready", "stop b", "stop a", "rc 0"]);
  assertEquals(status.code, 0);
});

Deno.test("lifecycle: a stop budget bounds the whole stop and keeps a share for each component after a hung one", async () => {
  const { events, component } = recorder();
  const hung = new Promise<void>(() => {});
  const began = new Map<string, number>();
  const hangs = (name: string): Partial<Component> => ({
    stop: () => {
      events.push(`stop ${name} (hangs)`);
      began.set(name, performance.now());
      return hung;
    },
  });
  const lc = new Lifecycle({ defaultStopTimeoutMs: 10_000, stopBudgetMs: 600, minStopMs: 100 })
    .add(component("db", hangs("db")))
    .add(component("quick", { stopTimeoutMs: 20, ...hangs("quick") }))
    .add(component("broker", hangs("broker")))
    .add(component("http"));
  await lc.start();
  const t0 = performance.now();
  const report = await lc.stop();
  const end = performance.now();
  assertEquals(events.slice(4), [
    "stop http",
    "stop broker (hangs)",
    "stop quick (hangs)",
    "stop db (hangs)",
  ]);
  assertEquals(report.failures.map((f) => [f.name, f.reason]), [
    ["broker", "timeout"],
    ["quick", "timeout"],
    ["db", "timeout"],
  ]);
  // broker: the budget less 100 ms for each of the two after it (≈ 400 ms, not its own 10 s); quick: its own
  // 20 ms; db: what is left (≈ 180 ms). The whole stop ≈ 600 ms, where the limits alone allow 20 s.
  const broker = began.get("quick")! - began.get("broker")!;
  const quick = began.get("db")! - began.get("quick")!;
  const db = end - began.get("db")!;
  assert(broker >= 350 && broker < 1_000, `broker ${broker}`);
  assert(quick >= 15 && quick < 300, `quick ${quick}`);
  assert(db >= 95 && db < 800, `db ${db}`);
  assert(end - t0 >= 550 && end - t0 < 2_000, `whole stop ${end - t0}`);
});

Deno.test("lifecycle: once the budget is spent, each later stop still gets its minimum", async () => {
  const { events, component } = recorder();
  const hung = new Promise<void>(() => {});
  const lc = new Lifecycle({ stopBudgetMs: 50, minStopMs: 80 })
    .add(component("db", { stop: () => hung }))
    .add(component("http", { stop: () => hung }));
  await lc.start();
  const t0 = performance.now();
  const report = await lc.stop();
  const elapsed = performance.now() - t0;
  assertEquals(report.stopped, ["http", "db"]);
  assertEquals(events, ["start db", "start http"]);
  assert(elapsed >= 150 && elapsed < 1_000, `elapsed ${elapsed}`);
});

Deno.test("lifecycle: a component's own minimum is kept for it while the ones before it stop", async () => {
  const { component } = recorder();
  const hung = new Promise<void>(() => {});
  const began = new Map<string, number>();
  const hangs = (name: string): Partial<Component> => ({
    stop: () => {
      began.set(name, performance.now());
      return hung;
    },
  });
  const lc = new Lifecycle({ stopBudgetMs: 800, minStopMs: 50 })
    .add(component("db", { minStopMs: 400, ...hangs("db") }))
    .add(component("http", hangs("http")));
  await lc.start();
  await lc.stop();
  const end = performance.now();
  // http gets 800 − 400 ≈ 400 ms (not 750), db the 400 ms kept for it.
  const http = began.get("db")! - began.get("http")!;
  const db = end - began.get("db")!;
  assert(http >= 350 && http < 700, `http ${http}`);
  assert(db >= 350, `db ${db}`);
});

Deno.test("lifecycle: a time option that is not a finite number >= 0 is refused, naming it", () => {
  assertEquals(
    assertThrows(() => new Lifecycle({ stopBudgetMs: NaN })).message,
    "lifecycle: stopBudgetMs must be a finite number of milliseconds >= 0, got NaN",
  );
  assertThrows(() => new Lifecycle({ minStopMs: -1 }));
  assertThrows(() => new Lifecycle({ defaultStopTimeoutMs: Infinity }));
  const { component } = recorder();
  assertEquals(
    assertThrows(() => new Lifecycle().add(component("db", { minStopMs: NaN }))).message,
    "lifecycle: db: minStopMs must be a finite number of milliseconds >= 0, got NaN",
  );
});
