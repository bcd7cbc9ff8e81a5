import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import { Buffer } from "node:buffer";
import {
  cancelRequestSchema,
  decodeBodyOnce,
  envelopeSchema,
  formatFieldErrors,
  insertRequestSchema,
  parseOrderRequest,
  type ParseOrderRequestOptions,
  requestHash,
  timestampToMs,
} from "./request_schema.ts";
import type { FieldError, InsertRequest, ParsedRequest } from "./types.ts";
import { parseControlMessage } from "./kill_switch.ts";

const opts: ParseOrderRequestOptions = { portfolioId: "demo" };
const seed = {
  symbol: "SHFE.rb2505",
  direction: "BUY",
  offset: "OPEN",
  volume: 1,
  limit_price: 3500.0,
  order_id: "unique-order-id",
  portfolio_id: "demo",
};

function parse(body: unknown, options = opts): ParsedRequest {
  return parseOrderRequest(typeof body === "string" ? body : JSON.stringify(body), options);
}

function insert(body: unknown): InsertRequest {
  const r = parse(body);
  assert(r.kind === "insert", `expected insert, got ${JSON.stringify(r)}`);
  return r.request;
}

function errorsOf(body: unknown, options = opts): FieldError[] {
  const r = typeof body === "string" || body instanceof Uint8Array
    ? parseOrderRequest(body, options)
    : parse(body, options);
  assert(r.kind === "invalid", `expected invalid, got ${JSON.stringify(r)}`);
  assert(r.errors.length > 0);
  return r.errors;
}

/** The one error for `field` (exactly one must exist). */
function errorFor(body: unknown, field: string): string {
  const errors = errorsOf(body);
  const hits = errors.filter((e) => e.field === field);
  assertEquals(hits.length, 1, `errors for ${field} in ${JSON.stringify(errors)}`);
  return hits[0].message;
}

Deno.test("request: the seed flat insert gives a LIMIT/GFD/ANY insert", () => {
  assertEquals(insert(seed), {
    order_id: "unique-order-id",
    portfolio_id: "demo",
    symbol: "SHFE.rb2505",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    limit_price: 3500,
    price_type: "LIMIT",
    time_condition: "GFD",
    volume_condition: "ANY",
    timestamp_ms: null,
    request_id: null,
  });
});

Deno.test("request: without limit_price (or null) it is a market order ANY/IOC", () => {
  const { limit_price: _, ...noPrice } = seed;
  for (const body of [noPrice, { ...seed, limit_price: null }, { ...noPrice, price_type: "ANY" }]) {
    const r = insert(body);
    assertEquals([r.limit_price, r.price_type, r.time_condition, r.volume_condition], [
      null,
      "ANY",
      "IOC",
      "ANY",
    ]);
  }
});

Deno.test("request: order-type combinations (FAK, FOK, conflicts)", () => {
  const { limit_price: _, ...noPrice } = seed;
  const fak = insert({ ...seed, time_condition: "IOC" });
  assertEquals([fak.price_type, fak.time_condition, fak.volume_condition], ["LIMIT", "IOC", "ANY"]);
  const fok = insert({ ...seed, time_condition: "IOC", volume_condition: "ALL" });
  assertEquals([fok.time_condition, fok.volume_condition], ["IOC", "ALL"]);
  const marketFok = insert({ ...noPrice, volume_condition: "ALL" });
  assertEquals([marketFok.price_type, marketFok.time_condition, marketFok.volume_condition], [
    "ANY",
    "IOC",
    "ALL",
  ]);

  assertMatch(errorFor({ ...seed, volume_condition: "ALL" }, "volume_condition"), /needs time_condition IOC/);
  assertMatch(
    errorFor({ ...seed, time_condition: "GFD", volume_condition: "ALL" }, "volume_condition"),
    /needs time_condition IOC/,
  );
  assertMatch(
    errorFor({ ...noPrice, price_type: "LIMIT" }, "limit_price"),
    /required when price_type is LIMIT/,
  );
  assertMatch(errorFor({ ...seed, price_type: "ANY" }, "limit_price"), /must be absent/);
  assertMatch(errorFor({ ...noPrice, time_condition: "GFD" }, "time_condition"), /expected IOC/);
  assertMatch(
    errorFor({ ...seed, price_type: "MARKET" }, "price_type"),
    /^expected LIMIT or ANY, got "MARKET"$/,
  );
  assertMatch(errorFor({ ...seed, time_condition: "GTC" }, "time_condition"), /^expected GFD or IOC/);
  assertMatch(errorFor({ ...seed, volume_condition: "MIN" }, "volume_condition"), /^expected ANY or ALL/);
});

