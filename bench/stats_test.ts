import { assertEquals, assertThrows } from "../tests/assert.ts";
import { ms, parseArgs, percentile, signedMs, summarize, table } from "./stats.ts";

Deno.test("percentile: nearest rank", () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assertEquals(percentile(v, 50), 5);
  assertEquals(percentile(v, 90), 9);
  assertEquals(percentile(v, 99), 10);
  assertEquals(percentile(v, 100), 10);
  assertEquals(percentile(v, 0), 1);
  assertEquals(percentile([7], 99), 7);
  assertEquals(Number.isNaN(percentile([], 50)), true);
});

Deno.test("summarize: sorts, skips NaN, mean and max", () => {
  const s = summarize([4, NaN, 1, 3, 2]);
  assertEquals(s, { n: 4, p50: 2, p90: 4, p99: 4, max: 4, mean: 2.5 });
});

Deno.test("ms and table formatting", () => {
  assertEquals(ms(1.234), "1.23");
  assertEquals(ms(12.34), "12.3");
  assertEquals(ms(123.4), "123");
  assertEquals(ms(NaN), "–");
  assertEquals(
    table(["a", "bb"], [["x", "1"], ["yyy", "22"]]),
    "| a   | bb |\n|-----|---:|\n| x   |  1 |\n| yyy | 22 |",
  );
});

Deno.test("parseArgs: names, --quick, stray --", () => {
  assertEquals(parseArgs(["--", "latency", "--quick"], ["latency", "fanout"]), {
    only: ["latency"],
    quick: true,
  });
  assertEquals(parseArgs([], ["latency"]), { only: [], quick: false });
  assertThrows(() => parseArgs(["nope"], ["latency"]));
});

Deno.test("signedMs: a share above the floor reads +x, below it −x", () => {
  assertEquals(signedMs(0.474), "+0.47");
  assertEquals(signedMs(-0.344), "−0.34");
  assertEquals(signedMs(-9.4), "−9.40");
  assertEquals(signedMs(0), "+0.00");
});
