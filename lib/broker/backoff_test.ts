import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { Backoff } from "./backoff.ts";

Deno.test("backoff doubles from initial to the cap (equal jitter, random 0 → half the base)", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  // bases: 100, 200, 400, 800, 1000, 1000 → halves
  assertEquals([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 400, 500, 500]);
});

Deno.test("backoff equal jitter with random→1 gives (almost) the whole base", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  assertEquals([b.next(), b.next(), b.next()], [100, 200, 400]);
});

Deno.test("backoff full jitter scales the whole base", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 300, jitter: "full", random: () => 0.5 });
  assertEquals([b.next(), b.next(), b.next(), b.next()], [50, 100, 150, 150]);
});

Deno.test("backoff never gives up and reset starts over", () => {
  const b = new Backoff({ initialMs: 50, maxMs: 60_000, random: () => 0 });
  for (let i = 0; i < 5000; i++) {
    const d = b.next();
    assert(d >= 25 && d <= 30_000, `delay ${d}`);
  }
  assertEquals(b.attempt, 5000);
  assertEquals(b.baseDelay(), 60_000);
  b.reset();
  assertEquals(b.attempt, 0);
  assertEquals(b.next(), 25);
});

Deno.test("backoff with Math.random stays inside [base/2, base]", () => {
  const b = new Backoff({ initialMs: 80, maxMs: 640 });
  const bases = [80, 160, 320, 640, 640];
  for (const base of bases) {
    const d = b.next();
    assert(d >= base / 2 && d <= base, `${d} not in [${base / 2}, ${base}]`);
  }
});

Deno.test("backoff rejects nonsense bounds and tolerates a broken random", () => {
  assertThrows(() => new Backoff({ initialMs: 0, maxMs: 10 }));
  assertThrows(() => new Backoff({ initialMs: 100, maxMs: 10 }));
  const b = new Backoff({ initialMs: 100, maxMs: 100, random: () => NaN });
  assertEquals(b.next(), 50);
});
