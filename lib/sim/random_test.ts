import { assert, assertEquals, assertNotEquals, assertThrows } from "../../tests/assert.ts";
import { createRandom, hashSeed } from "./random.ts";

function take(seed: number, n: number): number[] {
  const r = createRandom(seed);
  return Array.from({ length: n }, () => r.nextUint32());
}

Deno.test("createRandom: same seed gives the same sequence, other seeds differ", () => {
  assertEquals(take(42, 100), take(42, 100));
  assertNotEquals(take(42, 100), take(43, 100));
  assertNotEquals(take(0, 100), take(1, 100));
  for (const x of take(7, 1000)) assert(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
});

Deno.test("Random.next stays in [0, 1)", () => {
  const r = createRandom(9);
  for (let i = 0; i < 10_000; i++) {
    const x = r.next();
    assert(x >= 0 && x < 1);
  }
});

Deno.test("Random.int covers the inclusive range roughly uniformly", () => {
  const r = createRandom(12345);
  const counts = new Map<number, number>();
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const x = r.int(-2, 2);
    assert(Number.isInteger(x) && x >= -2 && x <= 2, `out of range: ${x}`);
    counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  assertEquals([...counts.keys()].sort((a, b) => a - b), [-2, -1, 0, 1, 2]);
  for (const c of counts.values()) assert(Math.abs(c / n - 0.2) < 0.01, `skewed: ${c}`);
  assertEquals(r.int(5, 5), 5);
});

Deno.test("Random.int rejects bad ranges", () => {
  const r = createRandom(1);
  assertThrows(() => r.int(3, 2));
  assertThrows(() => r.int(0.5, 2));
});

Deno.test("hashSeed depends on both the seed and the text", () => {
  const a = hashSeed(1, "SHFE.rb2605");
  assertEquals(a, hashSeed(1, "SHFE.rb2605"));
  assertNotEquals(a, hashSeed(2, "SHFE.rb2605"));
  assertNotEquals(a, hashSeed(1, "SHFE.rb2606"));
  assert(Number.isInteger(a) && a >= 0 && a < 2 ** 32);
});
