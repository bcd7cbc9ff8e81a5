import type { LogRecord } from "@logtape/logtape";
import { assert, assertEquals, assertMatch, assertRejects } from "../tests/assert.ts";
import type { LogConfig } from "./config.ts";
import {
  formatJsonLine,
  formatLocalTimestamp,
  formatTextLine,
  getLogger,
  redactRecord,
  redactUrlCredentials,
  setupLogging,
  shutdownLogging,
} from "./log.ts";

function record(over: Partial<LogRecord>): LogRecord {
  return {
    category: ["tbc", "orders"],
    level: "info",
    message: ["order accepted"],
    rawMessage: "order accepted",
    timestamp: Date.UTC(2025, 11, 24, 2, 0, 0, 123),
    properties: {},
    ...over,
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await shutdownLogging();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("log: local timestamp carries its offset and reads back as the same instant", () => {
  const ms = Date.UTC(2025, 11, 24, 2, 0, 0, 123);
  const s = formatLocalTimestamp(ms);
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3}) ([+-]\d{2}:\d{2})$/.exec(s);
  assert(m, s);
  assertEquals(Date.parse(`${m[1]}T${m[2]}${m[3]}`), ms);
});

Deno.test("log: text line has timestamp, level, component, message and the other properties", () => {
  const r = record({
    level: "warning",
    message: ["order ", "abc-1", " rejected"],
    rawMessage: "order {order_id} rejected",
    properties: { order_id: "abc-1", portfolio_id: "demo", reason: "price out of band", volume: 2 },
  });
  const line = formatTextLine(r);
  assertEquals(
    line,
    `${formatLocalTimestamp(r.timestamp)} WARNING [orders] order abc-1 rejected ` +
      `portfolio_id=demo reason="price out of band" volume=2\n`,
  );
  const multi = formatTextLine(record({ message: ["a\nb"], rawMessage: "a\nb", category: ["other"] }));
  assert(multi.endsWith(" INFO    [other] a\\nb\n"), multi);
});

Deno.test("log: JSON line has the fields and the properties", () => {
  const r = record({
    level: "error",
    properties: { order_id: "abc-1", level: "clash", err: new Error("boom") },
  });
  const obj = JSON.parse(formatJsonLine(r));
  assertEquals(obj, {
    time: "2025-12-24T02:00:00.123Z",
    level: "ERROR",
    component: "orders",
    message: "order accepted",
    order_id: "abc-1",
    prop_level: "clash",
    err: { name: "Error", message: "boom" },
  });
});

Deno.test("log: redaction of properties, nested keys, message placeholders and URLs", () => {
  const r = redactRecord(record({
    message: ["login with ", "hunter2", " at ", "amqp://bob:mq-pw@mq:5672/"],
    rawMessage: "login with {password} at {url}",
    properties: {
      password: "hunter2",
      url: "amqp://bob:mq-pw@mq:5672/",
      nested: { Authorization: "Bearer abc", api_key: "k", keep: "visible", list: [{ token: "t" }] },
      account_password: "",
      user: "alice",
    },
  }));
  assertEquals(r.message, ["login with ", "***", " at ", "amqp://bob:***@mq:5672/"]);
  assertEquals(r.properties, {
    password: "***",
    url: "amqp://bob:***@mq:5672/",
    nested: { Authorization: "***", api_key: "***", keep: "visible", list: [{ token: "***" }] },
    account_password: "",
    user: "alice",
  });
  assertEquals(redactUrlCredentials("x postgres://u:p@h/db y"), "x postgres://u:***@h/db y");
  assertEquals(redactUrlCredentials("http://h:8080/x"), "http://h:8080/x");
});

Deno.test("log: setupLogging writes text lines to the file at the configured level; secrets never reach a sink", async () => {
  await withTempDir(async (dir) => {
    const seen: LogRecord[] = [];
    const config: LogConfig = { file: `${dir}/sub/app.log`, level: "info", format: "text" };
    await setupLogging(config, { console: false, sinks: [(r) => seen.push(r)] });
    const log = getLogger("orders");
    log.debug("hidden debug");
    log.info("order {order_id} accepted", { order_id: "o-1", portfolio_id: "demo" });
    log.warn("login failed", { password: "hunter2", token: "tok-xyz", user: "alice" });
    log.error("broker down", { error: new Error("socket closed") });
    getLogger("broker.session").info("ready");
    await shutdownLogging();
    const text = await Deno.readTextFile(config.file);
    const lines = text.trimEnd().split("\n");
    assertEquals(lines.length, 4, text);
    assertMatch(lines[0], /INFO {4}\[orders\] order o-1 accepted portfolio_id=demo$/);
    assertMatch(lines[1], /WARNING \[orders\] login failed password=\*\*\* token=\*\*\* user=alice$/);
    assertMatch(lines[2], /ERROR {3}\[orders\] broker down error="Error: socket closed"$/);
    assertMatch(lines[3], /\[broker\.session\] ready$/);
    assert(!text.includes("hunter2") && !text.includes("tok-xyz"));
    assertEquals(seen.length, 4);
    assert(!JSON.stringify(seen.map((r) => r.properties)).includes("hunter2"));
  });
});

