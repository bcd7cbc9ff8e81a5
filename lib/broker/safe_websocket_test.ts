import { assert, assertEquals } from "../../tests/assert.ts";
import {
  cleanFrame,
  createSafeWebSocketClass,
  DELIVERY_GLOBAL,
  FRAME_EXPRESSION,
  MAX_FRAME_DEPTH,
  sanitiseFrame,
} from "./safe_websocket.ts";

/**
 * What tqsdk's `eval('(' + data + ')')` of a message's `data` yields, without evaluating anything: the data
 * must be {@linkcode FRAME_EXPRESSION}, the frame in the delivery slot. (The real tqsdk reads it in
 * tests/broker/.)
 */
function libraryRead(data: string): unknown {
  assertEquals(data, FRAME_EXPRESSION);
  assertEquals(FRAME_EXPRESSION, `globalThis.${DELIVERY_GLOBAL}.frame`);
  return (globalThis as unknown as Record<string, { frame: unknown }>)[DELIVERY_GLOBAL].frame;
}

Deno.test("sanitiseFrame passes DIFF frames through as strict JSON", () => {
  const r = sanitiseFrame(
    '{"aid":"rtn_data","data":[{"quotes":{"SHFE.rb2605":{"last_price":NaN,"close":"-"}}}]}',
  );
  assert("frame" in r);
  assertEquals(r.frame, {
    aid: "rtn_data",
    data: [{ quotes: { "SHFE.rb2605": { last_price: null, close: "-" } } }],
  });
});

Deno.test("sanitiseFrame drops code, non-objects and frames without aid", () => {
  for (const raw of ["alert(1)", "(function(){})()", "[1,2]", "42", '"x"', '{"data":[]}', "{aid:1}"]) {
    const r = sanitiseFrame(raw);
    assert("reason" in r, raw);
  }
});

Deno.test("sanitiseFrame removes prototype-polluting keys at every depth", () => {
  const raw =
    '{"aid":"rtn_data","data":[{"__proto__":{"x":1},"trade":{"u":{"constructor":{"prototype":{"y":2}},' +
    '"orders":{"o1":{"__proto__":{"z":3},"status":"ALIVE"}}}}}]}';
  const r = sanitiseFrame(raw);
  assert("frame" in r);
  assertEquals(r.frame, {
    aid: "rtn_data",
    data: [{ trade: { u: { orders: { o1: { status: "ALIVE" } } } } }],
  });
  const text = JSON.stringify(r.frame);
  assert(!text.includes("__proto__") && !text.includes("constructor"));
  assertEquals(({} as Record<string, unknown>).x, undefined);
});

Deno.test("SafeWebSocket hands the library the parsed frame, not its text; the hooks keep their own copy", async () => {
  const notify = { "n-1": { type: "MESSAGE", level: "INFO", code: 406, content: "成交" } };
  const sent = {
    aid: "rtn_data",
    data: [{ notify }, { trade: { u: { orders: { o1: { status: "ALIVE" } } } } }],
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => socket.send(JSON.stringify(sent));
    return response;
  });
  let seenData = "";
  let merged: Record<string, unknown> | null = null;
  let ws: { close(): void } | null = null;
  await new Promise<void>((resolve) => {
    const Cls = createSafeWebSocketClass({ onMerged: (_url, frame) => (merged = frame, resolve()) });
    const socket = new Cls(`ws://127.0.0.1:${server.addr.port}/`);
    socket.onmessage = (ev) => {
      seenData = ev.data;
      // what tqsdk does with it: evaluate (read the slot), take the notifies out of `data`, add fields to each
      const payload = libraryRead(ev.data) as { data: { notify: Record<string, object> }[] };
      const item = payload.data.splice(0, 1)[0];
      Object.assign(item.notify["n-1"], { bid: "sim", user_id: "u" });
    };
    ws = socket;
  });
  ws!.close();
  await new Promise((r) => setTimeout(r, 50));
  await server.shutdown();
  assertEquals(seenData, FRAME_EXPRESSION, "the library evaluates a fixed expression, not the frame's text");
  assertEquals(
    merged,
    sent,
    "the hooks' frame is as received: the library's splice and additions hit its copy",
  );
  assertEquals(libraryRead(FRAME_EXPRESSION), undefined, "nothing is left for a later evaluation");
});

