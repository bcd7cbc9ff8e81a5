import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import RawTqsdk from "tqsdk";
import { type CaptureSink, installConsoleCapture, summariseArg } from "./console_capture.ts";

type Rec = { level: string; message: string; props: Record<string, unknown> };
type ConsoleFn = (...args: unknown[]) => void;

/** Replace console.log/error with recorders for the duration of `fn`. */
async function withRecordedConsole(fn: (lines: string[]) => Promise<void> | void): Promise<void> {
  const c = console as unknown as Record<string, ConsoleFn>;
  const saved = { log: c.log, error: c.error, warn: c.warn, info: c.info, debug: c.debug };
  const lines: string[] = [];
  for (const m of Object.keys(saved)) {
    c[m] = (...args: unknown[]) => lines.push(`${m}: ${args.map(String).join(" ")}`);
  }
  try {
    await fn(lines);
  } finally {
    Object.assign(c, saved);
  }
}

function recordingSink(records: Rec[], onRecord?: () => void): CaptureSink {
  return {
    debug: (message, props) => {
      records.push({ level: "debug", message, props });
      onRecord?.();
    },
    warning: (message, props) => {
      records.push({ level: "warning", message, props });
      onRecord?.();
    },
  };
}

// deno-lint-ignore no-explicit-any
const TQSDK = RawTqsdk as any;

Deno.test("console capture: tqsdk's own console calls go to the logger, others are untouched", async () => {
  await withRecordedConsole((lines) => {
    const records: Rec[] = [];
    const cap = installConsoleCapture({ sink: recordingSink(records) });
    try {
      console.log("plain output", 1);
      const tq = new TQSDK({ autoInit: false, requestMethod: () => new Promise(() => {}) }, {});
      // addAccount before the broker list → console.error('交易信息未初始化') from inside tqsdk
      tq.addAccount({ bid: "x", user_id: "u", password: "p" });
      // a tqsdk message recognised only by its stack (no fixed text)
      tq.dm.setDefault([{}]);
      console.error("app error");
    } finally {
      cap.uninstall();
    }
    assertEquals(lines, ["log: plain output 1", "error: app error"]);
    assertEquals(records.length, 2);
    assertEquals(records[0].level, "warning");
    assertEquals(records[0].props.text, "交易信息未初始化");
    assertEquals(records[0].props.method, "error");
    assertMatch(String(records[1].props.text), /^SetDefault, pathArray/);
    // uninstalled: tqsdk output is no longer captured
    new TQSDK({ autoInit: false }, {}).addAccount({ bid: "x", user_id: "u", password: "p" });
    assertEquals(records.length, 2);
    assertEquals(lines.at(-1), "error: 交易信息未初始化");
  });
});

Deno.test("console capture: a sink that writes to the console does not recurse", async () => {
  await withRecordedConsole((lines) => {
    const records: Rec[] = [];
    const cap = installConsoleCapture({ sink: recordingSink(records, () => console.error("sink wrote")) });
    try {
      new TQSDK({ autoInit: false }, {}).addAccount({ bid: "x", user_id: "u", password: "p" });
    } finally {
      cap.uninstall();
    }
    assertEquals(records.length, 1);
    assertEquals(lines, ["error: sink wrote"]);
  });
});

Deno.test("console capture: close events are summarised, installs are reference-counted", async () => {
  await withRecordedConsole((lines) => {
    const c = console as unknown as Record<string, ConsoleFn>;
    const before = c.log;
    const a: Rec[] = [];
    const b: Rec[] = [];
    const capA = installConsoleCapture({ sink: recordingSink(a) });
    const capB = installConsoleCapture({ sink: recordingSink(b) });
    // tqsdk's close log, recognised by its fixed shape
    console.log("close", { code: 1006, reason: "", wasClean: false, type: "close", target: { huge: "x" } });
    capB.uninstall();
    console.log("close", { code: 1000, reason: "bye", wasClean: true });
    capA.uninstall();
    capA.uninstall();
    assertEquals(c.log, before);
    console.log("after");
    assertEquals(b.map((r) => r.props.text), ['close CloseEvent(code=1006, reason="", wasClean=false)']);
    assertEquals(a.map((r) => r.props.text), ['close CloseEvent(code=1000, reason="bye", wasClean=true)']);
    assertEquals(lines, ["log: after"]);
  });
});

Deno.test("console capture: a later wrapper is respected on uninstall", async () => {
  await withRecordedConsole((lines) => {
    const c = console as unknown as Record<string, ConsoleFn>;
    const records: Rec[] = [];
    const cap = installConsoleCapture({ sink: recordingSink(records) });
    const ours = c.log;
    const theirs = (...args: unknown[]) => ours("wrapped:", ...args);
    c.log = theirs;
    cap.uninstall();
    assert(c.log === theirs);
    console.log("close", { code: 1000, reason: "" });
    assertEquals(records.length, 0);
    assertEquals(lines, ["log: wrapped: close [object Object]"]);
  });
});

Deno.test("summariseArg", () => {
  assertEquals(summariseArg(new TypeError("boom")), "TypeError: boom");
  assertEquals(summariseArg({ msg: "发起重连第 1 次" }), "发起重连第 1 次");
  assertEquals(summariseArg({ a: 1 }), '{"a":1}');
  assertEquals(summariseArg("x".repeat(10), 4), "xxxx…");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assertEquals(summariseArg(cyclic), "[object Object]");
});