Deno.test("request: volume boundaries, strict types", () => {
  assertEquals(insert({ ...seed, volume: 1 }).volume, 1);
  assertEquals(insert({ ...seed, volume: 1_000_000 }).volume, 1_000_000);
  assertEquals(errorFor({ ...seed, volume: 0 }, "volume"), "expected an integer ≥ 1, got 0");
  assertEquals(errorFor({ ...seed, volume: -1 }, "volume"), "expected an integer ≥ 1, got -1");
  assertEquals(errorFor({ ...seed, volume: 1.5 }, "volume"), "expected an integer ≥ 1, got 1.5");
  assertEquals(errorFor({ ...seed, volume: "1" }, "volume"), 'expected an integer ≥ 1, got "1"');
  assertEquals(
    errorFor({ ...seed, volume: 1_000_001 }, "volume"),
    "expected an integer ≤ 1000000, got 1000001",
  );
  assertEquals(errorFor({ ...seed, volume: null }, "volume"), "expected an integer ≥ 1, got null");
  assertMatch(
    errorFor(
      '{"symbol":"SHFE.rb2505","direction":"BUY","offset":"OPEN","volume":1e400,"order_id":"a","portfolio_id":"demo"}',
      "volume",
    ),
    /^expected an integer/,
  );
  const { volume: _, ...noVolume } = seed;
  assertEquals(errorFor(noVolume, "volume"), "is required; expected an integer ≥ 1");
});

Deno.test("request: limit_price boundaries", () => {
  assertEquals(insert({ ...seed, limit_price: 0.0001 }).limit_price, 0.0001);
  assertEquals(insert({ ...seed, limit_price: 1e12 }).limit_price, 1e12);
  assertEquals(errorFor({ ...seed, limit_price: 0 }, "limit_price"), "expected a finite number > 0, got 0");
  assertEquals(
    errorFor({ ...seed, limit_price: -3500 }, "limit_price"),
    "expected a finite number > 0, got -3500",
  );
  assertMatch(
    errorFor({ ...seed, limit_price: 1.0000001e12 }, "limit_price"),
    /^expected a number ≤ 1000000000000/,
  );
  assertEquals(
    errorFor({ ...seed, limit_price: "3500" }, "limit_price"),
    'expected a finite number > 0, got "3500"',
  );
  // NaN / Infinity cannot come from JSON text, but can from a parsed value (REST handing over an object).
  for (const bad of [NaN, Infinity, -Infinity]) {
    const r = parseOrderRequest({ ...seed, limit_price: bad }, opts);
    assert(r.kind === "invalid");
    assertEquals(r.errors.map((e) => e.field), ["limit_price"]);
    assertMatch(r.errors[0].message, /^expected a finite number > 0/);
  }
});

Deno.test("request: symbol, direction, offset", () => {
  for (
    const s of ["SHFE.rb2605", "CZCE.SR605", "CFFEX.IO2512-C-4000", "DCE.m2605", "GFEX.si2606", "INE.sc2602"]
  ) {
    assertEquals(insert({ ...seed, symbol: s }).symbol, s);
  }
  for (
    const s of [
      "rb2605",
      "shfe.rb2605",
      "SHFE.",
      ".rb2605",
      "SHFE.rb 2605",
      "SHFE..rb",
      "KQ.m@SHFE.rb",
      "",
      7,
    ]
  ) {
    assertMatch(
      errorFor({ ...seed, symbol: s }, "symbol"),
      /^expected EXCHANGE\.code \(e\.g\. SHFE\.rb2605\)/,
    );
  }
  assertEquals(insert({ ...seed, direction: "SELL" }).direction, "SELL");
  assertEquals(errorFor({ ...seed, direction: "buy" }, "direction"), 'expected BUY or SELL, got "buy"');
  assertEquals(errorFor({ ...seed, direction: "LONG" }, "direction"), 'expected BUY or SELL, got "LONG"');
  for (const o of ["OPEN", "CLOSE", "CLOSETODAY"]) assertEquals(insert({ ...seed, offset: o }).offset, o);
  assertMatch(
    errorFor({ ...seed, offset: "CLOSEYESTERDAY" }, "offset"),
    /^expected OPEN, CLOSE or CLOSETODAY/,
  );
});

