import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { createSimClock } from "./clock.ts";

Deno.test("sim clock starts at the configured moment and advances with monotonic time", () => {
  let mono = 1000;
  const clock = createSimClock("2025-12-24T10:00:00+08:00", { monotonicMs: () => mono });
  const start = Date.parse("2025-12-24T02:00:00Z");
  assertEquals(clock.nowMs(), start);
  mono += 1500;
  assertEquals(clock.nowMs(), start + 1500);
  clock.advance(60_000);
  assertEquals(clock.nowMs(), start + 61_500);
  clock.freeze(true);
  mono += 10_000;
  assertEquals(clock.nowMs(), start + 61_500);
  clock.set(start);
  assertEquals(clock.nowMs(), start);
  clock.freeze(false);
  mono += 5;
  assertEquals(clock.nowMs(), start + 5);
});

Deno.test("sim clock 'wall' follows the wall clock; bad text is refused", () => {
  const clock = createSimClock("wall", { wallMs: () => 42, monotonicMs: () => 0 });
  assertEquals(clock.nowMs(), 42);
  assertThrows(() => createSimClock("tomorrow"));
});