Deno.test("log: format json writes one JSON object per line; debug level lets debug through", async () => {
  await withTempDir(async (dir) => {
    const config: LogConfig = { file: `${dir}/app.jsonl`, level: "debug", format: "json" };
    await setupLogging(config, { console: false });
    getLogger("sim").debug("tick {n}", { n: 3, secret: "s3" });
    getLogger("sim").info("done");
    await shutdownLogging();
    const objs = (await Deno.readTextFile(config.file)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(objs.map((o) => [o.level, o.component, o.message]), [["DEBUG", "sim", "tick 3"], [
      "INFO",
      "sim",
      "done",
    ]]);
    assertEquals(objs[0].n, 3);
    assertEquals(objs[0].secret, "***");
  });
});

Deno.test("log: level error drops info and warning", async () => {
  await withTempDir(async (dir) => {
    const config: LogConfig = { file: `${dir}/e.log`, level: "error", format: "text" };
    await setupLogging(config, { console: false });
    const log = getLogger("x");
    log.info("no");
    log.warn("no");
    log.error("yes");
    await shutdownLogging();
    const lines = (await Deno.readTextFile(config.file)).trimEnd().split("\n");
    assertEquals(lines.length, 1);
    assertMatch(lines[0], /ERROR {3}\[x\] yes$/);
  });
});

Deno.test("log: a log file that cannot be opened is an error naming the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const config: LogConfig = { file: `${dir}/file/app.log`, level: "info", format: "text" };
    const e = await assertRejects(() => setupLogging(config, { console: false }));
    assertMatch(e.message, new RegExp(`^cannot open log file ${dir}/file/app.log: `));
  });
});

Deno.test("log: every sink gets the same redacted record, redacted once", async () => {
  await withTempDir(async (dir) => {
    const a: LogRecord[] = [];
    const b: LogRecord[] = [];
    const config: LogConfig = { file: `${dir}/app.log`, level: "info", format: "text" };
    await setupLogging(config, { console: false, sinks: [(r) => a.push(r), (r) => b.push(r)] });
    getLogger("orders").info("login {user}", { user: "alice", password: "hunter2" });
    assertEquals(a.length, 1);
    assert(a[0] === b[0], "both sinks receive one redacted copy");
    assertEquals(a[0].properties.password, "***");
  });
});

Deno.test("log: a line is in the file as soon as it is logged, before the sinks are disposed", async () => {
  await withTempDir(async (dir) => {
    const config: LogConfig = { file: `${dir}/app.log`, level: "info", format: "text" };
    await setupLogging(config, { console: false });
    const log = getLogger("orders");
    for (let k = 0; k < 200; k++) log.info("order {order_id} accepted", { order_id: `o-${k}` });
    // the first record is written at once; the rest follow each fsync without waiting for a timer
    let lines: string[] = [];
    for (let i = 0; i < 100 && lines.length < 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
      lines = (await Deno.readTextFile(config.file)).trimEnd().split("\n");
    }
    assertEquals(lines.length, 200);
    assertMatch(lines[199], /order o-199 accepted$/);
  });
});

Deno.test("log: the console sink writes text lines to stderr itself, not through console.error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { getLogger, setupLogging, shutdownLogging } from ${
        JSON.stringify(import.meta.resolve("./log.ts"))
      };
console.error = () => { throw new Error("console.error called"); };
await setupLogging({ file: ${JSON.stringify(`${dir}/app.log`)}, level: "info", format: "text" });
getLogger("orders").info("order {order_id} accepted", { order_id: "o-1", token: "tok-secret" });
await shutdownLogging();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-check",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    assertMatch(stderr, /INFO {4}\[orders\] order o-1 accepted token=\*\*\*\n$/);
    assert(!stderr.includes("tok-secret"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