Deno.test("request: order_id rule, invalid bodies still return usable ids", () => {
  assertEquals(insert({ ...seed, order_id: "a" }).order_id, "a");
  assertEquals(insert({ ...seed, order_id: "A-z_0.9:x" }).order_id, "A-z_0.9:x");
  assertEquals(insert({ ...seed, order_id: "x".repeat(64) }).order_id, "x".repeat(64));
  for (const bad of ["", "x".repeat(65), "a b", "ordér", "a\u0000b", "a\nb", "a/b", "\u202Eabc"]) {
    assertMatch(errorFor({ ...seed, order_id: bad }, "order_id"), /^1–64 chars of \[A-Za-z0-9_\.:-\]/);
  }
  assertMatch(errorFor({ ...seed, order_id: 12 }, "order_id"), /^1–64 chars.*got 12$/);
  // Invalid for another reason: the ids come back so the refusal can be recorded.
  const r = parse({ ...seed, volume: 0 });
  assert(r.kind === "invalid");
  assertEquals([r.order_id, r.portfolio_id], ["unique-order-id", "demo"]);
  const bad = parse({ ...seed, order_id: "a b", portfolio_id: 5 });
  assert(bad.kind === "invalid");
  assertEquals([bad.order_id, bad.portfolio_id], [null, null]);
});

Deno.test("request: portfolio_id must be this service's", () => {
  assertEquals(
    errorFor({ ...seed, portfolio_id: "other" }, "portfolio_id"),
    "not this service's portfolio (demo)",
  );
  assertEquals(
    errorFor({ ...seed, portfolio_id: "Demo" }, "portfolio_id"),
    "not this service's portfolio (demo)",
  );
  const r = parseOrderRequest(JSON.stringify({ ...seed, portfolio_id: "pf-1" }), { portfolioId: "pf-1" });
  assertEquals(r.kind, "insert");
  const wrong = parse({ ...seed, portfolio_id: "other" });
  assert(wrong.kind === "invalid");
  assertEquals(wrong.portfolio_id, "other"); // returned for the record, the caller decides
});

Deno.test("request: timestamp forms (ns number, ns string, ISO-8601) and refusals", () => {
  assertEquals(insert({ ...seed, timestamp: 1766541600000000000 }).timestamp_ms, 1766541600000);
  assertEquals(insert({ ...seed, timestamp: "1766541600123456789" }).timestamp_ms, 1766541600123);
  assertEquals(
    insert({ ...seed, timestamp: "2025-12-24T10:00:00+08:00" }).timestamp_ms,
    Date.UTC(2025, 11, 24, 2),
  );
  assertEquals(
    insert({ ...seed, timestamp: "2025-12-24T02:00:00.5Z" }).timestamp_ms,
    Date.UTC(2025, 11, 24, 2, 0, 0, 500),
  );
  // Unit mistakes (ms, s), zone-less ISO, garbage, pre-2000 / post-2100.
  for (
    const bad of [
      1766541600000,
      1766541600,
      "2025-12-24T10:00:00",
      "yesterday",
      -1,
      "0",
      "2125-01-01T00:00:00Z",
      true,
    ]
  ) {
    assertMatch(errorFor({ ...seed, timestamp: bad }, "timestamp"), /^expected epoch nanoseconds/);
  }
  assertEquals(timestampToMs(946684800000000000), 946684800000); // 2000-01-01 inclusive
  assertEquals(timestampToMs(946684799999000000), null);
});

Deno.test("request: unknown fields are refused by name, with a hint for typos", () => {
  assertEquals(errorFor({ ...seed, volumn: 2 }, "volumn"), "unknown field (did you mean volume?)");
  assertEquals(errorFor({ ...seed, comment: "hi" }, "comment"), "unknown field");
  const errs = errorsOf({ ...seed, ["bad\u0000key"]: 1 });
  assertEquals(errs.map((e) => e.field), ["$"]);
  assertEquals(errs[0].message, 'unknown field "bad\\u0000key"');
  const proto = errorsOf(
    '{"symbol":"SHFE.rb2505","direction":"BUY","offset":"OPEN","volume":1,"order_id":"a","portfolio_id":"demo","__proto__":{"x":1}}',
  );
  assertEquals(proto.map((e) => e.field), ["__proto__"]);
});