Deno.test("cleanFrame: numbers JSON cannot carry, and arrays besides `data`, call for a JSON copy", () => {
  const plain = JSON.parse('{"aid":"rtn_data","data":[{"a":1,"b":{"c":"1e400"}}]}');
  assertEquals(cleanFrame(plain), { depth: 4, needsJsonCopy: false });
  for (
    const raw of [
      '{"aid":"rtn_data","data":[{"c":1e400}]}',
      '{"aid":"rtn_data","data":[{"c":-1e400}]}',
      '{"aid":"rtn_data","data":[{"c":-0}]}',
      '{"aid":"rtn_data","data":[{"c":[1,2]}]}',
      '{"aid":"rtn_brokers","brokers":["sim"]}',
    ]
  ) {
    assertEquals(cleanFrame(JSON.parse(raw)).needsJsonCopy, true, raw);
  }
});

Deno.test("sanitiseFrame refuses a frame nested too deeply, without a stack overflow", () => {
  for (const [open, close] of [["[", "]"], ['{"x":', "}"]]) {
    const raw = `{"aid":"rtn_data","data":[{"x":${open.repeat(20_000)}1${close.repeat(20_000)}}]}`;
    const r = sanitiseFrame(raw);
    assert("reason" in r && r.reason.includes(`deeper than ${MAX_FRAME_DEPTH}`), open);
  }
  const ok = `{"aid":"rtn_data","data":[{"x":${'{"y":'.repeat(20)}1${"}".repeat(20)}}]}`;
  assert("frame" in sanitiseFrame(ok));
});

Deno.test("cleanFrame: under a `data` key (an array in tqsdk's tree) array-inherited names are removed", () => {
  const v = JSON.parse(
    '{"aid":"rtn_data","data":[{"k":{"data":{"map":{"x":1},"forEach":{"call":"boom"},"5":{"o":1}}}}]}',
  );
  cleanFrame(v);
  assertEquals(v, { aid: "rtn_data", data: [{ k: { data: { "5": { o: 1 } } } }] });
  assertEquals(typeof Array.prototype.forEach.call, "function");
});

Deno.test("cleanFrame keeps ordinary data intact", () => {
  const v = { a: [{ b: 1 }, { prototype: 2, c: 3 }], d: "constructor" };
  cleanFrame(v);
  assertEquals(v, { a: [{ b: 1 }, { c: 3 }], d: "constructor" });
});

Deno.test("SafeWebSocket calls onMerged after the handler and contains handler exceptions", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => {
      socket.send('{"aid":"rtn_data","data":[{"n":1}]}');
      socket.send("alert(1)");
      socket.send('{"aid":"rtn_data","data":[{"n":2}]}');
      socket.send('{"aid":"rtn_data","data":[{"n":3}]}');
    };
    return response;
  });
  const events: string[] = [];
  let closeSocket = () => {};
  const done = new Promise<void>((resolve) => {
    const Cls = createSafeWebSocketClass({
      onBadFrame: (_url, reason) => events.push(`bad ${reason.slice(0, 8)}`),
      onMerged: (_url, frame, socket) => {
        const n = (frame.data as Record<string, number>[])[0].n;
        events.push(`merged ${n} ${socket === ws}`);
        if (n === 3) resolve();
      },
      onHandlerError: (_url, e) => events.push(`error ${(e as Error).message}`),
    });
    const ws = new Cls(`ws://127.0.0.1:${server.addr.port}/`);
    ws.onmessage = (ev) => {
      // as tqsdk reads a message event
      const n = (libraryRead(ev.data) as { data: { n: number }[] }).data[0].n;
      events.push(`handler ${n}`);
      if (n === 2) throw new Error("handler broke");
    };
    closeSocket = () => ws.close();
  });
  await done;
  const closed = new Promise<void>((r) => setTimeout(r, 50));
  closeSocket();
  await closed;
  await server.shutdown();
  assertEquals(events, [
    "handler 1",
    "merged 1 true",
    "bad not JSON",
    "handler 2",
    "error handler broke",
    "handler 3",
    "merged 3 true",
  ]);
});

Deno.test("cleanFrame: names every object inherits are removed too (toString, hasOwnProperty …)", () => {
  const v = {
    toString: { evil: 1 },
    quotes: { "SHFE.rb2605": { hasOwnProperty: { x: 1 }, valueOf: 3, last_price: 3500 } },
    isPrototypeOf: "x",
    __defineGetter__: { y: 2 },
  };
  cleanFrame(v);
  assertEquals(v, { quotes: { "SHFE.rb2605": { last_price: 3500 } } });
  assertEquals(Object.hasOwn(Object.prototype.toString, "evil"), false);
});
