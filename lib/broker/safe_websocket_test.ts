import { assert, assertEquals } from "../../tests/assert.ts";
import { sanitiseFrame, stripDangerousKeys } from "./safe_websocket.ts";

Deno.test("sanitiseFrame passes DIFF frames through as strict JSON", () => {
  const r = sanitiseFrame(
    '{"aid":"rtn_data","data":[{"quotes":{"SHFE.rb2605":{"last_price":NaN,"close":"-"}}}]}',
  );
  assert("text" in r);
  assertEquals(JSON.parse(r.text), {
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
  assert("text" in r);
  assertEquals(JSON.parse(r.text), {
    aid: "rtn_data",
    data: [{ trade: { u: { orders: { o1: { status: "ALIVE" } } } } }],
  });
  assert(!r.text.includes("__proto__") && !r.text.includes("constructor"));
  assertEquals(({} as Record<string, unknown>).x, undefined);
});

Deno.test("stripDangerousKeys keeps ordinary data intact", () => {
  const v = { a: [{ b: 1 }, { prototype: 2, c: 3 }], d: "constructor" };
  assertEquals(stripDangerousKeys(v), { a: [{ b: 1 }, { c: 3 }], d: "constructor" });
});
