import { assert, assertEquals, assertThrows } from "../assert.ts";
import { parsePythonLiteral, parsePythonLiteralAt, PythonLiteralError } from "./python_literal.ts";

Deno.test("python literal: scalars", () => {
  assertEquals(parsePythonLiteral("None"), null);
  assertEquals(parsePythonLiteral("True"), true);
  assertEquals(parsePythonLiteral("False"), false);
  assertEquals(parsePythonLiteral("0"), 0);
  assertEquals(parsePythonLiteral("-17"), -17);
  assertEquals(parsePythonLiteral("+5"), 5);
  assertEquals(parsePythonLiteral("3340.0"), 3340);
  assertEquals(parsePythonLiteral("6.122999999999999"), 6.122999999999999);
  assertEquals(parsePythonLiteral("1e-05"), 0.00001);
  assertEquals(parsePythonLiteral("1.5E+20"), 1.5e20);
  assertEquals(parsePythonLiteral("-2.5e3"), -2500);
  assertEquals(parsePythonLiteral(".5"), 0.5);
  assertEquals(parsePythonLiteral("5."), 5);
  assertEquals(parsePythonLiteral("1_000"), 1000);
  assertEquals(parsePythonLiteral("1586412731196513000"), 1586412731196513000);
  assert(Number.isNaN(parsePythonLiteral("nan")));
  assert(Number.isNaN(parsePythonLiteral("-nan")));
  assertEquals(parsePythonLiteral("inf"), Infinity);
  assertEquals(parsePythonLiteral("-inf"), -Infinity);
  assertEquals(parsePythonLiteral("  42  "), 42);
});

Deno.test("python literal: strings with every repr escape", () => {
  assertEquals(parsePythonLiteral("'abc'"), "abc");
  assertEquals(parsePythonLiteral("''"), "");
  assertEquals(parsePythonLiteral(`"it's"`), "it's");
  assertEquals(parsePythonLiteral(String.raw`'it\'s'`), "it's");
  assertEquals(parsePythonLiteral(String.raw`'a\\b'`), "a\\b");
  assertEquals(parsePythonLiteral(String.raw`'say "hi"'`), 'say "hi"');
  assertEquals(parsePythonLiteral(String.raw`'\n\r\t\a\b\f\v'`), "\n\r\t\x07\b\f\v");
  assertEquals(parsePythonLiteral(String.raw`'\x00\x7f\xe9'`), "\x00\x7f\u00e9");
  assertEquals(parsePythonLiteral(String.raw`'\u4e0b\u5355'`), "下单");
  assertEquals(parsePythonLiteral(String.raw`'\U0001f600'`), "😀");
  assertEquals(parsePythonLiteral(String.raw`'\101\0'`), "A\x00");
  // repr leaves printable non-ASCII as is.
  assertEquals(parsePythonLiteral("'全部成交'"), "全部成交");
  assertEquals(parsePythonLiteral("'😀 ok'"), "😀 ok");
  // Not an escape repr emits, kept verbatim as Python does.
  assertEquals(parsePythonLiteral(String.raw`'\d'`), "\\d");
  // Quote characters and braces inside strings do not end anything.
  assertEquals(parsePythonLiteral(`{'a': '}{,:'}`), { a: "}{,:" });
});

Deno.test("python literal: containers", () => {
  assertEquals(parsePythonLiteral("{}"), {});
  assertEquals(parsePythonLiteral("[]"), []);
  assertEquals(parsePythonLiteral("()"), []);
  assertEquals(parsePythonLiteral("(1,)"), [1]);
  assertEquals(parsePythonLiteral("(1)"), 1);
  assertEquals(parsePythonLiteral("(1, 'a', None)"), [1, "a", null]);
  assertEquals(parsePythonLiteral("[1, [2, (3, 4)], {'k': []},]"), [1, [2, [3, 4]], { k: [] }]);
  assertEquals(
    parsePythonLiteral("{'day': [['09:00:00', '10:15:00']], 'night': []}"),
    { day: [["09:00:00", "10:15:00"]], night: [] },
  );
  assertEquals(parsePythonLiteral("{1: 'a', 2.5: 'b', None: 'c', True: 'd',}"), {
    "1": "a",
    "2.5": "b",
    None: "c",
    True: "d",
  });
  const nested = parsePythonLiteral("{'a': {'b': {'c': nan}}}") as { a: { b: { c: number } } };
  assert(Number.isNaN(nested.a.b.c));
});