Deno.test("request: cancel, in every accepted spelling", () => {
  const want = { kind: "cancel", request: { order_id: "o-1", portfolio_id: "demo", request_id: null } };
  assertEquals(parse({ action: "CANCEL", order_id: "o-1", portfolio_id: "demo" }), want);
  assertEquals(parse({ action: "cancel", order_id: "o-1", portfolio_id: "demo" }), want);
  assertEquals(parse({ action: "Cancel", order_id: "o-1", portfolio_id: "demo" }), want);
  assertEquals(parse({ type: "CANCEL", order_id: "o-1", portfolio_id: "demo" }), want);
  assertEquals(
    parse({ type: "CANCEL", order_id: "o-1", portfolio_id: "demo", timestamp: "1766541600000000000" }),
    want,
  );
  assertEquals(
    errorFor({ action: "CANCEL_ALL", order_id: "o-1", portfolio_id: "demo" }, "action"),
    'expected CANCEL, got "CANCEL_ALL"',
  );
  assertMatch(errorFor({ action: "CANCEL", portfolio_id: "demo" }, "order_id"), /^is required/);
  assertEquals(
    errorFor({ action: "CANCEL", order_id: "o-1", portfolio_id: "x" }, "portfolio_id"),
    "not this service's portfolio (demo)",
  );
  assertEquals(
    errorFor({ action: "CANCEL", order_id: "o-1", portfolio_id: "demo", symbol: "SHFE.rb2505" }, "symbol"),
    "unknown field",
  );
});

Deno.test("request: envelope SUBMIT and CANCEL", () => {
  const { portfolio_id: _p, ...rest } = seed;
  const env = {
    type: "SUBMIT",
    request_id: "req-1",
    timestamp: 1766541600000000000,
    payload: { ...rest, portfolio_id: "demo" },
  };
  const r = insert(env);
  assertEquals([r.request_id, r.timestamp_ms, r.order_id, r.price_type], [
    "req-1",
    1766541600000,
    "unique-order-id",
    "LIMIT",
  ]);
  // The payload's own timestamp wins over the envelope's.
  assertEquals(
    insert({ ...env, payload: { ...env.payload, timestamp: "2025-12-24T02:00:01Z" } }).timestamp_ms,
    Date.UTC(2025, 11, 24, 2, 0, 1),
  );
  // request_id is optional
  const { request_id: _r, ...noReq } = env;
  assertEquals(insert(noReq).request_id, null);
  assertEquals(
    parse({ type: "cancel", request_id: "req-2", payload: { order_id: "o-1", portfolio_id: "demo" } }),
    {
      kind: "cancel",
      request: { order_id: "o-1", portfolio_id: "demo", request_id: "req-2" },
    },
  );
  // Payload errors are named payload.<field>; envelope errors by their own name.
  assertEquals(
    errorFor({ ...env, payload: { ...env.payload, volume: 0 } }, "payload.volume"),
    "expected an integer ≥ 1, got 0",
  );
  assertEquals(
    errorFor({ ...env, payload: { ...env.payload, volumn: 1 } }, "payload.volumn"),
    "unknown field (did you mean volume?)",
  );
  assertMatch(errorFor({ ...env, type: "MODIFY" }, "type"), /^expected SUBMIT or CANCEL/);
  assertMatch(errorFor({ ...env, request_id: "has space" }, "request_id"), /^expected 1–128 printable/);
  assertMatch(errorFor({ ...env, payload: "x" }, "payload"), /^expected a JSON object/);
  assertMatch(errorFor({ type: "SUBMIT", order_id: "a" }, "payload"), /^is required/);
  assertEquals(errorFor({ ...env, extra: 1 }, "extra"), "unknown field");
  const bad = parse({ ...env, payload: { ...env.payload, volume: -5 } });
  assert(bad.kind === "invalid");
  assertEquals([bad.order_id, bad.portfolio_id], ["unique-order-id", "demo"]);
});

