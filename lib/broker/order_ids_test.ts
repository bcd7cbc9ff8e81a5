import { assert, assertEquals, assertMatch, assertThrows } from "../../tests/assert.ts";
import { deriveBrokerOrderId, isValidBrokerOrderId, parseBrokerOrderId, portfolioTag } from "./order_ids.ts";

Deno.test("portfolioTag is the first 8 hex of SHA-256", () => {
  // sha256("demo") = 2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea
  assertEquals(portfolioTag("demo"), "2a97516c");
});

Deno.test("deriveBrokerOrderId is deterministic and has the documented shape", () => {
  const a = deriveBrokerOrderId("demo", "abc-1");
  assertEquals(a, "tbc2a97516c.abc-1");
  assertEquals(deriveBrokerOrderId("demo", "abc-1"), a);
  assertEquals(deriveBrokerOrderId("demo", "abc-1", { suffix: "ct" }), "tbc2a97516c.abc-1~ct");
});

Deno.test("deriveBrokerOrderId: two portfolios, same client id → different ids; distinct inputs → distinct", () => {
  assert(deriveBrokerOrderId("p1", "x") !== deriveBrokerOrderId("p2", "x"));
  const ids = new Set<string>();
  for (const p of ["p1", "p2", "demo"]) {
    for (const c of ["a", "a.b", "a.b.c", "A:1", "z_9"]) {
      ids.add(deriveBrokerOrderId(p, c));
      ids.add(deriveBrokerOrderId(p, c, { suffix: "c" }));
    }
  }
  assertEquals(ids.size, 3 * 5 * 2);
});

Deno.test("derived ids are valid for the gateway even at maximal length", () => {
  const longest = deriveBrokerOrderId("portfolio-with-a-long-name", "x".repeat(64), {
    suffix: "s".repeat(16),
  });
  assertEquals(longest.length, 93);
  assert(isValidBrokerOrderId(longest));
  for (const c of ["a.b:c-d_e", "0", "Z".repeat(64)]) {
    const id = deriveBrokerOrderId("p", c);
    assert(isValidBrokerOrderId(id), id);
    assertMatch(id, /^[A-Za-z0-9_.:~-]+$/);
  }
});

Deno.test("deriveBrokerOrderId refuses client ids and suffixes outside the alphabet", () => {
  for (const bad of ["", "a/b", "a|b", "a=b", "a#b", "a;b", "a b", "x".repeat(65), "中文"]) {
    assertThrows(() => deriveBrokerOrderId("p", bad), bad);
  }
  assertThrows(() => deriveBrokerOrderId("p", "a", { suffix: "a.b" }));
  assertThrows(() => deriveBrokerOrderId("p", "a", { suffix: "" }));
  assertThrows(() => deriveBrokerOrderId("", "a"));
});

Deno.test("parseBrokerOrderId round-trips ours and refuses external or foreign ids", () => {
  assertEquals(parseBrokerOrderId(deriveBrokerOrderId("demo", "a.b.c"), "demo"), { clientOrderId: "a.b.c" });
  assertEquals(parseBrokerOrderId(deriveBrokerOrderId("demo", "a.b", { suffix: "close" }), "demo"), {
    clientOrderId: "a.b",
    suffix: "close",
  });
  // another portfolio's order is not ours
  assertEquals(parseBrokerOrderId(deriveBrokerOrderId("other", "a"), "demo"), null);
  for (
    const ext of ["TQJS_abcdefgh", "PYSDK_insert_0123", "SERVER.1.2.3", "tbc2a97516c.", "tbc2a97516c.a~"]
  ) {
    assertEquals(parseBrokerOrderId(ext, "demo"), null, ext);
  }
});

Deno.test("isValidBrokerOrderId", () => {
  assert(isValidBrokerOrderId("OTG.1.2.3"));
  for (const bad of ["", "a|b", "a/b", "a=b", "a#b", "a;b", "a b", "x".repeat(129)]) {
    assert(!isValidBrokerOrderId(bad), bad);
  }
});