Deno.test("python literal: a TqSim packet as logged", () => {
  const text =
    "{'aid': 'insert_order', 'user_id': 'TQSIM', 'order_id': 'b8a1abcd1a6916c74da4f9fc3c6da5d7', " +
    "'exchange_id': 'DCE', 'instrument_id': 'jd2005', 'direction': 'BUY', 'offset': 'OPEN', 'volume': 1, " +
    "'volume_condition': 'ANY', 'price_type': 'LIMIT', 'time_condition': 'GFD', 'limit_price': 3340.0}";
  assertEquals(parsePythonLiteral(text), {
    aid: "insert_order",
    user_id: "TQSIM",
    order_id: "b8a1abcd1a6916c74da4f9fc3c6da5d7",
    exchange_id: "DCE",
    instrument_id: "jd2005",
    direction: "BUY",
    offset: "OPEN",
    volume: 1,
    volume_condition: "ANY",
    price_type: "LIMIT",
    time_condition: "GFD",
    limit_price: 3340,
  });
});

Deno.test("python literal: __proto__ is an ordinary key, never a prototype", () => {
  const v = parsePythonLiteral("{'__proto__': {'polluted': True}}") as Record<string, unknown>;
  assertEquals(Object.keys(v), ["__proto__"]);
  assertEquals(Object.getPrototypeOf(v), Object.prototype);
  assertEquals((v as { polluted?: unknown }).polluted, undefined);
  assertEquals(({} as { polluted?: unknown }).polluted, undefined);
});

Deno.test("python literal: parse at an offset inside a longer line", () => {
  const line = "2020-04-09 14:12:10,945 - DEBUG - TqSim message received: {'aid': 'peek_message'} tail";
  const start = line.indexOf("{");
  const { value, end } = parsePythonLiteralAt(line, start);
  assertEquals(value, { aid: "peek_message" });
  assertEquals(line.slice(end), " tail");
});

Deno.test("python literal: malformed input is rejected with an offset", () => {
  const bad = [
    "",
    "{'a' 1}",
    "{'a': 1",
    "[1, 2",
    "'unterminated",
    "'line\nbreak'",
    "nul",
    "none",
    "true",
    "NaN",
    "Infinity",
    "{'a': 1} x",
    "{[1]: 2}",
    "{{}: 2}",
    "1.2.3",
    "1e",
    "12abc",
    "007",
    "-",
    "{1, 2}",
    "b'bytes'",
    String.raw`'\x4'`,
    String.raw`'\uZZZZ'`,
    String.raw`'\U00110000'`,
    "__import__('os')",
  ];
  for (const text of bad) {
    const e = assertThrows(() => parsePythonLiteral(text), `accepted ${JSON.stringify(text)}`);
    assert(e instanceof PythonLiteralError, `${JSON.stringify(text)}: ${e}`);
  }
  const err = assertThrows(() => parsePythonLiteral("{'a': ?}"));
  assert(err instanceof PythonLiteralError);
  assertEquals(err.offset, 6);
});

Deno.test("python literal: deep nesting is refused, not a stack overflow", () => {
  assert(assertThrows(() => parsePythonLiteral("[".repeat(100_000))) instanceof PythonLiteralError);
  let expected: unknown = [];
  for (let i = 1; i < 50; i++) expected = [expected];
  assertEquals(parsePythonLiteral("[".repeat(50) + "]".repeat(50)), expected);
});