Deno.test("request: whole-body refusals: size, JSON, not an object, bytes", () => {
  const big = JSON.stringify({ ...seed, order_id: "a", pad: "x".repeat(70_000) });
  const n = new TextEncoder().encode(big).length;
  assertEquals(errorsOf(big), [{ field: "$", message: `body of ${n} bytes exceeds 65536` }]);
  // Multi-byte characters count as bytes.
  const wide = JSON.stringify({ ...seed, pad: "é".repeat(40) });
  assertEquals(
    errorsOf(wide, { portfolioId: "demo", maxBytes: 100 })[0].message,
    `body of ${Buffer.byteLength(wide)} bytes exceeds 100`,
  );
  const exact = JSON.stringify(seed);
  assertEquals(parseOrderRequest(exact, { portfolioId: "demo", maxBytes: exact.length }).kind, "insert");
  assertEquals(parseOrderRequest(exact, { portfolioId: "demo", maxBytes: exact.length - 1 }).kind, "invalid");
  assertMatch(errorsOf("{nope")[0].message, /^not JSON: /);
  assertEquals(errorsOf("")[0].field, "$");
  for (const v of ["[]", "1", '"s"', "null", "true"]) {
    assertEquals(errorsOf(v), [{ field: "$", message: "expected a JSON object" }]);
  }
  assertEquals(parseOrderRequest(new TextEncoder().encode(exact), opts).kind, "insert");
  assertEquals(parseOrderRequest(Buffer.from("\uFEFF" + exact), opts).kind, "insert");
  assertEquals(errorsOf(new Uint8Array([0x7b, 0xff, 0x7d])), [{ field: "$", message: "not UTF-8 text" }]);
  assertEquals(parseOrderRequest(seed, opts).kind, "insert"); // an already parsed object
  assertEquals(parseOrderRequest(undefined, opts).kind, "invalid");
});

Deno.test("request: a body decoded once parses as the body itself does (both parsers)", () => {
  const enc = new TextEncoder();
  const kill = { type: "KILL_SWITCH", portfolio_id: "demo", mode: "HALT", reason: "test" };
  const bodies: unknown[] = [
    enc.encode(JSON.stringify(seed)),
    Buffer.from("\uFEFF" + JSON.stringify({ ...seed, volume: -1 })),
    JSON.stringify({ type: "SUBMIT", request_id: "r-1", payload: seed }),
    enc.encode(JSON.stringify({ action: "cancel", order_id: "x-1", portfolio_id: "demo" })),
    enc.encode(JSON.stringify(kill)),
    enc.encode(JSON.stringify({ ...kill, mode: "NOPE" })),
    // A double-encoded request or control message (a JSON string holding JSON) is refused, not unwrapped.
    enc.encode(JSON.stringify(JSON.stringify(seed))),
    enc.encode(JSON.stringify(JSON.stringify(kill))),
    enc.encode(JSON.stringify([1, 2])),
    enc.encode("null"),
    new Uint8Array([0x7b, 0xff, 0x7d]),
    "{nope",
    enc.encode(JSON.stringify({ ...seed, pad: "x".repeat(70_000) })),
    seed,
  ];
  for (const body of bodies) {
    const once = decodeBodyOnce(body);
    assertEquals(parseOrderRequest(once, opts), parseOrderRequest(body, opts));
    assertEquals(parseControlMessage(once, opts), parseControlMessage(body, opts));
  }
  const twice = parseOrderRequest(decodeBodyOnce(enc.encode(JSON.stringify(JSON.stringify(seed)))), opts);
  assertEquals(twice.kind, "invalid");
  assertEquals(
    parseControlMessage(decodeBodyOnce(enc.encode(JSON.stringify(JSON.stringify(kill)))), opts),
    null,
  );
  assertEquals(
    parseControlMessage(decodeBodyOnce(enc.encode(JSON.stringify(kill))), opts)?.kind,
    "kill_switch",
  );
});

Deno.test("request: formatFieldErrors and the exported schemas", () => {
  assertEquals(
    formatFieldErrors([{ field: "volume", message: "expected an integer ≥ 1" }, {
      field: "$",
      message: "x",
    }]),
    "volume: expected an integer ≥ 1; $: x",
  );
  assert(insertRequestSchema.safeParse(seed).success);
  assert(cancelRequestSchema.safeParse({ action: "CANCEL", order_id: "a", portfolio_id: "demo" }).success);
  assert(envelopeSchema.safeParse({ type: "SUBMIT", payload: {} }).success);
});

Deno.test("request: many errors are capped", () => {
  const body: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) body[`k${i}`] = i;
  const errs = errorsOf(body);
  assertEquals(errs.length, 21);
  assertMatch(errs[20].message, /more errors$/);
});

Deno.test("request: requestHash covers the order-defining fields only", () => {
  const a = insert(seed);
  const h = requestHash(a);
  assertMatch(h, /^[0-9a-f]{64}$/);
  assertEquals(requestHash({ ...a, order_id: "other", timestamp_ms: 5, request_id: "r" }), h);
  assertEquals(requestHash(insert({ ...seed, limit_price: 3500.0 })), h); // 3500.0 and 3500 are the same
  for (
    const change of [
      { symbol: "SHFE.rb2510" },
      { direction: "SELL" },
      { offset: "CLOSE" },
      { volume: 2 },
      {
        limit_price: 3501,
      },
      { time_condition: "IOC" },
      { time_condition: "IOC", volume_condition: "ALL" },
    ]
  ) {
    assert(requestHash(insert({ ...seed, ...change })) !== h, JSON.stringify(change));
  }
  const { limit_price: _, ...market } = seed;
  assert(requestHash(insert(market)) !== h);
});

