import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../tests/assert.ts";
import { RateLimiter, TokenBucket } from "./rate_limits.ts";

function takes(bucket: TokenBucket, nowMs: number, n: number): number {
  let taken = 0;
  for (let i = 0; i < n; i++) if (bucket.tryTake(nowMs)) taken++;
  return taken;
}

Deno.test("TokenBucket: a burst takes exactly `burst` tokens, then refills at the rate", () => {
  const b = new TokenBucket({ ratePerSecond: 10, burst: 5 });
  const t0 = 1_000_000;
  assertEquals(takes(b, t0, 8), 5); // 5 at once, the 6th to 8th refused
  assertEquals(b.msUntilToken(t0), 100);
  assert(!b.tryTake(t0 + 99)); // 0.99 token
  assert(b.tryTake(t0 + 100)); // 1 token after 100 ms at 10/s
  assert(!b.tryTake(t0 + 100));
  assertEquals(b.msUntilToken(t0 + 150), 50);
  // Ten 10-ms steps make one token (no float shortfall).
  for (let i = 1; i < 10; i++) assert(!b.tryTake(t0 + 100 + i * 10), `step ${i}`);
  assert(b.tryTake(t0 + 200));
  // A long quiet spell refills to `burst`, not beyond.
  assertEquals(b.available(t0 + 60_000), 5);
  assertEquals(takes(b, t0 + 60_000, 10), 5);
});

Deno.test("TokenBucket: a steady stream at the rate is never refused, faster is cut to the rate", () => {
  const b = new TokenBucket({ ratePerSecond: 50, burst: 100 });
  // 100 at once, then one every 20 ms for 10 s: all pass.
  assertEquals(takes(b, 0, 100), 100);
  for (let t = 20; t <= 10_000; t += 20) assert(b.tryTake(t), `t=${t}`);
  // 200 requests per second for 1 s on an empty bucket: 50 pass.
  let passed = 0;
  for (let t = 10_005; t < 11_005; t += 5) if (b.tryTake(t)) passed++;
  assertAlmostEquals(passed, 50, 1);
});

Deno.test("TokenBucket: a clock stepping back refills nothing", () => {
  const b = new TokenBucket({ ratePerSecond: 1, burst: 1 });
  assert(b.tryTake(10_000));
  assert(!b.tryTake(5_000));
  assert(!b.tryTake(10_500)); // only 0.5 s after the latest time seen
  assert(b.tryTake(11_000));
});

Deno.test("TokenBucket: rate 0 means the burst only; bad options throw", () => {
  const b = new TokenBucket({ ratePerSecond: 0, burst: 2 });
  assertEquals(takes(b, 0, 5), 2);
  assertEquals(b.msUntilToken(1e9), Infinity);
  assert(assertThrows(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })) instanceof RangeError);
  assert(assertThrows(() => new TokenBucket({ ratePerSecond: -1, burst: 1 })) instanceof RangeError);
  assert(assertThrows(() => new TokenBucket({ ratePerSecond: NaN, burst: 1 })) instanceof RangeError);
});

Deno.test("RateLimiter: separate insert and cancel budgets; refusals name the limit", () => {
  const r = new RateLimiter({ insert_rate_per_s: 2, insert_burst: 3, cancel_rate_per_s: 1, cancel_burst: 1 });
  for (let i = 0; i < 3; i++) assert(r.tryInsert(0).ok);
  const d = r.tryInsert(0);
  assert(!d.ok);
  assertEquals(d.refusal, {
    code: "INSERT_RATE",
    field: "$",
    message: "insert rate limit reached: 2/s with burst 3 (next insert possible in 500 ms)",
  });
  // Inserts used up; cancels are untouched.
  assert(r.tryCancel(0).ok);
  const c = r.tryCancel(0);
  assert(!c.ok);
  assertEquals(c.refusal.code, "CANCEL_RATE");
  assertEquals(
    c.refusal.message,
    "cancel rate limit reached: 1/s with burst 1 (next cancel possible in 1000 ms)",
  );
  assert(r.tryInsert(500).ok);
  assert(r.tryCancel(1000).ok);
});

Deno.test("TokenBucket.refund / RateLimiter.refundInsert: a token given back is usable again, never above burst", () => {
  const b = new TokenBucket({ ratePerSecond: 0, burst: 2 });
  assertEquals(takes(b, 0, 3), 2);
  b.refund();
  assertEquals(takes(b, 0, 2), 1);
  b.refund();
  b.refund();
  b.refund();
  assertEquals(b.available(0), 2);
  const limiter = new RateLimiter({
    insert_rate_per_s: 0,
    insert_burst: 1,
    cancel_rate_per_s: 0,
    cancel_burst: 1,
  });
  assert(limiter.tryInsert(0).ok);
  assert(!limiter.tryInsert(0).ok);
  limiter.refundInsert();
  assert(limiter.tryInsert(0).ok);
  // Only the insert budget: the cancel bucket is untouched.
  assert(limiter.tryCancel(0).ok);
  assert(!limiter.tryCancel(0).ok);
});
