import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { mergePatch, parseFrame } from "./json.ts";

Deno.test("parseFrame reads strict JSON and tolerates bare NaN/Infinity outside strings", () => {
  assertEquals(parseFrame('{"a":1}'), { a: 1 });
  assertEquals(parseFrame('{"a":NaN,"b":-Infinity,"c":Infinity,"d":"NaN Infinity"}'), {
    a: null,
    b: null,
    c: null,
    d: "NaN Infinity",
  });
  assertEquals(parseFrame('{"s":"say \\"NaN\\"","n":NaN}'), { s: 'say "NaN"', n: null });
});

Deno.test("parseFrame never evaluates code", () => {
  assertThrows(() => parseFrame("(function(){globalThis.pwned=1})()"));
  assertThrows(() => parseFrame("{a:1}"));
  assertEquals((globalThis as Record<string, unknown>).pwned, undefined);
});

Deno.test("mergePatch merges, replaces and deletes like RFC 7386", () => {
  const t: Record<string, unknown> = { a: { b: 1, c: 2 }, d: [1, 2], e: 1 };
  mergePatch(t, { a: { b: 3, c: null }, d: [3], e: null, f: { g: 1 } });
  assertEquals(t, { a: { b: 3 }, d: [3], f: { g: 1 } });
});

Deno.test("mergePatch ignores prototype-polluting keys", () => {
  const t: Record<string, unknown> = {};
  mergePatch(t, JSON.parse('{"__proto__":{"polluted":true},"constructor":{"x":1},"ok":1}'));
  assertEquals(t, { ok: 1 });
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
});