/** A deterministic generator (mulberry32) so a failure can be reproduced. */
function rng(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("request: ≥ 100 generated hostile bodies are refused with named errors, never a throw", () => {
  const rand = rng(20251224);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const badValues: unknown[] = [
    null,
    "",
    " ",
    "1",
    "BUY ",
    0,
    -1,
    1.5,
    1e300,
    -0.0001,
    true,
    false,
    [],
    [1],
    {},
    { a: 1 },
    "\u0000",
    "x".repeat(300),
    "\u202E",
    "SHFE.rb2505\n",
    "9".repeat(30),
    "NaN",
    "Infinity",
  ];
  const fields = Object.keys(seed);
  const bodies: (string | Uint8Array)[] = [];
  // 1) one field replaced by a bad value (each field × several values)
  for (const f of fields) {
    for (let i = 0; i < 8; i++) {
      const v = pick(badValues);
      if (f === "limit_price" && v === null) continue; // null = a valid market order
      if (f === "order_id" && typeof v === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(v)) continue; // a valid id
      bodies.push(JSON.stringify({ ...seed, [f]: v }));
    }
  }
  // 2) one field removed (limit_price removal is a valid market order: skipped)
  for (const f of fields.filter((f) => f !== "limit_price")) {
    const copy: Record<string, unknown> = { ...seed };
    delete copy[f];
    bodies.push(JSON.stringify(copy));
  }
  // 3) raw hostile text and bytes
  bodies.push(
    "",
    "{",
    "}",
    "[]",
    "null",
    "12",
    '"str"',
    "{'symbol': 'x'}",
    '{"volume": 1,}',
    "[".repeat(10_000) + "]".repeat(10_000),
    '{"a":' + "[".repeat(5000) + "]".repeat(5000) + "}",
    JSON.stringify({ ...seed, volume: 2 }) + "x",
    "\u0000\u0001",
    '{"__proto__": {"polluted": true}}',
    '{"constructor": {"prototype": {"x": 1}}}',
    JSON.stringify({ payload: null }),
    JSON.stringify({ type: "SUBMIT", payload: { type: "SUBMIT", payload: {} } }),
    JSON.stringify({ type: 1, payload: seed }),
    JSON.stringify({ action: null, order_id: "a", portfolio_id: "demo" }),
    JSON.stringify({ action: "CANCEL" }),
    "x".repeat(70_000),
  );
  bodies.push(new Uint8Array([0xc3, 0x28]), new Uint8Array(0), new Uint8Array(70_000));
  // 4) random byte soup and random key soup
  for (let i = 0; i < 30; i++) {
    const bytes = new Uint8Array(1 + Math.floor(rand() * 200));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
    bodies.push(bytes);
  }
  for (let i = 0; i < 30; i++) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(rand() * 6);
    for (let j = 0; j < n; j++) {
      o[pick([...fields, "action", "type", "payload", "x", "volumn"])] = pick(badValues);
    }
    bodies.push(JSON.stringify(o));
  }
  assert(bodies.length >= 100, `only ${bodies.length} bodies`);
  const known = new Set([
    ...fields,
    "price_type",
    "time_condition",
    "volume_condition",
    "timestamp",
    "action",
    "type",
    "payload",
    "request_id",
  ]);
  for (const body of bodies) {
    let r: ParsedRequest;
    try {
      r = parseOrderRequest(body, opts);
    } catch (e) {
      throw new Error(`threw on ${String(body).slice(0, 80)}: ${e}`);
    }
    assert(r.kind === "invalid", `accepted ${typeof body === "string" ? body.slice(0, 200) : "bytes"}`);
    assert(r.errors.length > 0);
    for (const e of r.errors) {
      const base = e.field.replace(/^payload\./, "");
      const inBody = typeof body === "string" && body.includes(JSON.stringify(base));
      assert(e.field === "$" || known.has(base) || inBody, `error names no real field: ${JSON.stringify(e)}`);
      assert(e.message.length > 0 && e.message.length < 300);
      const text = e.field + e.message;
      assert([...text].every((c) => c.charCodeAt(0) >= 0x20), `control character in ${JSON.stringify(e)}`);
    }
  }
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
});
